"""leadsync benchmarks: throughput against vendor rate limits, leanness, and a dlt comparison."""

"""Fake vendor servers for plugin tests, one module per vendor."""

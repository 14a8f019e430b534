"""leadsync: CRM/MA lead sync, scoring and MQL handoff."""

__version__ = "0.1.0"

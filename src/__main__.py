"""`python -m leadsync`."""

from leadsync.core.cli.main import main

main()

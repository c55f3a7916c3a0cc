"""sim connector."""

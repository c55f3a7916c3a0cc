"""The `mm` command line."""

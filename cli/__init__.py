"""The `mm` command line. Command groups live in `cli/cmd_*.py` and register on `cli.main.app`."""

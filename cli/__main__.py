"""`python -m cli` runs the mm command."""

from cli.main import main

main()

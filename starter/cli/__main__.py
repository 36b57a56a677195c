"""`python -m starter.cli`: the same as the `leadflow` command."""

from starter.cli import main

main()

"""`python -m avisa` is the same as the `avisa` command."""

from avisa.cli import main

main()

"""`python -m gandct`: the `gandct` command."""

from gandct.cli import main

main()

"""`python -m digitcli` runs the command-line tool."""

from digitcli.cli import main

main()

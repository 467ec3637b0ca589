"""``python -m netnav`` runs the command line."""

from netnav.cli import main

main()

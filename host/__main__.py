"""``python -m host`` runs the ledhost CLI."""

from host.cli import main

raise SystemExit(main())

"""``python -m host`` runs the ledhost CLI."""

from host.cli.main import main

raise SystemExit(main())

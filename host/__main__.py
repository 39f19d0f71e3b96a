"""``python -m host`` runs the ledhost CLI."""

from host.cli.entry import main

raise SystemExit(main())

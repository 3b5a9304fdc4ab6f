"""``python -m genlab`` runs the CLI."""

from genlab.cli.main import main

raise SystemExit(main())

"""`python -m exports_app …`: the command line (see exports_app.cli)."""

from exports_app.cli import main

raise SystemExit(main())

"""`python -m clipinv.cli`: the command line."""

from clipinv.cli import main

raise SystemExit(main())

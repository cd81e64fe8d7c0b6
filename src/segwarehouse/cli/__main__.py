"""`python -m segwarehouse.cli`: the same as the `segwarehouse` command."""

from segwarehouse.cli import main

raise SystemExit(main())

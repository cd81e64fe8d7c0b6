"""``python -m segwarehouse.bench``: the baseline child process `segwarehouse bench` measures."""

from segwarehouse.bench.baseline import baseline_main

raise SystemExit(baseline_main())

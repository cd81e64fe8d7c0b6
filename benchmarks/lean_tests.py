"""Print the test graph's node counts and any data test that cannot fail (rules in
src/segwarehouse/graph_audit.py), from a manifest written by `dbt parse`:

    .venv/bin/dbt parse --target-path /tmp/graph && \\
        .venv/bin/python benchmarks/lean_tests.py /tmp/graph/manifest.json

Exit status 1 when a redundant test is found.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from segwarehouse import graph_audit


def main(argv: Sequence[str] | None = None) -> int:
    """Counts and redundant tests as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path, nargs="?", default=Path("target/manifest.json"))
    args = parser.parse_args(argv)
    manifest = graph_audit.load_manifest(args.manifest)
    redundant = graph_audit.redundant_tests(manifest)
    report = {
        "counts": graph_audit.node_counts(manifest),
        "tests_by_type": graph_audit.tests_by_type(manifest),
        "redundant": [vars(r) for r in redundant],
    }
    print(json.dumps(report, indent=2))
    return 1 if redundant else 0


if __name__ == "__main__":
    raise SystemExit(main())

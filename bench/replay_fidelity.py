"""Replay fidelity: every Restaurants_1 service call in SGD against a freshly built database.

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/replay_fidelity.py [--show N]

Builds the database from SGD into a temporary file (timing the build), replays every
FindRestaurants call (is each restaurant SGD returned in our full match set? is our 10-result
list SGD's list, in SGD's order?) and every ReserveRestaurant call as a dry run (same
success/failure? same alternative slot?), then prints the percentages and every exception.
The target is 100%; the README's backend section lists and explains the exceptions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.db import make_engine  # noqa: E402
from backend.replay import replay  # noqa: E402
from backend.sgd_builder import build_database  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("RESTO_DATA_DIR"))
    parser.add_argument("--show", type=int, default=100, help="exceptions to print (default 100)")
    args = parser.parse_args(argv)
    if not args.data_dir:
        print("Set RESTO_DATA_DIR (or --data-dir) to the folder holding sgd/.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "resto.db"
        build = build_database(str(db), Path(args.data_dir) / "sgd")
        print("\n".join(build.lines()))
        engine = make_engine(db)
        start = time.perf_counter()
        report = replay(engine, Path(args.data_dir) / "sgd")
        elapsed = time.perf_counter() - start
        engine.dispose()
    print("\n".join(report.lines()))
    calls = report.find_calls + report.reserve_calls
    print(f"replayed {calls} calls in {elapsed:.1f} s ({1000 * elapsed / max(calls, 1):.2f} ms per call)")
    print("exceptions by kind:", dict(Counter(m.kind for m in report.mismatches)))
    for m in report.mismatches[: args.show]:
        print(f"- [{m.kind}] {m.call.dialogue_id} turn {m.call.turn} {m.call.method}"
              f"({m.call.parameters}): {m.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark in bench/ with its default settings, one after another.

    make bench                      # or: .venv/bin/python bench/run_all.py [NAME ...]

Each benchmark prints its own side-by-side measurements and ratios; this only runs them in
turn, so one command reproduces every speed figure quoted in the README. Pass names
(e.g. `latency replay_fidelity`) to run a subset. A benchmark whose prerequisite is missing (the
demo model, for `decision_fit`) exits with SKIPPED (77) and is listed as skipped, not failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIPPED = 77  # automake's "skipped" exit status


def main(argv: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    failed, skipped = [], []
    for script in scripts:
        print(f"\n=== {script.stem} " + "=" * (60 - len(script.stem)), flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        outcome = "skipped" if code == SKIPPED else f"exit {code}"
        print(f"--- {script.stem}: {outcome} in {time.perf_counter() - start:.1f}s", flush=True)
        if code == SKIPPED:
            skipped.append(script.stem)
        elif code:
            failed.append(script.stem)
    if skipped:
        print(f"\nskipped (a prerequisite is missing; see its message): {', '.join(skipped)}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""How often grounded decoding leaves the reference's value within reach (a check of agent.grounding's rules).

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/grounding_coverage.py [--db PATH]

No model is involved: for every expanded S1 test row whose reference is a service call, and every
key of it that grounding constrains, the values `Gazetteer.candidates` allows before that call are
compared with the reference's value:
- reachable: the value is among them, so a model can still write it;
- the only one: it is the single value allowed (grounding has decided the value);
- lost: something is allowed but not the value, so grounding makes that argument wrong;
- free: nothing is grounded, the model writes what it likes (an enum key: its enum).
The database's names come from `--db` (default: the configured restaurant database, when built).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def coverage(rows, gazetteer) -> dict[tuple[str, str], Counter]:
    """(function, key) → counts of reachable / only / lost / free over the service-call rows."""
    from agent.grounding import GROUNDED_KEYS

    out: dict[tuple[str, str], Counter] = {}
    for row in rows:
        answer = json.loads(row.answer)
        if answer["name"] == "respond_to_user":
            continue
        allowed = gazetteer.candidates(json.loads(row.question))
        for key, value in answer["parameters"].items():
            if key not in GROUNDED_KEYS:
                continue
            counts = out.setdefault((answer["name"], key), Counter())
            values = allowed.get(key)
            counts["rows"] += 1
            if not values:
                counts["free"] += 1
            elif value in values:
                counts["reachable"] += 1
                if values == [value]:
                    counts["only"] += 1
            else:
                counts["lost"] += 1
    return out


def main() -> int:
    from agent.grounding import Gazetteer
    from agent.settings import Settings
    from backend.errors import UserError
    from eval.expand import expand_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="restaurant database (default: the configured one)")
    args = parser.parse_args()
    settings = Settings(**({"db": args.db} if args.db else {}))
    try:
        gazetteer = Gazetteer.from_url(settings.db_url)
    except UserError as exc:
        print(f"{exc} Names are grounded from tool results only.")
        gazetteer = Gazetteer()
    test = settings.benchmark_dir() / "scenario-1-baseline" / "tft" / "test.jsonl"
    table = coverage(expand_file(test).rows, gazetteer)
    print("| function | key | rows | reachable | the only one | lost | free |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (function, key), c in sorted(table.items()):
        print(f"| {function} | {key} | {c['rows']} | {c['reachable']} | {c['only']} | {c['lost']} | {c['free']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

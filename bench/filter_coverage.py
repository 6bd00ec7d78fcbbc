"""How well agent.filters reads a user's search filters (price range, live music, alcohol) from their words.

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/filter_coverage.py

No model is involved. Two tables:
1. SGD's own annotations. Every user turn of a Restaurants_1 dialogue in SGD's train split (the
   restaurant turns of the multi-domain dialogues as their own row: the phrases in agent.filters were
   chosen on the single-domain ones) is read by `spoken_filters` and compared, per filter, with the
   turn's INFORM acts: right, a wrong value, missed (SGD annotates one, the rules find none), spurious
   (the rules find one SGD does not annotate). A "dontcare" INFORM is the user lifting the filter.
2. The benchmark's test searches. For each of the expanded S1 test rows whose reference is a
   FindRestaurants call, the filter keys grounded decoding would write (`Gazetteer.candidates` before
   the call) against the reference call's: the same key set, and the same values.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def annotated_turns(sgd_dir: Path):
    """(single_domain, utterance, {filter: value or None}) for every Restaurants_1 user turn of the train split."""
    from agent.filters import FILTER_KEYS
    from train.sgd_traces import iter_dialogues, select_dialogues

    for dialogue in select_dialogues(iter_dialogues(sgd_dir, "train")):
        single = dialogue.services == ["Restaurants_1"]
        for turn in dialogue.turns:
            frames = [f for f in turn["frames"] if f["service"] == "Restaurants_1"]
            if turn["speaker"] != "USER" or not frames:
                continue
            said = {
                act["slot"]: None if act["values"][0] == "dontcare" else act["values"][0]
                for frame in frames
                for act in frame["actions"]
                if act["act"] == "INFORM" and act["slot"] in FILTER_KEYS and act["values"]
            }
            yield single, turn["utterance"], said


def annotation_agreement(turns) -> dict[tuple[str, str], Counter]:
    """(turns, filter) → right / wrong value / missed / spurious."""
    from agent.filters import FILTER_KEYS, spoken_filters

    out: dict[tuple[str, str], Counter] = {}
    for single, utterance, said in turns:
        found = spoken_filters(utterance)
        for key in FILTER_KEYS:
            counts = out.setdefault(("single-domain" if single else "multi-domain", key), Counter())
            if key in said and key in found:
                counts["right" if said[key] == found[key] else "wrong"] += 1
            elif key in said:
                counts["missed"] += 1
            elif key in found:
                counts["spurious"] += 1
    return out


def test_searches(rows) -> Counter:
    """Over the FindRestaurants reference rows: how the grounded filter keys compare with the reference's."""
    from agent.filters import FILTER_KEYS
    from agent.grounding import Gazetteer

    gazetteer, counts = Gazetteer(), Counter()
    for row in rows:
        answer = json.loads(row.answer)
        if answer["name"] != "FindRestaurants":
            continue
        grounded = gazetteer.candidates(json.loads(row.question), keys=FILTER_KEYS)
        reference = {k: v for k, v in answer["parameters"].items() if k in FILTER_KEYS}
        counts["rows"] += 1
        counts["with a filter"] += bool(reference)
        counts["same keys"] += grounded.keys() == reference.keys()
        counts["same keys and values"] += {k: v[0] for k, v in grounded.items()} == reference
        counts["a key missing"] += bool(reference.keys() - grounded.keys())
        counts["a key added"] += bool(grounded.keys() - reference.keys())
    return counts


def main() -> int:
    from agent.settings import Settings
    from eval.expand import expand_file

    settings = Settings()
    table = annotation_agreement(annotated_turns(settings.sgd_dir()))
    print("SGD train user turns (Restaurants_1) against their INFORM annotations:\n")
    print("| turns | filter | right | wrong value | missed | spurious | precision | recall |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (turns, key), c in sorted(table.items(), reverse=True):
        found, said = c["right"] + c["wrong"] + c["spurious"], c["right"] + c["wrong"] + c["missed"]
        precision = f"{c['right'] / found:.3f}" if found else "—"
        recall = f"{c['right'] / said:.3f}" if said else "—"
        print(f"| {turns} | {key} | {c['right']} | {c['wrong']} | {c['missed']} | {c['spurious']} | {precision} | {recall} |")
    test = settings.benchmark_dir() / "scenario-1-baseline" / "tft" / "test.jsonl"
    c = test_searches(expand_file(test).rows)
    print("\nThe benchmark's S1 test searches (FindRestaurants reference rows), grounded filter keys vs the reference's:\n")
    print("| rows | with a filter | same keys | same keys and values | a key missing | a key added |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| {c['rows']} | {c['with a filter']} | {c['same keys']} | {c['same keys and values']} | "
          f"{c['a key missing']} | {c['a key added']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

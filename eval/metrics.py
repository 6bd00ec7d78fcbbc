"""The TFT benchmark's per-row metrics, reproduced exactly.

Parsing (the benchmark's rule, deliberately NOT `agent.parse`, which is more forgiving):
strip whitespace; if the string contains `<tool_call>…</tool_call>` the inner text is parsed as
JSON, otherwise the whole string is; the call is `name` plus `arguments` (or, when absent,
`parameters`). Empty text, invalid JSON, a non-object, or an object without a string `name`
→ no call. Arguments that are missing or null count as `{}`; arguments of any other non-object
type are kept as they are (they then equal nothing but the same value).

- `staged_tool_call`: 0 if either side has no call; 0.25 both parse; 0.5 names equal;
  0.75 also argument key sets equal; 1.0 also argument dicts equal (values compared exactly).
- `binary_tool_call`: 1 if names and argument dicts are equal, else 0.
- `tool_call_equivalence`: as binary, after dropping every argument equal to its schema default.
- `rouge`: ROUGE-L F-measure with stemming (`rouge-score`, `rougeL`, `use_stemmer=True`) on the
  raw answer and prediction strings.

Schema defaults: the benchmark's tool schemas (job_description.json) carry no defaults; they
come from the SGD schema the tools were made from (`sgd/train/schema.json`, service
`Restaurants_1`, each intent's `optional_slots`): ReserveRestaurant date "2019-03-01" (SGD's
"today") and party_size "2"; FindRestaurants price_range / has_live_music / serves_alcohol
"dontcare". `SCHEMA_DEFAULTS` holds them; a test checks them against the SGD file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TOOL_CALL_RE = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)

SCHEMA_DEFAULTS: dict[str, dict[str, str]] = {
    "ReserveRestaurant": {"date": "2019-03-01", "party_size": "2"},
    "FindRestaurants": {
        "price_range": "dontcare",
        "has_live_music": "dontcare",
        "serves_alcohol": "dontcare",
    },
}

TOOL_METRICS = ("staged_tool_call", "tool_call_equivalence", "binary_tool_call", "rouge")
JUDGE_METRIC = "llm-as-a-judge"


@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: Any  # a dict unless the text carried some other JSON value


def parse_call(text: Any) -> ParsedCall | None:
    """The benchmark's parser: a call, or None for empty / unparseable text."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text:
        return None
    match = TOOL_CALL_RE.search(text)
    if match:
        text = match.group(1).strip()
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj["arguments"] if "arguments" in obj else obj.get("parameters")
    return ParsedCall(obj["name"], {} if args is None else args)


def _keys(args: Any) -> frozenset:
    return frozenset(args) if isinstance(args, dict) else frozenset()


def staged_tool_call(answer: str, prediction: str) -> float:
    ref, pred = parse_call(answer), parse_call(prediction)
    if ref is None or pred is None:
        return 0.0
    if ref.name != pred.name:
        return 0.25
    if _keys(ref.arguments) != _keys(pred.arguments):
        return 0.5
    if ref.arguments != pred.arguments:
        return 0.75
    return 1.0


def binary_tool_call(answer: str, prediction: str) -> float:
    ref, pred = parse_call(answer), parse_call(prediction)
    if ref is None or pred is None:
        return 0.0
    return float(ref.name == pred.name and ref.arguments == pred.arguments)


def drop_defaults(name: str, args: Any, defaults: dict[str, dict[str, str]] | None = None) -> Any:
    """`args` without the entries equal to their schema default (non-dicts are returned as is)."""
    table = (SCHEMA_DEFAULTS if defaults is None else defaults).get(name, {})
    if not isinstance(args, dict):
        return args
    return {k: v for k, v in args.items() if not (k in table and v == table[k])}


def tool_call_equivalence(answer: str, prediction: str) -> float:
    ref, pred = parse_call(answer), parse_call(prediction)
    if ref is None or pred is None or ref.name != pred.name:
        return 0.0
    return float(drop_defaults(ref.name, ref.arguments) == drop_defaults(pred.name, pred.arguments))


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge(answer: str, prediction: str) -> float:
    return float(_rouge_scorer().score(answer or "", prediction or "")["rougeL"].fmeasure)


METRIC_FUNCTIONS = {
    "staged_tool_call": staged_tool_call,
    "tool_call_equivalence": tool_call_equivalence,
    "binary_tool_call": binary_tool_call,
    "rouge": rouge,
}


def score_pair(answer: str, prediction: str) -> dict[str, float]:
    return {name: fn(answer, prediction) for name, fn in METRIC_FUNCTIONS.items()}


def function_name(text: str) -> str:
    """The called function's name, or "(no call)" when the text is no call (confusion matrices)."""
    call = parse_call(text)
    return call.name if call is not None else "(no call)"


def sgd_schema_defaults(sgd_dir: str | Path, service: str = "Restaurants_1") -> dict[str, dict[str, str]]:
    """The optional-slot defaults of `service` read from an SGD schema.json (the source of
    SCHEMA_DEFAULTS)."""
    for split in ("train", "dev", "test"):
        path = Path(sgd_dir) / split / "schema.json"
        if not path.exists():
            continue
        for svc in json.loads(path.read_text()):
            if svc["service_name"] == service:
                return {intent["name"]: dict(intent["optional_slots"]) for intent in svc["intents"]}
    raise FileNotFoundError(f"service {service} not found in any schema.json under {sgd_dir}")

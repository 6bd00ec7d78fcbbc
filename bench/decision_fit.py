"""How well a model fits its training decisions vs held-out ones (a diagnostic for overfitting).

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/decision_fit.py [MODEL_DIR] [--train 60]

MODEL_DIR defaults to the demo model (`resto model demo`); without one it says so and exits with
`SKIPPED` (77), which `bench/run_all.py` reports as skipped rather than failed.

Teacher-forced on whole conversations rendered as in training: for every assistant turn, is the
function name predicted token by token (argmax) exactly right, given the gold history? And for
every argument value of a service call (FindRestaurants, ReserveRestaurant), is every token of it
right: the values are copied from the conversation (a city the user said, a name from a tool
result), so this is the copying a memorising model lacks. Measured on
the first N S1 training conversations and on the 40 held-out S1 dialogues (which hold the
benchmark's 34 test conversations), side by side, with the mean loss per supervised token on each.
A model that gets its training decisions right but not the held-out ones is memorising, not
learning the policy; that is what this prints for the demo model (README, train section).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_all import SKIPPED  # noqa: E402  (77: a prerequisite is missing)


def turn_runs(mask: list[bool]) -> list[list[int]]:
    """Index runs of consecutive True positions (one per assistant turn)."""
    runs: list[list[int]] = []
    for i, on in enumerate(mask):
        if on and runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        elif on:
            runs.append([i])
    return runs


def value_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the argument values of the service calls (not respond_to_user) in an
    assistant output, found as the template writes them: `"key": <json value>`."""
    import json

    from eval.metrics import parse_call

    call = parse_call(text)
    if call is None or call.name == "respond_to_user" or not isinstance(call.arguments, dict):
        return []
    spans = []
    for key, value in call.arguments.items():
        pair = f"{json.dumps(key)}: {json.dumps(value)}"
        at = text.find(pair)
        if at != -1:
            start = at + len(json.dumps(key)) + 2
            spans.append((start, start + len(json.dumps(value))))
    return spans


def fit(model, tokenizer, traces) -> dict[str, float]:
    """Teacher-forced fit of the model on the traces: decision accuracy (function name right),
    value accuracy (every token of a service call's argument value right: copying from context),
    loss per supervised token, turns, values, and the share of supervised tokens that
    `train.decision_tokens` marks as decisions."""
    import torch

    from agent.render import RenderConfig, render_training_tokens
    from train.decision_tokens import decision_mask
    from train.finetune import default_tools

    right = turns = marked = values = values_right = 0
    loss_sum, tokens = 0.0, 0
    for trace in traces:
        rendered = render_training_tokens(tokenizer, trace.messages, default_tools(), RenderConfig())
        marked += sum(decision_mask(rendered))
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([rendered.input_ids])).logits[0, :-1]
        targets = torch.tensor(rendered.labels[1:])
        keep = targets != -100
        loss_sum += torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="sum").item()
        tokens += int(keep.sum())
        hit = (logits.argmax(-1) == targets).tolist()
        for run in turn_runs(keep.tolist()):
            gold = targets[run].tolist()
            # the tokens up to and including the one that completes `"name": "<function>"`
            upto = len(gold)
            for k in range(1, len(gold) + 1):
                text = tokenizer.decode(gold[:k])
                if '"name": "' in text and '"' in text.split('"name": "', 1)[1]:
                    upto = k
                    break
            turns += 1
            right += all(hit[i] for i in run[:upto])
        for s, e in rendered.spans:
            for a, b in value_spans(rendered.text[s:e]):
                # target index i - 1 predicts token i; tokens overlapping the value's characters
                covered = [i - 1 for i, (ts, te) in enumerate(rendered.offsets) if ts < s + b and te > s + a and i]
                values += 1
                values_right += bool(covered) and all(hit[i] for i in covered)
    return {
        "decision_acc": right / max(turns, 1),
        "value_acc": values_right / max(values, 1),
        "loss": loss_sum / max(tokens, 1),
        "turns": turns,
        "values": values,
        "decision_share": marked / max(tokens, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", help="model directory (default: the demo model)")
    parser.add_argument("--train", type=int, default=60, help="S1 training conversations to score")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from agent.settings import DataDirError, Settings

    settings = Settings()
    model_dir = args.model or settings.demo_model_dir
    if not (model_dir / "config.json").exists():
        hint = "" if args.model else " (the default, the demo model: train it with `resto model demo`)"
        print(f"decision_fit: no model at {model_dir}{hint}", file=sys.stderr)
        return SKIPPED
    try:  # the project's own rule and message (RESTO_DATA_DIR)
        data_dir = settings.require_data_dir()
    except DataDirError as exc:
        print(exc, file=sys.stderr)
        return 2

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.sgd_traces import dialogue_to_trace, s1_split

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    train, held_out = s1_split(data_dir / "sgd")
    print(f"model: {model_dir}")
    print(f"{'conversations':28} {'turns':>6} {'decision acc.':>13} {'values':>6} {'value acc.':>10} "
          f"{'loss/token':>10} {'decision tokens':>15}")
    results = []
    for name, dialogues in ((f"S1 training (first {args.train})", train[: args.train]), ("S1 held out (40)", held_out)):
        r = fit(model, tokenizer, [dialogue_to_trace(d) for d in dialogues])
        results.append(r)
        print(f"{name:28} {r['turns']:6d} {r['decision_acc']:13.3f} {r['values']:6d} {r['value_acc']:10.3f} "
              f"{r['loss']:10.3f} {r['decision_share']:15.1%}")
    trained, held = results
    print(f"gap: decisions {trained['decision_acc'] - held['decision_acc']:+.3f}, values "
          f"{trained['value_acc'] - held['value_acc']:+.3f}, loss held-out / training {held['loss'] / trained['loss']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

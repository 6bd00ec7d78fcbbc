"""How well a model fits its training decisions vs held-out ones (a diagnostic for overfitting).

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/decision_fit.py MODEL_DIR [--train 60]

Teacher-forced on whole conversations rendered as in training: for every assistant turn, is the
function name predicted token by token (argmax) exactly right, given the gold history? Measured on
the first N S1 training conversations and on the 40 held-out S1 dialogues (which hold the
benchmark's 34 test conversations), side by side, with the mean loss per supervised token on each.
A model that gets its training decisions right but not the held-out ones is memorising, not
learning the policy; that is what this prints for the demo model (README, train section).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def turn_runs(mask: list[bool]) -> list[list[int]]:
    """Index runs of consecutive True positions (one per assistant turn)."""
    runs: list[list[int]] = []
    for i, on in enumerate(mask):
        if on and runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        elif on:
            runs.append([i])
    return runs


def fit(model, tokenizer, traces) -> tuple[float, float, int, float]:
    """(decision accuracy, loss per supervised token, turns, share of supervised tokens that
    `train.decision_tokens` marks as decisions) of the model on the traces."""
    import torch

    from train.dataset import build_examples
    from train.finetune import default_tools

    # any weight other than 1 makes build_examples mark the decision tokens
    examples, _ = build_examples(tokenizer, traces, default_tools(), decision_weight=2.0)
    marked = sum(w == 2.0 for ex in examples for w in ex.weights)
    right = turns = 0
    loss_sum, tokens = 0.0, 0
    for ex in examples:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ex.input_ids])).logits[0, :-1]
        targets = torch.tensor(ex.labels[1:])
        keep = targets != -100
        loss_sum += torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="sum").item()
        tokens += int(keep.sum())
        predicted = logits.argmax(-1)
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
            right += bool((predicted[run[:upto]] == targets[run[:upto]]).all())
    return right / max(turns, 1), loss_sum / max(tokens, 1), turns, marked / max(tokens, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--train", type=int, default=60, help="S1 training conversations to score")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data_dir = os.environ.get("RESTO_DATA_DIR")
    if not data_dir or not Path(data_dir, "sgd").is_dir():
        print("set RESTO_DATA_DIR to the data folder (with sgd/)", file=sys.stderr)
        return 2

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.sgd_traces import dialogue_to_trace, s1_split

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    train, held_out = s1_split(Path(data_dir) / "sgd")
    print(f"model: {args.model}")
    print(f"{'conversations':28} {'turns':>6} {'decision acc.':>13} {'loss/token':>10} {'decision tokens':>15}")
    results = {}
    for name, dialogues in ((f"S1 training (first {args.train})", train[: args.train]), ("S1 held out (40)", held_out)):
        acc, loss, turns, share = fit(model, tokenizer, [dialogue_to_trace(d) for d in dialogues])
        results[name] = (acc, loss)
        print(f"{name:28} {turns:6d} {acc:13.3f} {loss:10.3f} {share:15.1%}")
    (train_acc, train_loss), (held_acc, held_loss) = results.values()
    print(f"gap: decisions {train_acc - held_acc:+.3f}, loss held-out / training {held_loss / train_loss:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does a demo-size Qwen3 learn to copy at all on a CPU budget? A synthetic induction probe.

    .venv/bin/python bench/induction_probe.py [MODEL_DIR] [--steps 1600] [--batch 16] [--length 256]
                                              [--lr 3e-3] [--pool 0] [--qk-norm W] [--threads 2] [--save DIR]

MODEL_DIR is a randomly initialised demo member (default `$RESTO_HOME/runs/demo/member-0/base`, which
any `resto model demo` writes first; without it this says so and exits SKIPPED, 77), or any causal LM
directory with a tokenizer in it or in its parent.

Why: the demo model never copies an argument value from the conversation (0 restaurant names right of
40-44 bookings in every run, docs/demo-model.md), whatever the data or loss. Copying in a transformer
is an induction circuit (a previous-token head feeding a head that attends to the token after an
earlier occurrence of the current one). This asks whether the architecture forms one from scratch in
a CPU budget on the easiest task there is: each sequence is random tokens followed by the same tokens
again (then random filler), so every token of the repeat after its first is predictable by copying
and by nothing else. It trains the model on full-sequence LM loss (AdamW, 50 warm-up steps, gradient
clipping at 1) and prints, every `--every` steps, the copy accuracy on 32 fixed held-out sequences:
the share of repeat tokens (after the first) the model's argmax gets right. Chance is 1 / pool size.

`--pool N` draws the tokens from the first N non-special ids only (0 = the whole vocabulary);
`--qk-norm W` sets every q_norm / k_norm weight to W first (Qwen3 normalises queries and keys, which
bounds how sharp attention can be at init; without it the model's own weights are kept). `--save DIR`
writes the trained model with its tokenizer (a copy-warmed init, as the warm-up experiment of
docs/demo-model.md used one); without it nothing is saved. A hand-written loop: this is a probe of
the architecture, not a training recipe.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_all import SKIPPED  # noqa: E402  (77: a prerequisite is missing)


def repeat_sequence(rng: random.Random, pool: list[int], length: int) -> tuple[list[int], list[bool]]:
    """Random tokens, the same tokens again, random filler: (ids, which positions a copy predicts)."""
    n = rng.randint(length // 4, length // 2)
    first = [rng.choice(pool) for _ in range(n)]
    ids = (first + first + [rng.choice(pool) for _ in range(length)])[:length]
    # the repeat's first token cannot be known; the n - 1 after it are copies
    copied = ([False] * (n + 1) + [True] * (n - 1) + [False] * length)[:length]
    return ids, copied


def copy_accuracy(model, sequences: list[tuple[list[int], list[bool]]]) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        ids = torch.tensor([s[0] for s in sequences])
        copied = torch.tensor([s[1] for s in sequences])[:, 1:]
        predicted = model(input_ids=ids).logits.argmax(-1)[:, :-1]
        right = (predicted == ids[:, 1:]) & copied
    model.train()
    return (right.sum() / copied.sum()).item()


def probe(model, pool: list[int], steps: int, batch: int, length: int, lr: float, every: int, seed: int = 0):
    """Train on repeat sequences; yields (step, seconds, copy accuracy) every `every` steps and at the end."""
    import torch

    rng = random.Random(seed)
    held_out = [repeat_sequence(random.Random(10_000 + i), pool, length) for i in range(32)]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50))
    start = time.time()
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            yield step, time.time() - start, copy_accuracy(model, held_out)
        if step == steps:
            break
        ids = torch.tensor([repeat_sequence(rng, pool, length)[0] for _ in range(batch)])
        model(input_ids=ids, labels=ids).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        warm.step()
        opt.zero_grad()


def tokenizer_dir(model_dir: Path) -> Path:
    """Where the tokenizer is: the model's directory, or its parent (a demo member's `base` shares
    the run's tokenizer)."""
    return model_dir if (model_dir / "tokenizer.json").exists() else model_dir.parent


def load(model_dir: Path, qk_norm: float | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir(model_dir))
    if qk_norm is not None:
        for name, param in model.named_parameters():
            if "q_norm" in name or "k_norm" in name:
                param.data.fill_(qk_norm)
    specials = set(tokenizer.all_special_ids)
    return model, [i for i in range(len(tokenizer)) if i not in specials]


def save(model, model_dir: Path, out: Path) -> None:
    """`out`: the trained weights with the tokenizer: a directory `from_pretrained` loads."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tokenizer_dir(model_dir)).save_pretrained(out)
    model.save_pretrained(out)


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", help="default: RESTO_HOME/runs/demo/member-0/base")
    parser.add_argument("--steps", type=int, default=1600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--pool", type=int, default=0, help="draw tokens from the first N non-special ids (0 = all)")
    parser.add_argument("--qk-norm", type=float, help="set every q_norm / k_norm weight to this first (default: keep the model's)")
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save", type=Path, help="write the trained model (and the tokenizer) here")
    args = parser.parse_args()
    if args.model is None:
        from agent.settings import Settings

        args.model = Settings().runs_dir / "demo" / "member-0" / "base"
    if not (args.model / "config.json").exists():
        print(f"SKIPPED: no model in {args.model} (run `resto model demo --steps 1` to make a demo member's init)")
        return SKIPPED
    torch.set_num_threads(args.threads)
    model, pool = load(args.model, args.qk_norm)
    pool = pool[: args.pool] if args.pool else pool
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, {len(pool)} tokens "
          f"(chance {1 / len(pool):.3g}), {args.batch} x {args.length} tokens a step")
    for step, seconds, accuracy in probe(model, pool, args.steps, args.batch, args.length, args.lr, args.every):
        print(f"step {step:5d}  {seconds:6.0f} s  copy accuracy {accuracy:.3f}", flush=True)
    if args.save:
        save(model, args.model, args.save)
        print(f"saved to {args.save}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training throughput of one demo model on all cores vs N models at once (`resto model demo --members N`).

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/member_threads.py [--members 2] [--batches 6]

Same model (`agent.tiny`'s default ~4M-parameter architecture, the former single demo model, and its tokenizer trained on the rendered
S1 conversations), same batches (S1 conversations spread over the length distribution as
`train.demo.calibration_examples` picks them, 2 per step, shared prefix, the precision `resto model
demo` would pick), timed with the demo's own calibration
(`train.demo.calibrate_conversations_per_second`: forward + backward + AdamW step) side by side:
1. one process using every core (what `resto model demo` runs);
2. `--members` processes at the same time, the cores split between them (what `--members N` runs).
Prints conversations/s of each, their sum and the ratios: the sum over the single process says how
much more the cores get done when split, one member over the single process says what share of a
single model's epochs each member gets in the same minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(model_dir: str, threads: int, batches: int, bf16: bool) -> None:
    import torch
    from transformers import AutoTokenizer

    from train.demo import calibrate_conversations_per_second, calibration_examples
    from train.sgd_traces import s1_traces

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    traces = s1_traces(Path(os.environ["RESTO_DATA_DIR"]) / "sgd")
    examples = calibration_examples(tokenizer, traces, batch_size=2, batches=batches)
    cps = calibrate_conversations_per_second(Path(model_dir), examples, batch_size=2, batches=batches, bf16=bf16)
    print(json.dumps({"threads": threads, "cps": cps}), flush=True)


def has_bf16_instructions() -> bool:
    """AVX512-BF16 or AMX: where `resto model demo`'s calibration picks bf16 autocast."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def spawn(model_dir: Path, threads: int, batches: int, bf16: bool) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    args = [sys.executable, __file__, "--worker", str(model_dir), "--threads", str(threads), "--batches", str(batches)]
    return subprocess.Popen([*args, *(["--bf16"] if bf16 else [])], stdout=subprocess.PIPE, text=True, env=env)


def result(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"worker failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])["cps"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--batches", type=int, default=6, help="timed batches per measurement (after one warm-up)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.batches, args.bf16)
        return 0
    data_dir = os.environ.get("RESTO_DATA_DIR")
    if not data_dir or not Path(data_dir, "sgd").is_dir():
        print("set RESTO_DATA_DIR to the data directory (it holds sgd/): the bench times S1 conversations")
        return 2

    from agent.tiny import TinyConfig, build_tiny_model, rendered_corpus
    from train.demo_members import available_cores, threads_per_member
    from train.finetune import default_tools
    from train.sgd_traces import s1_traces

    cores = available_cores()
    per_member = threads_per_member(args.members, cores)
    with tempfile.TemporaryDirectory() as tmp:
        traces = s1_traces(Path(data_dir) / "sgd")
        model_dir = build_tiny_model(Path(tmp) / "demo", TinyConfig(), texts=rendered_corpus([t.messages for t in traces], default_tools()))
        bf16 = has_bf16_instructions()
        print(f"{cores} cores; S1 conversations, batch 2, {'bf16 autocast' if bf16 else 'fp32'}, {args.batches} timed batches each")
        single = result(spawn(model_dir, cores, args.batches, bf16))
        procs = [spawn(model_dir, per_member, args.batches, bf16) for _ in range(args.members)]
        each = [result(p) for p in procs]
    total = sum(each)
    print(f"one process, {cores} threads:        {single:.2f} conversations/s")
    print(f"{args.members} processes at once, {per_member} thread(s) each: "
          + " + ".join(f"{c:.2f}" for c in each) + f" = {total:.2f} conversations/s")
    print(f"all members / one process: {total / single:.2f}x; one member / one process: {min(each) / single:.2f}-{max(each) / single:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

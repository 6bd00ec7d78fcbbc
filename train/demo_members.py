"""`resto model demo --members N`: N demo models trained at the same time, shipped as one ensemble.

    resto model demo                              # the default: two 3 x 192 models, a core each, one ensemble
    resto model demo --members 2 --minutes 20   # two models, one core each, 20 minutes, one ensemble

Why: runs of the demo recipe that differ only in their seed make different mistakes (function-name
accuracy 0.928-0.950 over four seeds), and the ensemble (agent.ensemble: the mean of the members'
log-probabilities at every decoding step) cancels part of them. Why at the same time rather than one
after the other: a 4M-parameter model keeps two cores only partly busy, so two processes of one
thread each get through as many or more conversations per second as one process on two threads
(bench/member_threads.py: 1.05x on calibration batches; whole 20-minute runs: 2 x 1.40 vs 2.27-2.47),
and each member gets 52-62% of a single model's epochs in the same minutes. Two 3.7M models as one
scored where one does; two 1.7M ones (3 layers, hidden 192) train in one 3.7M model's time and score
higher, so they are the default (train.demo.DEMO_MEMBERS; docs/demo-model.md). The budget is each
member's, like a single run's: 8.5 epochs each of two 3.7M members take 1.6-1.9 times a single
model's time (each trains at 52-62% of its rate), of two 1.7M members about the same time.

Each member is an ordinary demo run in `runs/demo/member-i` (its own checkpoints, so an interrupted
run resumes per member) with seed `seed + i` for its data order and its random init; all share the
tokenizer built once in `runs/demo/base`. Member 0 prints its progress here; the others write
theirs to `runs/demo/member-i/train.log`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from agent.settings import Settings


class MemberFailed(RuntimeError):
    """A member's training process exited with an error."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_member(members: int, cores: int | None = None) -> int:
    return max(1, (cores or available_cores()) // members)


def member_base(shared_base: Path, member_dir: Path, seed: int) -> Path:
    """`member_dir/base`: the shared tokenizer and architecture with a random init drawn from
    `seed` (the init a single demo run with that seed starts from). Kept on resume."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    base = member_dir / "base"
    if (base / "config.json").exists():
        return base
    tmp = member_dir / "base.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(shared_base, tmp, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(shared_base))
    model.generation_config = GenerationConfig.from_pretrained(shared_base)
    model.save_pretrained(tmp)
    tmp.rename(base)
    return base


def _member_main(settings: Settings, config_json: str, index: int, threads: int, run_dir: str) -> None:
    """One member, in its own process (spawned: a fresh interpreter, so torch's thread count holds)."""
    import torch

    from train.demo import DemoConfig, train_one

    torch.set_num_threads(threads)
    config = DemoConfig.model_validate_json(config_json)
    member_dir = Path(run_dir) / f"member-{index}"
    member_dir.mkdir(parents=True, exist_ok=True)
    if index > 0:  # one progress bar on the console; the other members log to a file
        log = os.open(member_dir / "train.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
    member_base(Path(run_dir) / "base", member_dir, config.tiny.seed + index)
    member = config.model_copy(update={"members": 1, "seed": config.seed + index})
    shipped, metrics = train_one(settings, member, member_dir)
    (member_dir / "shipped.json").write_text(json.dumps({"dir": str(shipped), "metrics": metrics}, default=str))


def train_members(settings: Settings, config, run_dir: Path) -> tuple[list[Path], list[dict]]:
    """Train `config.members` members in parallel processes; returns the directories to ship (one
    per member, in order) and each member's metrics. Raises MemberFailed naming the member's log."""
    import multiprocessing

    threads = threads_per_member(config.members)
    print(f"training {config.members} members at once, {threads} thread(s) each; members 1-{config.members - 1} "
          f"log to {run_dir}/member-i/train.log", flush=True)
    context = multiprocessing.get_context("spawn")
    procs = []
    for index in range(config.members):
        shipped = run_dir / f"member-{index}" / "shipped.json"
        shipped.unlink(missing_ok=True)
        proc = context.Process(
            target=_member_main, args=(settings, config.model_dump_json(), index, threads, str(run_dir)), daemon=False
        )
        proc.start()
        procs.append(proc)
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:  # Ctrl-C reaches the members too; wait so their checkpoints are whole
        for proc in procs:
            proc.join()
        raise
    failed = [i for i, proc in enumerate(procs) if proc.exitcode != 0]
    if failed:
        where = {i: "its output is above" if i == 0 else f"log: {run_dir / f'member-{i}' / 'train.log'}" for i in failed}
        logs = ", ".join(f"member {i} (exit {procs[i].exitcode}; {where[i]})" for i in failed)
        raise MemberFailed(f"training failed for {logs}; run the same command again to resume the members")
    results = [json.loads((run_dir / f"member-{i}" / "shipped.json").read_text()) for i in range(config.members)]
    return [Path(r["dir"]) for r in results], [r["metrics"] for r in results]

"""`resto eval tasks`: closed-loop episodes (see eval/tasks.py for the rules).

    resto eval tasks (--model PATH_OR_HUB_ID [--adapter DIR] | --endpoint URL [--endpoint-model NAME]
                      | --replay)
                     [--test FILE] [--limit N] [--trials 4] [--temperature 0.7] [--no-confirm-bookings]
                     [--user-endpoint URL --user-model NAME] --out DIR

Writes DIR/episodes.jsonl (one line per episode, as it finishes), DIR/tasks.json and DIR/tasks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

from agent.grounding import HELP as GROUNDED_HELP
from agent.grounding import Gazetteer
from agent.settings import Settings
from backend.errors import UserError


def _default_test(settings: Settings) -> Path:
    return settings.benchmark_dir() / "scenario-1-baseline" / "tft" / "test.jsonl"


def register_tasks(group: argparse._SubParsersAction) -> None:
    p = group.add_parser(
        "tasks", help="closed-loop episodes: a simulated user, the real agent loop, a fresh DB"
    )
    src = p.add_argument_group("agent model (one of)")
    src.add_argument("--model", help="hub id or local model directory (default: RESTO_MODEL)")
    src.add_argument("--adapter", help="PEFT LoRA adapter directory")
    src.add_argument("--device", help="cuda / cpu (default: cuda when available)")
    src.add_argument("--endpoint", help="OpenAI-compatible base URL instead of a local model")
    src.add_argument("--endpoint-model", dest="endpoint_model", help="model name at the endpoint")
    src.add_argument("--api-key", dest="api_key", help="API key for the endpoint")
    src.add_argument(
        "--replay",
        action="store_true",
        help="replay each dialogue's reference calls (checks the system, not a model)",
    )
    p.add_argument("--test", type=Path, help="conversations (default: the benchmark's S1 test set, 34 tasks)")
    p.add_argument(
        "--out", type=Path, required=True, help="output directory (episodes.jsonl, tasks.md, tasks.json)"
    )
    p.add_argument(
        "--trials", type=int, default=4, help="trials per task (pass^k for k=1..trials; default 4)"
    )
    p.add_argument("--limit", type=int, help="only the first N tasks")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default 0.7)")
    p.add_argument("--max-new-tokens", type=int, default=256, help="cap on generated tokens per call")
    p.add_argument(
        "--no-confirm-bookings",
        dest="confirm_bookings",
        action="store_false",
        help="let the agent book without the user's confirmation (the app confirms)",
    )
    p.add_argument(
        "--user-endpoint", help="an LLM plays the user (OpenAI-compatible URL); default: scripted user"
    )
    p.add_argument("--user-model", help="model name of the LLM user")
    p.add_argument("--guided", action="store_true",
                   help="local models: decode only calls the tool schemas allow (agent.guided)")
    p.add_argument("--grounded", action="store_true",
                   help=f"local models: guided, and {GROUNDED_HELP} (agent.grounding)")
    p.set_defaults(func=cmd_tasks)


def _task_policy_factory(args: argparse.Namespace, settings: Settings, dbs=None):
    if args.replay:
        from agent.policies.replay import ReplayPolicy

        return lambda task, trial: ReplayPolicy.from_trace(task.messages), "replay of the reference calls"
    if settings.endpoint:
        from agent.llm_client import ChatClient, EndpointConfig
        from agent.policies.openai import OpenAIPolicy

        if args.guided or args.grounded:
            raise UserError("--guided and --grounded work on local models; an endpoint decodes on its own server.")

        client = ChatClient(
            EndpointConfig(
                base_url=settings.endpoint, model=settings.endpoint_model, api_key=settings.api_key
            )
        )
        policy = OpenAIPolicy(client, max_tokens=args.max_new_tokens, temperature=args.temperature)
        return (lambda task, trial: policy), policy.description
    from agent.model_loading import ModelLoadError, load_model
    from agent.policies.hf import HFPolicy, Sampling

    grounding = Gazetteer.from_url(dbs.template) if args.grounded else None

    try:
        loaded = load_model(settings.model, adapter=settings.adapter, device=args.device)
    except ModelLoadError as exc:
        raise UserError(str(exc)) from None

    def make(task, trial):
        # one seed per (task, trial): trials differ, and a re-run reproduces them
        seed = zlib.crc32(f"{task.id}/{trial}".encode())
        return HFPolicy(
            loaded,
            max_new_tokens=args.max_new_tokens,
            sampling=Sampling(temperature=args.temperature, seed=seed),
            guided=args.guided,
            grounding=grounding,
        )

    decoding = " [grounded]" if args.grounded else " [guided]" if args.guided else ""
    return make, f"hf: {loaded.description}{decoding}"


def cmd_tasks(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from agent.trace_io import read_traces
    from eval.tasks import Databases, LLMUser, make_task, run_tasks

    if args.trials < 1:
        raise UserError("--trials must be at least 1 (pass^k needs k ≤ trials; use 4 or more).")
    test = args.test or _default_test(settings)
    if not Path(test).exists():
        raise UserError(f"Test file {test} does not exist.")
    traces, report = read_traces(test)
    if report.skipped:
        print(report.summary(), file=sys.stderr)
    traces = traces[: args.limit] if args.limit else traces
    args.out.mkdir(parents=True, exist_ok=True)
    dbs = Databases.build(settings.sgd_dir(), args.out / "db")
    tasks = [make_task(f"task-{i:02d}", t.messages, dbs) for i, t in enumerate(traces)]
    make_policy, description = _task_policy_factory(args, settings, dbs)
    make_user = None
    if args.user_endpoint:
        from agent.llm_client import ChatClient, EndpointConfig

        if not args.user_model:
            raise UserError("--user-endpoint needs --user-model NAME.")
        user_client = ChatClient(EndpointConfig(base_url=args.user_endpoint, model=args.user_model))
        make_user = lambda task: LLMUser(task, user_client)  # noqa: E731
    episodes_path = args.out / "episodes.jsonl"
    with (
        episodes_path.open("w", encoding="utf-8") as fh,
        tqdm(total=len(tasks) * args.trials, desc="episodes") as bar,
    ):

        def on_episode(episode):
            fh.write(json.dumps(episode.to_record()) + "\n")
            fh.flush()
            bar.update(1)

        result = run_tasks(
            tasks,
            make_policy,
            dbs,
            trials=args.trials,
            make_user=make_user,
            confirm_bookings=args.confirm_bookings,
            max_steps=settings.max_steps,
            on_episode=on_episode,
        )
    summary = result.summary()
    summary["agent"] = description
    summary["user"] = f"llm: {args.user_model}" if args.user_endpoint else "scripted"
    summary["temperature"] = None if args.replay else args.temperature
    summary["confirm_bookings"] = args.confirm_bookings
    (args.out / "tasks.json").write_text(json.dumps(summary, indent=2))
    (args.out / "tasks.md").write_text(result.markdown(description))
    print(
        f"success: {summary['success_rate']:.3f} over {summary['episodes']} episodes "
        f"(state {summary['state_ok_rate']:.3f}, told {summary['told_rate']:.3f})"
    )
    print(f"replies naming a restaurant no search returned: {summary['unbacked_replies']} of {summary['replies']}")
    for k, value in summary["pass^k"].items():
        print(f"pass^{k}: {'n/a' if value is None else f'{value:.3f}'}")
    print(f"report: {args.out / 'tasks.md'}")
    return 0

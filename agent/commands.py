"""`resto` subcommands of the agent package.

    resto model tiny --out DIR [--vocab 2048 --layers 4 --hidden 256]   # a tiny random-init Qwen3 + tokenizer
    resto model full-size --out DIR [--preset qwen3-1.7b]      # Qwen3-1.7B's shape, random weights (GPU checks)
    resto model ensemble DIR DIR [...] --out OUT               # models trained apart, decoded as one
    resto serve --model PATH_OR_HUB_ID [--adapter DIR] [--host 127.0.0.1 --port 8000]
    resto sessions list|show|export …     # the session log (agent/session_commands.py)

Each command's parser is built in its own function below; `register(sub)` wires them all.
Other packages add commands under `resto model` through `model_subparsers(sub)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.settings import Settings
from backend.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    register_model_tiny(sub)
    register_model_full_size(sub)
    register_model_ensemble(sub)
    register_serve(sub)
    register_sessions(sub)


# -- resto sessions list|show|export (the session log; LOOP) -----------------------------------------
def register_sessions(sub: argparse._SubParsersAction) -> None:
    from agent import session_commands

    session_commands.register(sub)


# -- resto model … (shared group) ------------------------------------------------------------------
def model_subparsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `resto model` command group, created on first use (so train can add `resto model demo`)."""
    parser = sub.choices.get("model")
    if parser is None:
        parser = sub.add_parser("model", help="build and inspect local models")
        parser.set_defaults(_model_group=parser.add_subparsers(dest="model_command", metavar="MODEL_COMMAND"))
    return parser.get_default("_model_group")


# -- resto model tiny ---------------------------------------------------------------------------------
def register_model_tiny(sub: argparse._SubParsersAction) -> None:
    from agent.tiny import TinyConfig

    defaults = TinyConfig()
    p = model_subparsers(sub).add_parser(
        "tiny", help="build a tiny random-init Qwen3 model + tokenizer (for tests and the demo model)"
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--vocab", type=int, default=defaults.vocab_size, help="BPE vocabulary size")
    p.add_argument("--layers", type=int, default=defaults.layers, help="decoder layers")
    p.add_argument("--hidden", type=int, default=defaults.hidden, help="hidden size")
    p.add_argument("--heads", type=int, default=defaults.heads, help="attention heads")
    p.add_argument("--seed", type=int, default=defaults.seed, help="weight init seed")
    p.add_argument("--tokenizer", choices=("words", "lines", "bare"), default=defaults.pre_tokenizer,
                   help="where BPE pieces may end: words (like Qwen), lines (merges span words) or bare "
                   "(words never carry the character before them)")
    p.set_defaults(func=cmd_model_tiny)


def cmd_model_tiny(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from agent.tiny import TinyConfig, build_tiny_model, parameter_count

    try:
        config = TinyConfig(
            vocab_size=args.vocab, layers=args.layers, hidden=args.hidden, heads=args.heads,
            kv_heads=max(1, args.heads // 2), seed=args.seed, pre_tokenizer=args.tokenizer,
        )
    except ValidationError as exc:
        raise UserError(f"invalid model size: {exc.errors()[0]['loc'][0]} {exc.errors()[0]['msg']}") from None
    if config.hidden % config.heads:
        raise UserError(f"--hidden ({config.hidden}) must be a multiple of --heads ({config.heads}).")
    data_dir = settings.data_dir if settings.data_dir and settings.data_dir.is_dir() else None
    out = build_tiny_model(args.out, config, data_dir=data_dir)
    corpus = f"SGD + traces from {data_dir}" if data_dir else "the built-in corpus"
    print(f"wrote {out} ({parameter_count(out):,} parameters, tokenizer trained on {corpus})")
    return 0


# -- resto model full-size ---------------------------------------------------------------------------
def register_model_full_size(sub: argparse._SubParsersAction) -> None:
    from agent.full_size import PRESETS

    p = model_subparsers(sub).add_parser(
        "full-size", help="write a random-init model with a public Qwen3 shape (GPU memory/speed checks, no hub)"
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--preset", choices=sorted(PRESETS), default="qwen3-1.7b", help="shape (default qwen3-1.7b)")
    p.add_argument("--tokenizer", type=Path,
                   help="tokenizer directory (default: a fresh tiny tokenizer, as `resto model tiny` trains)")
    p.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16", help="saved weight dtype (default bf16)")
    p.add_argument("--device", default="cpu", help="where the weights are initialised (cuda is faster)")
    p.add_argument("--seed", type=int, default=0, help="weight init seed")
    p.set_defaults(func=cmd_model_full_size)


def cmd_model_full_size(args: argparse.Namespace, settings: Settings) -> int:
    import tempfile

    from agent.full_size import build_full_size_model, parameter_count, preset_config
    from agent.tiny import build_tokenizer

    if args.tokenizer is not None and not (args.tokenizer / "tokenizer_config.json").is_file():
        raise UserError(f"{args.tokenizer} holds no tokenizer (no tokenizer_config.json).")
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = args.tokenizer
        if tokenizer_dir is None:
            data_dir = settings.data_dir if settings.data_dir and settings.data_dir.is_dir() else None
            tokenizer_dir = Path(tmp) / "tokenizer"
            build_tokenizer(tokenizer_dir, data_dir=data_dir)
        try:
            out = build_full_size_model(args.out, tokenizer_dir, args.preset, args.dtype, args.device, args.seed)
        except (ValueError, RuntimeError) as exc:  # a tokenizer too large, no such device, out of memory
            raise UserError(f"cannot build the {args.preset} model: {exc}") from None
    count = parameter_count(preset_config(args.preset))
    print(f"wrote {out} (random-init {args.preset} shape, {count / 1e9:.2f}B parameters, {args.dtype}; "
          "for memory and speed checks only: the weights are random)")
    return 0


# -- resto model ensemble ----------------------------------------------------------------------------
def register_model_ensemble(sub: argparse._SubParsersAction) -> None:
    p = model_subparsers(sub).add_parser(
        "ensemble", help="combine models that share a tokenizer (e.g. demo runs with other seeds) into one"
    )
    p.add_argument("models", nargs="+", type=Path, metavar="MODEL_DIR",
                   help="model directories (an ensemble directory adds its members)")
    p.add_argument("--out", type=Path, required=True, help="output directory (new or empty)")
    p.set_defaults(func=cmd_model_ensemble)


def cmd_model_ensemble(args: argparse.Namespace, settings: Settings) -> int:
    from agent.ensemble import EnsembleError, combine_models, member_dirs

    try:
        out = combine_models(args.out, args.models)
    except EnsembleError as exc:
        raise UserError(str(exc)) from None
    count = len(member_dirs(out))
    print(f"wrote {out}: an ensemble of {count} models (each decoding step averages their log-probabilities; "
          f"inference costs {count}x one model). Use it as any model: resto chat --model {out}")
    return 0


# -- resto serve --------------------------------------------------------------------------------------
def register_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a local model as an OpenAI-compatible /v1/chat/completions API")
    p.add_argument("--model", help="hub id or local model directory (default: RESTO_MODEL)")
    p.add_argument("--adapter", help="PEFT LoRA adapter directory")
    p.add_argument("--quantization", choices=["4bit", "8bit"], help="load with bitsandbytes (CUDA only)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-new-tokens", type=int, default=256, help="cap on generated tokens per call")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from agent.model_loading import ModelLoadError, load_model
    from agent.serve import ServeConfig, run_server

    try:
        loaded = load_model(
            settings.model, adapter=settings.adapter, quantization=args.quantization or settings.quantization
        )
    except ModelLoadError as exc:
        raise UserError(str(exc)) from None
    config = ServeConfig(host=args.host, port=args.port, max_new_tokens=args.max_new_tokens)
    print(f"serving {loaded.description} on http://{args.host}:{args.port}/v1", flush=True)
    run_server(loaded, config)
    return 0

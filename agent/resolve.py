"""Which model does `resto chat` talk to? One deterministic answer, and a clear one when there is none.

    resolution = resolve_model(settings, model=args.model, endpoint=args.endpoint)
    if resolution.kind == "none":
        print(resolution.explanation); return 2

Order (first match wins):

1. flags: `--endpoint URL` (an OpenAI-compatible server), else `--model ID_OR_PATH`;
2. configuration: `RESTO_ENDPOINT`, else `RESTO_MODEL` (an explicitly set value);
3. the default hub model (`distillabs/tft-benchmark-s4-tft-Qwen3-1.7B`) when it is in the local
   Hugging Face cache (nothing is downloaded);
4. the offline demo model `<RESTO_HOME>/models/demo` when `resto model demo` has built it;
5. none: `explanation` is a one-screen text saying what was looked at and how to get a model.

An explicit choice (1, 2) is returned even when it may fail to load: the loader then says why in
one sentence, which is more useful than silently falling back to another model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agent.ensemble import ENSEMBLE_FILE, EnsembleError, member_dirs
from agent.settings import DEFAULT_HUB_MODEL, Settings


@dataclass
class Resolution:
    kind: str  # "hf" (a local transformers model), "openai" (an endpoint) or "none"
    source: str  # "flag", "config", "hub-cache", "demo" or "none"
    model: str | None = None  # hub id or path (hf); model name sent to the endpoint (openai)
    adapter: str | None = None
    endpoint: str | None = None
    explanation: str = ""  # how it was chosen; for "none", how to get a model

    @property
    def found(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        if self.kind == "openai":
            return f"endpoint {self.endpoint} (model {self.model}) [{self.source}]"
        if self.kind == "hf":
            return (
                f"{self.model}" + (f" + adapter {self.adapter}" if self.adapter else "") + f" [{self.source}]"
            )
        return "no model"


def is_model_dir(path: Path) -> bool:
    """A directory `from_pretrained` can load (a config plus weights), or an ensemble of such
    directories (agent.ensemble)."""
    if (path / ENSEMBLE_FILE).is_file():
        try:
            return all(is_model_dir(member) for member in member_dirs(path))
        except EnsembleError:
            return False
    if not (path / "config.json").is_file():
        return False
    return (
        any(path.glob("*.safetensors"))
        or any(path.glob("*.bin"))
        or any(path.glob("*.safetensors.index.json"))
    )


DEMO_CARD = "demo.json"  # `resto model demo` writes it beside the weights: config, metrics, decoding


def declares_grounded(model: str | Path | None) -> bool:
    """Does a local model directory ask the chat for grounded decoding (`"decoding": "grounded"` in
    its demo.json)?

    `resto model demo` declares it: the tiny model does not copy values from the conversation, and
    grounded decoding is what lets it book what the user asked for (README, the demo model's
    closed-loop row). A hub id, a directory without the file, or an unreadable one declares nothing,
    and the model decodes free."""
    if not model:
        return False
    try:
        card = json.loads((Path(model) / DEMO_CARD).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and card.get("decoding") == "grounded"


def hub_model_cached(model_id: str) -> bool:
    """Is the hub model fully in the local Hugging Face cache? Looks only; never downloads."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return False
    try:
        config = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id or unreadable cache means "not cached"
        return False
    if not isinstance(config, str):
        return False
    snapshot = Path(config).parent
    return is_model_dir(snapshot)


def resolve_model(settings: Settings, *, model: str | None = None, endpoint: str | None = None) -> Resolution:
    """Pick the model (see the module docstring). `model`/`endpoint` are the command-line flags."""
    adapter = settings.adapter
    if endpoint:
        return Resolution(
            "openai",
            "flag",
            model=settings.endpoint_model,
            endpoint=endpoint,
            explanation=f"--endpoint {endpoint}",
        )
    if model:
        return Resolution("hf", "flag", model=model, adapter=adapter, explanation=f"--model {model}")
    if settings.endpoint:
        return Resolution(
            "openai",
            "config",
            model=settings.endpoint_model,
            endpoint=settings.endpoint,
            explanation=f"RESTO_ENDPOINT={settings.endpoint}",
        )
    if "model" in settings.model_fields_set and settings.model:
        return Resolution(
            "hf", "config", model=settings.model, adapter=adapter, explanation=f"RESTO_MODEL={settings.model}"
        )
    if hub_model_cached(DEFAULT_HUB_MODEL):
        return Resolution(
            "hf",
            "hub-cache",
            model=DEFAULT_HUB_MODEL,
            adapter=adapter,
            explanation=f"the default model {DEFAULT_HUB_MODEL}, found in the Hugging Face cache",
        )
    demo = settings.demo_model_dir
    if is_model_dir(demo):
        return Resolution(
            "hf",
            "demo",
            model=str(demo),
            adapter=adapter,
            explanation=f"the offline demo model in {demo} (the default hub model is not cached)",
        )
    return Resolution("none", "none", explanation=no_model_help(settings))


def no_model_help(settings: Settings) -> str:
    demo = settings.demo_model_dir
    return f"""No model to chat with. resto looked for, in order:
  1. --model / --endpoint on the command line ............ not given
  2. RESTO_MODEL / RESTO_ENDPOINT in the environment ..... not set
  3. {DEFAULT_HUB_MODEL} in the Hugging Face cache ... not found
  4. the offline demo model in {demo} ... not found

Get a model in one of these ways:
  • Build the small offline demo model here (CPU, 20 to 35 minutes):
        resto model demo
  • Use the released model: on a machine with network run
        huggingface-cli download {DEFAULT_HUB_MODEL}
    and copy its Hugging Face cache (~/.cache/huggingface) here, or pass a local copy:
        resto chat --model /path/to/model
  • Talk to any OpenAI-compatible server (vLLM, Ollama, llama.cpp, `resto serve` elsewhere):
        resto chat --endpoint http://127.0.0.1:8000/v1      (model name: RESTO_ENDPOINT_MODEL)"""

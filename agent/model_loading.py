"""Load a local `transformers` causal LM (hub id or path), an optional PEFT adapter and
optional bitsandbytes quantization, failing fast with one clear sentence when it cannot.

    loaded = load_model("distillabs/tft-benchmark-s4-tft-Qwen3-1.7B")            # from the HF cache
    loaded = load_model("/path/to/model", adapter="runs/x/adapter", quantization="4bit")

bf16 on CUDA, fp32 on CPU (CPU kernels for bf16 are slow and tiny models gain nothing).
Hub ids are looked up in the local cache only (`local_files_only=True`) unless `allow_download`
is set, so a machine without network answers at once instead of hanging on retries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.ensemble import EnsembleError, is_ensemble_dir


class ModelLoadError(RuntimeError):
    """The model (or adapter) could not be loaded; the message is one sentence with the alternatives."""


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    description: str  # e.g. "distillabs/tft-…-Qwen3-1.7B + adapter runs/x (4bit, cuda)"
    device: str


ALTERNATIVES = (
    "run `resto model demo` to build the offline demo model, pass a local model directory with --model, "
    "or use an OpenAI-compatible server with --endpoint"
)


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def _dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype is None:
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if isinstance(dtype, str):
        return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16,
                "float16": torch.float16, "fp32": torch.float32, "float32": torch.float32}[dtype]
    return dtype


def _quantization_config(quantization: str | None, dtype: Any) -> Any:
    if quantization in (None, "", "none"):
        return None
    if quantization not in ("4bit", "8bit"):
        raise ModelLoadError(f"Unknown quantization {quantization!r}: use 4bit or 8bit.")
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise ModelLoadError(
            f"{quantization} quantization needs bitsandbytes, which is not usable here ({exc})."
        ) from exc
    if quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def _is_local(model_id_or_path: str) -> bool:
    return Path(model_id_or_path).expanduser().exists()


def load_model(
    model_id_or_path: str,
    adapter: str | None = None,
    quantization: str | None = None,
    device: str | None = None,
    dtype: Any = None,
    allow_download: bool = False,
) -> LoadedModel:
    """Tokenizer + model in eval mode on `device`. Raises ModelLoadError with one clear sentence."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or default_device()
    torch_dtype = _dtype(dtype, device)
    local = _is_local(model_id_or_path)
    source = str(Path(model_id_or_path).expanduser()) if local else model_id_or_path
    offline = not allow_download or os.environ.get("HF_HUB_OFFLINE") == "1"
    quant = _quantization_config(quantization, torch_dtype)
    if quant is not None and not device.startswith("cuda"):
        raise ModelLoadError(f"{quantization} quantization needs a CUDA GPU; load the model without it on {device}.")
    if local and is_ensemble_dir(source):
        return _load_ensemble(model_id_or_path, source, adapter, quant, device, torch_dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
        kwargs: dict[str, Any] = {"dtype": torch_dtype, "local_files_only": offline}
        if quant is not None:
            kwargs["quantization_config"] = quant
            kwargs["device_map"] = {"": device}
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:  # OSError (not cached / no network), ValueError (bad config), …
        where = "is not a loadable model directory" if local else "is not in the local Hugging Face cache"
        raise ModelLoadError(
            f"Cannot load model {model_id_or_path!r}: it {where} ({type(exc).__name__}); {ALTERNATIVES}."
        ) from exc
    if quant is None:
        model.to(device)
    description = model_id_or_path
    if adapter:
        model = _attach_adapter(model, adapter, offline)
        description += f" + adapter {adapter}"
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tags = [quantization] if quant is not None else []
    tags.append(device)
    return LoadedModel(model=model, tokenizer=tokenizer, description=f"{description} ({', '.join(tags)})", device=device)


def _load_ensemble(name: str, source: str, adapter: str | None, quant: Any, device: str, dtype: Any) -> LoadedModel:
    """A directory with ensemble.json (agent.ensemble): its members decoded as one model."""
    from transformers import AutoTokenizer

    from agent.ensemble_lm import load_ensemble

    if adapter or quant is not None:
        raise ModelLoadError(f"{name} is an ensemble of models; load it without an adapter or quantization.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model = load_ensemble(source, dtype, device)
    except EnsembleError as exc:
        raise ModelLoadError(f"Cannot load ensemble {name!r}: {exc}") from exc
    except Exception as exc:
        raise ModelLoadError(
            f"Cannot load ensemble {name!r}: a member or the tokenizer is not loadable ({type(exc).__name__}); {ALTERNATIVES}."
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    size = len(model.members)
    return LoadedModel(model=model, tokenizer=tokenizer, description=f"{name} (ensemble of {size}, {device})", device=device)


def _attach_adapter(model: Any, adapter: str, offline: bool) -> Any:
    try:
        from peft import PeftModel

        source = str(Path(adapter).expanduser()) if _is_local(adapter) else adapter
        return PeftModel.from_pretrained(model, source, local_files_only=offline)
    except Exception as exc:
        raise ModelLoadError(
            f"Cannot load adapter {adapter!r} ({type(exc).__name__}: {str(exc)[:160]}); "
            "pass a directory written by `resto train` (it holds adapter_config.json)."
        ) from exc

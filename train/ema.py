"""An exponential moving average (EMA) of the trained weights, saved beside the final weights.

    finetune(FinetuneConfig(..., ema_decay=0.998), traces, run_dir)   # → run_dir/final and run_dir/ema

Why: a small model trained for many epochs on a few hundred conversations ends wherever the last
batches pushed it. The average of its weights over the last few hundred steps usually generalises
better than the last point (Polyak averaging; SWA). It costs one in-place lerp per step on the
trained parameters and one copy of them in memory.

`EMACallback` keeps an fp32 shadow of every parameter that requires grad (all weights for full
training, the adapter for LoRA). The effective decay ramps up as min(decay, (1 + t) / (10 + t)), so
early, random weights fade quickly. The shadow is written into every checkpoint (`ema.pt`) and read
back on resume, so an interrupted run continues the same average. At the end `finetune` swaps the
shadow into the model, saves it to `run_dir/ema/` (same layout as `final/`), and swaps back.
Under DDP every process keeps the same average (the weights are replicated); FSDP shards the
parameters, so use it without `ema_decay`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EMA_FILE = "ema.pt"


def trained_parameters(model: Any) -> dict[str, Any]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def ema_decay_at(decay: float, step: int) -> float:
    """The decay used at optimizer step `step` (0-based): ramps up to `decay`."""
    return min(decay, (1.0 + step) / (10.0 + step))


def ema_callback(decay: float, resume_from: str | None = None):
    """A TrainerCallback keeping the EMA of the trained weights (see the module docstring)."""
    import torch
    from transformers import TrainerCallback

    class EMACallback(TrainerCallback):
        def __init__(self):
            self.shadow: dict[str, torch.Tensor] = {}

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            params = trained_parameters(model)
            saved = Path(resume_from) / EMA_FILE if resume_from else None
            if saved is not None and saved.exists():
                loaded = torch.load(saved, map_location="cpu", weights_only=True)
                missing = set(params) - set(loaded)
                if missing:
                    raise ValueError(f"{saved} lacks {len(missing)} trained parameters (e.g. {sorted(missing)[0]})")
                self.shadow = {n: loaded[n].to(p.device) for n, p in params.items()}
            else:  # on the parameters' device: no host transfer per step
                self.shadow = {n: p.detach().float().clone() for n, p in params.items()}

        def on_step_end(self, args, state, control, model=None, **kwargs):
            rate = 1.0 - ema_decay_at(decay, state.global_step - 1)
            with torch.no_grad():
                for name, p in trained_parameters(model).items():
                    self.shadow[name].lerp_(p.detach().float(), rate)

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():  # one writer under DDP
                torch.save({n: t.cpu() for n, t in self.shadow.items()}, folder / EMA_FILE)

        def swap_into(self, model) -> None:
            """Exchange the model's trained weights and the shadow (call twice to undo)."""
            with torch.no_grad():
                for name, p in trained_parameters(model).items():
                    current = p.detach().float().clone()
                    p.copy_(self.shadow[name].to(p.dtype))
                    self.shadow[name] = current

    return EMACallback()

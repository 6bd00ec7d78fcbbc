"""The model behind an ensemble directory (agent.ensemble): members decoded as one causal LM.

    model = load_ensemble(DIR, dtype=torch.float32, device="cpu")
    model(input_ids=ids).logits      # mean of the members' log-probabilities, (batch, positions, vocab)
    model.generate(input_ids, attention_mask, max_new_tokens=64, eos_token_id=[...], pad_token_id=0)

`EnsembleLM` offers what resto's decoders use of a transformers model: `forward` with a KV cache
(`new_cache()` returns one cache per member behind `crop`/`get_seq_length`, which the hf policy's
cache reuse calls), `generate` for greedy left-padded batches (eval) with `model.generate`'s
arguments and output layout, `.config`, `.device`, `.eval()`. It is not a `PreTrainedModel`:
training and `save_pretrained` work on the members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agent.ensemble import EnsembleError, member_dirs


class EnsembleCache:
    """One KV cache per member, cropped together."""

    def __init__(self, caches: list[Any]):
        self.caches = caches

    def crop(self, max_length: int) -> None:
        for cache in self.caches:
            cache.crop(max_length)

    def get_seq_length(self) -> int:
        return self.caches[0].get_seq_length()


@dataclass
class EnsembleOutput:
    logits: Any  # (batch, positions, vocab): mean of the members' log-probabilities


class EnsembleLM(torch.nn.Module):
    def __init__(self, members: Sequence[Any]):
        super().__init__()
        if not members:
            raise EnsembleError("an ensemble needs at least one member")
        vocab = {m.get_output_embeddings().weight.shape[0] for m in members}
        if len(vocab) != 1:
            raise EnsembleError(f"ensemble members disagree on the vocabulary size: {sorted(vocab)}")
        from agent.policies.hf import cache_kwarg

        self.members = torch.nn.ModuleList(members)
        self._cache_kwargs = [cache_kwarg(m) for m in members]  # once, not per decoded token
        self.config = members[0].config
        self.generation_config = members[0].generation_config

    @property
    def device(self):
        return next(self.parameters()).device

    def new_cache(self) -> EnsembleCache:
        from transformers import DynamicCache

        return EnsembleCache([DynamicCache(config=m.config) for m in self.members])

    def forward(
        self,
        input_ids: Any,
        attention_mask: Any = None,
        position_ids: Any = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
        cache: EnsembleCache | None = None,
        past_key_values: EnsembleCache | None = None,
        **_: Any,
    ) -> EnsembleOutput:
        cache = cache if cache is not None else past_key_values
        if cache is not None and not isinstance(cache, EnsembleCache):
            raise EnsembleError("an ensemble takes the cache from its new_cache(), not a member's cache")
        total = None
        for i, member in enumerate(self.members):
            kwargs = {self._cache_kwargs[i]: cache.caches[i]} if cache is not None else {}
            out = member(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                use_cache=use_cache or cache is not None,
                logits_to_keep=logits_to_keep,
                **kwargs,
            )
            logp = torch.log_softmax(out.logits.float(), dim=-1)
            total = logp if total is None else total + logp
        return EnsembleOutput(logits=total / len(self.members))

    def generate(
        self,
        input_ids: Any,
        attention_mask: Any = None,
        max_new_tokens: int = 256,
        do_sample: bool = False,
        eos_token_id: int | Sequence[int] | None = None,
        pad_token_id: int | None = None,
        logits_processor: Any = None,
        **unused: Any,
    ) -> Any:
        """Greedy decoding of a left-padded batch, laid out like `model.generate`: the prompt ids
        followed by the new ids; a row that has emitted a stop id is padded after it."""
        if do_sample:
            raise EnsembleError("ensemble generate() decodes greedily; sample through the hf policy instead")
        stops = torch.tensor(
            [] if eos_token_id is None else ([eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)),
            dtype=torch.long,
            device=input_ids.device,
        )
        pad = int(pad_token_id if pad_token_id is not None else (stops[0].item() if len(stops) else 0))
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.clone()
        # left padding: each row's positions count its real tokens only (as model.generate does)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        cache = self.new_cache()
        sequences = input_ids
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        step_ids, step_positions = input_ids, positions
        for _ in range(max_new_tokens):
            out = self.forward(step_ids, attention_mask=mask, position_ids=step_positions, logits_to_keep=1, cache=cache)
            scores = out.logits[:, -1]
            if logits_processor is not None:  # e.g. agent.guided's, as model.generate would apply it
                scores = logits_processor(sequences, scores)
            token = scores.argmax(dim=-1)
            token = torch.where(done, torch.full_like(token, pad), token)
            sequences = torch.cat([sequences, token[:, None]], dim=1)
            done |= torch.isin(token, stops)
            if bool(done.all()):
                break
            mask = torch.cat([mask, torch.ones_like(token[:, None])], dim=1)
            step_positions = step_positions[:, -1:] + 1
            step_ids = token[:, None]
        return sequences


def load_ensemble(path: str | Path, dtype: Any, device: str) -> EnsembleLM:
    """Every member with `AutoModelForCausalLM.from_pretrained` (local files), as one EnsembleLM."""
    from transformers import AutoModelForCausalLM

    members = [AutoModelForCausalLM.from_pretrained(m, dtype=dtype, local_files_only=True) for m in member_dirs(path)]
    return EnsembleLM(members).to(device).eval()

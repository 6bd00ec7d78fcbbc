"""A "parrot": the session's tiny model briefly trained (a few CPU seconds) to always answer with one
fixed respond_to_user call, so streaming, stopping at </tool_call>, serving and KV-cache reuse of
the model's own output are tested on real generations. Trained once per test session and shared.

It is trained and run with a short prompt (`PARROT_KW`: no tool schemas, a one-word task), which
keeps its training sequences ~100 tokens long.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.conversation import ToolCall, user_message
from agent.render import RenderConfig

PARROT_MESSAGE = 'Hi "you" \\ café\nBye'
PARROT_KW = {"tools": [], "render_config": RenderConfig(task_description="Restaurants.")}
PARROT_SYSTEM = PARROT_KW["render_config"].system_prompt()


def _conversations() -> list[list[dict]]:
    answer = ToolCall("respond_to_user", {"message": PARROT_MESSAGE}).to_message()
    return [
        [user_message("hello"), answer],
        [user_message("hi"), answer, user_message("ok"), answer],
        [user_message("Thai food in San Jose please"), answer, user_message("[]"), answer],
        [user_message("Book it"), answer, user_message("Yes 7pm"), answer, user_message("[]"), answer],
    ]


def parrot_model_dir(tmp_path_factory, tiny_model_dir: Path) -> Path:
    """The parrot's directory (trained on first use in this session)."""
    return overfit_tiny_model(
        tmp_path_factory.getbasetemp() / "parrot_model", tiny_model_dir, _conversations(), [],
        PARROT_KW["render_config"], rounds=60,
    )


def overfit_tiny_model(out: Path, tiny_model_dir: Path, conversations: list[list[dict]], tools: list[dict],
                       render_config: RenderConfig, rounds: int) -> Path:
    """The tiny model trained `rounds` times over `conversations` (loss on the assistant calls only, as
    resto trains), saved with its tokenizer at `out`; an existing `out` is reused (one per session)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agent.render import render_training_example

    if (out / "config.json").exists():
        return out
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    examples = []
    for convo in conversations:
        ids, labels = render_training_example(tok, convo, tools, render_config)
        examples.append((torch.tensor([ids]), torch.tensor([labels])))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(rounds):
        for ids, labels in examples:
            model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (tiny_model_dir / name).exists():
            shutil.copy(tiny_model_dir / name, tmp / name)
    tmp.rename(out)
    return out

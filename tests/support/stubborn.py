"""A "stubborn" model: the session's tiny model briefly trained (~5 CPU seconds) to answer every first
user message with `FindRestaurants(city="San Francisco", cuisine="Thai")`, whatever city the user
named. It is the demo model's failure in miniature (it does not copy values from its context), so
tests can show what grounded decoding changes: the same model, grounded, searches the city the user
said. Unlike the parrot it runs with the app's real prompt (all tool schemas, the default task).
"""

from __future__ import annotations

from pathlib import Path

from agent.conversation import ToolCall, user_message
from agent.render import RenderConfig
from agent.tools import tool_schemas
from tests.support.parrot import overfit_tiny_model

STUBBORN_CALL = ToolCall("FindRestaurants", {"city": "San Francisco", "cuisine": "Thai"})


def stubborn_model_dir(tmp_path_factory, tiny_model_dir: Path) -> Path:
    """The stubborn model's directory (trained on first use in this session)."""
    conversations = [[user_message(text), STUBBORN_CALL.to_message()]
                     for text in ("Thai food in San Jose", "Something in Fairfield?", "hello")]
    return overfit_tiny_model(tmp_path_factory.getbasetemp() / "stubborn_model", tiny_model_dir, conversations,
                              tool_schemas(), RenderConfig(), rounds=30)

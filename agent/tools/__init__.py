"""The agent's three tools, defined once as typed code (pydantic argument models).

`TOOL_MODELS` lists them in the benchmark's order; `tool_schemas()` generates the OpenAI-style
`tools` list from them, equal to the `tools` of the TFT benchmark's job_description.json.
"""

from __future__ import annotations

from agent.tools.respond_to_user import RespondToUserArgs
from agent.tools.schema import (
    RESPOND_TO_USER,
    SERVICE_TOOLS,
    TOOL_MODELS,
    CallValidationError,
    schema_for,
    tool_schemas,
    validate_call,
)

__all__ = [
    "RESPOND_TO_USER",
    "SERVICE_TOOLS",
    "TOOL_MODELS",
    "CallValidationError",
    "RespondToUserArgs",
    "schema_for",
    "tool_schemas",
    "validate_call",
]

"""respond_to_user: the model talks to the user. It has no return value: the user answers."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class RespondToUserArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_name: ClassVar[str] = "respond_to_user"
    tool_description: ClassVar[str] = (
        "Send a message to the user. Use this to ask clarifying questions, provide information, "
        "confirm details, or respond to the user's request. This function has no return value "
        "\u2014 the user will follow up with their next message in the conversation."
    )

    message: str = Field(description="The message to send to the user.")

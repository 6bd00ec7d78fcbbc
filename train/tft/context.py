"""What every stage is handed: the config, the run folder, the job (task text + tools), and
ChatClients for the named models — one per model and stage, so each stage's statistics count
only its own calls. All clients share the run's response cache (RUN_DIR/cache)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.llm_client import ChatClient
from agent.tools import tool_schemas
from backend.errors import UserError
from train.tft.config import TFTConfig


@dataclass
class Job:
    task: str
    tools: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Job:
        """A benchmark job_description.json; without one, our own tools and a generic task."""
        if not path.exists():
            raise UserError(f"job description {path} does not exist (set tft.job_description)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} is not valid JSON: {exc}") from None
        task = data.get("task_description")
        if not isinstance(task, str) or not task.strip():
            raise UserError(f"{path} has no task_description")
        return cls(task=task, tools=data.get("tools") or tool_schemas())


@dataclass
class StageContext:
    config: TFTConfig
    run_dir: Path
    job: Job
    _clients: dict[str, ChatClient] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path:
        return self.run_dir / "cache"

    def client(self, model_name: str) -> ChatClient:
        if model_name not in self._clients:
            self._clients[model_name] = ChatClient(self.config.endpoint(model_name, self.cache_dir))
        return self._clients[model_name]

    def clients(self) -> list[ChatClient]:
        return list(self._clients.values())

    def request(self, messages: list[dict[str, Any]], temperature: float = 0.0) -> dict[str, Any]:
        """Keyword arguments for ChatClient.chat / chat_many."""
        kwargs: dict[str, Any] = {"messages": messages, "temperature": temperature}
        if self.config.tft.max_tokens:
            kwargs["max_tokens"] = self.config.tft.max_tokens
        return kwargs

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """Work in chunks so finished items reach disk (and survive a kill) while the stage runs."""
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]

"""Fixtures of the TFT tests: a job description, corrupted input traces, a real small restaurant DB,
and the scripted LLM server (standing in for GLM-5 / gpt-oss-120b; see scripted_llms.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.tools import tool_schemas
from agent.trace_io import write_traces
from tests.support.scripted_server import ScriptedServer
from tests.train.tft.scripted_llms import ScriptedLLMs, corrupted

TASK = ("You are a virtual assistant for a restaurant search and reservation service. Call FindRestaurants "
        "once the user gave a city and a cuisine, ReserveRestaurant once they confirm a booking, and "
        "respond_to_user otherwise.")


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "job_description.json"
    path.write_text(json.dumps({"task_description": TASK, "tools": tool_schemas(),
                                "llm_as_a_judge_instructions": "Score good or bad."}))
    return path


@pytest.fixture
def traces_file(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    write_traces(path, corrupted())
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    from tests.support.agent_db import small_db

    path = tmp_path / "resto.db"
    small_db(path).dispose()
    return f"sqlite:///{path}"


@pytest.fixture
def llms():
    handler = ScriptedLLMs()
    with ScriptedServer(handler) as server:
        server.handler_state = handler
        yield server

"""Keys: `?` and other printable keys go into the prompt (help is F1 there), and `resto chat --plain`
(the REPL, for scripts) runs without Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.widgets import Input

from agent.conversation import ToolCall
from tests.tui.fakes import ScriptPolicy
from tui.screens.chat import ChatScreen

pytestmark = pytest.mark.anyio


async def test_question_mark_is_typed_not_help(make_app):
    app = make_app(ScriptPolicy([ToolCall("respond_to_user", {"message": "yes"})]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"open now?")
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.query_one("#prompt", Input).value == "open now?"


@pytest.mark.data
def test_plain_repl_with_the_replay_policy(data_dir, tmp_path):
    env = {"RESTO_DATA_DIR": str(data_dir), "RESTO_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "cli", "db", "build"], env=env, check=True, capture_output=True)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "chat", "--plain", "--replay-policy", "test-05"],
        input="Shabu-shabu in Berkeley\n/quit\n", env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "FindRestaurants" in proc.stdout and "Zabu Zabu" in proc.stdout
    assert "textual" not in proc.stderr.lower()

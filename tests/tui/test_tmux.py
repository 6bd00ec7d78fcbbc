"""`resto chat` in a real terminal (tmux), driven as a person would by bench/tmux_chat.py: type a
benchmark conversation's user turns, confirm the booking with `y`, capture the screen.
Skipped when tmux is not installed (apt-get install tmux)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.data, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def test_scripted_booking_under_tmux(data_dir, tmp_path):
    out = tmp_path / "capture.txt"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tmux_chat.py"), "--home", str(tmp_path / "home"), "--out", str(out)],
        env={"RESTO_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    screen = out.read_text()
    assert "Your reservation is all set." in screen and "Have a nice day." in screen
    assert "ReserveRestaurant(" in screen  # the tool card
    assert "Zabu Zabu" in screen.split("reservations")[1]  # the side panel shows the booking
    assert "Traceback" not in screen

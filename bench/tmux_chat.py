"""A scripted `resto chat` session under tmux, typed the way a person would, with screen captures.

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/tmux_chat.py                 # replay policy test-05
    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/tmux_chat.py --model var/models/demo
    … --out capture.txt --home /tmp/resto-tmux --width 120 --height 36

It builds the restaurant database in `--home` if missing, starts the real `resto chat` in a
detached tmux session (its own socket, so nothing else is touched), types the user turns of a
benchmark test conversation (default test-05: find Shabu-shabu in Berkeley, book Zabu Zabu for
two), presses `y` when the app asks to confirm the booking, and prints the final screen (and
writes it to --out). With `--model` a real local model answers instead of the recording.
Exit status: 0 done, 3 tmux missing, 1 the app did not reach the expected state in time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESTO = ROOT / ".venv" / "bin" / "resto"


class Tmux:
    def __init__(self, width: int, height: int):
        self.socket = f"resto-bench-{uuid.uuid4().hex[:8]}"
        self.name = "chat"
        self.width, self.height = width, height

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return out.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shell_quote(v)}" for k, v in env.items())
        line = f"env {exports} {' '.join(shell_quote(c) for c in command)}"
        self.run("new-session", "-d", "-s", self.name, "-x", str(self.width), "-y", str(self.height), line)

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.name, "-l", text)
        time.sleep(0.2)
        self.run("send-keys", "-t", self.name, "Enter")

    def key(self, key: str) -> None:
        self.run("send-keys", "-t", self.name, key)

    def kill(self) -> None:
        self.run("kill-server")


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def wait(tmux: Tmux, condition, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.capture()
        if condition(screen):
            return screen
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}; last screen:\n{screen}")


def idle(screen: str) -> bool:
    return "thinking…" not in screen and "running " not in screen and "stopping…" not in screen


def user_turns(data_dir: Path, dialogue_id: str) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from agent.policies.replay import user_turns as turns
    from agent.settings import Settings
    from tui.replay import DialogueIndex

    return turns(DialogueIndex(Settings(data_dir=data_dir)).get(dialogue_id).messages)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dialogue", default="test-05", help="whose user turns to type (and replay, without --model)")
    p.add_argument("--model", help="a local model directory instead of the replay policy")
    p.add_argument("--home", type=Path, default=Path("/tmp/resto-tmux"), help="RESTO_HOME for the run")
    p.add_argument("--out", type=Path, help="write the final capture here")
    p.add_argument("--turns", type=int, default=99, help="type at most N user turns")
    p.add_argument("--width", type=int, default=120)
    p.add_argument("--height", type=int, default=36)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per turn")
    args = p.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 3
    data_dir = Path(os.environ.get("RESTO_DATA_DIR", ROOT.parent / "shared" / "data"))
    env = {"RESTO_HOME": str(args.home), "RESTO_DATA_DIR": str(data_dir), "TERM": "xterm-256color",
           "PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1", "HOME": os.environ.get("HOME", "/tmp")}
    subprocess.run([str(RESTO), "db", "build", "--if-missing"], env={**os.environ, **env}, check=True,
                   capture_output=True)
    policy = ["--model", args.model] if args.model else ["--replay-policy", args.dialogue]
    tmux = Tmux(args.width, args.height)
    started = time.monotonic()
    try:
        tmux.start([str(RESTO), "chat", *policy], env)
        wait(tmux, lambda s: "Ask for a table" in s, 120, "the chat screen")
        for text in user_turns(data_dir, args.dialogue)[: args.turns]:
            tmux.type(text)
            t0 = time.monotonic()
            while True:
                screen = wait(tmux, lambda s: "Book this table?" in s or idle(s), args.timeout, f"a reply to {text!r}")
                if "Book this table?" in screen:
                    tmux.key("y")
                    time.sleep(0.3)
                    continue
                if time.monotonic() - t0 > 0.6:  # idle for real, not before the turn started
                    break
                time.sleep(0.3)
        time.sleep(0.5)
        final = tmux.capture()
    except TimeoutError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        tmux.kill()
    if args.out:
        args.out.write_text(final, encoding="utf-8")
    print(final)
    print(f"# scripted session: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

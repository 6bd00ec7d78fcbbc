"""`resto train tft` end to end on a tiny configuration, against a scripted server on 127.0.0.1
standing in for GLM-5 (teacher) and gpt-oss-120b (judge, committee), a real small restaurant DB,
and a tiny local Qwen3-architecture model as the student: the run is killed (SIGKILL) while a
synthesis call is in flight, then resumed to the end (fine-tune + evaluation) without redoing any
finished call — counted at the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.trace_io import write_traces
from tests.support.scripted_server import ScriptedServer
from tests.train.tft.scripted_llms import GOLD, ScriptedLLMs, write_config
from train.tft.pipeline import parse_stages
from train.tft.stage_io import load_stats, read_items

ROOT = Path(__file__).resolve().parents[3]


def _resto(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _config(tmp_path, server, traces, job, model_dir):
    test = tmp_path / "test.jsonl"
    write_traces(test, list(GOLD.values())[:1])
    return write_config(
        tmp_path / "config.yaml", server.base_url, traces, job, committee=("good", "broken"), target=3,
        parallel=False,  # one synthesis call at a time: the kill point is exact
        finetune={"model": str(model_dir), "method": "lora", "max_steps": 2, "grad_accumulation": 1,
                  "save_steps": 1, "logging_steps": 1, "progress": False},
        eval={"test": str(test), "max_rows": 2, "max_new_tokens": 8, "batch_size": 2},
    )


def test_killed_mid_synthesis_then_resumed_to_the_end(tmp_path, traces_file, job_file, db_url, tiny_model_dir):
    handler = ScriptedLLMs(hold_at=3)  # the 3rd synthesis request hangs until the run is killed
    with ScriptedServer(handler) as server:
        config = _config(tmp_path, server, traces_file, job_file, tiny_model_dir)
        run_dir = tmp_path / "run"
        proc = _resto("train", "tft", str(config), "--run-dir", str(run_dir), "--db", db_url)
        deadline = time.time() + 60
        while len(handler.synth_seen) < 3 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert len(handler.synth_seen) == 3, proc.communicate()[0]
        proc.kill()
        proc.wait()
        handler.synth_gate.set()
        first_requests = len(server.requests)
        done = {i.id for i in read_items(run_dir / "synthesize" / "items.jsonl")}
        assert done == {"s00000-0", "s00001-x"} and load_stats(run_dir, "synthesize") is None

        proc = _resto("train", "tft", str(config), "--run-dir", str(run_dir), "--db", db_url, "--resume")
        output = proc.communicate(timeout=150)[0]
        assert proc.returncode == 0, output
        again = server.requests[first_requests:]

    # finished stages and finished calls were not asked again; the call in flight was
    assert all("You write training data" in r["messages"][0]["content"] for r in again), output
    assert handler.synth_seen == [0, 1, 2, 2, 3, 4]
    assert "[filter] already finished" in output and "[synthesize] resuming: 2 items already done" in output
    synth = load_stats(run_dir, "synthesize")
    assert synth["valid"] == 3 and synth["resumed_items"] == 2
    # requests of finished work in both invocations (the one killed in flight is not counted)
    assert synth["this_run"]["llm_requests"] == 3 and synth["llm_requests"] == 5
    validate = load_stats(run_dir, "validate")
    assert validate["kept"] == 2 and validate["dropped_by_reason"] == {"execution": 1}
    ft = load_stats(run_dir, "finetune")
    assert ft["train_seeds"] == 3 and ft["train_synthetic"] == 2
    assert Path(ft["model_dir"], "config.json").exists()
    assert set(ft["eval_metrics"]) >= {"staged_tool_call", "binary_tool_call", "rouge", "function_accuracy"}
    report = (run_dir / "report.md").read_text()
    assert "| relabel | 3 | 3 | 0 |" in report and "| staged_tool_call |" in report
    relabel = {i.id: i for i in read_items(run_dir / "relabel" / "items.jsonl")}
    assert all("broken: malformed" in i.meta["committee"]["broken"] for i in relabel.values())
    assert json.loads((run_dir / "config.json").read_text())["tft"]["finetune"]["max_steps"] == 2


def test_stage_selection_errors():
    assert parse_stages("validate,filter") == ["filter", "validate"]
    from backend.errors import UserError

    with pytest.raises(UserError, match="unknown stage"):
        parse_stages("filter,train")

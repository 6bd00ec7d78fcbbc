"""The `resto traces …` commands on the real SGD data, and broken trace lines."""

import json

from agent.trace_io import read_traces
from cli.main import main


def test_from_sgd_s1_and_formats(data_dir, tmp_path, capsys):
    out = tmp_path / "s1.jsonl"
    assert main(["--data-dir", str(data_dir), "traces", "from-sgd", "--s1", "--out", str(out)]) == 0
    traces, report = read_traces(out)
    assert report.loaded == 327
    assert "context" in json.loads(out.read_text().splitlines()[0])
    out2 = tmp_path / "r1.jsonl"
    assert main(["--data-dir", str(data_dir), "traces", "from-sgd", "--single-domain", "--format", "messages",
                 "--out", str(out2)]) == 0
    assert len(out2.read_text().splitlines()) == 367
    assert "messages" in json.loads(out2.read_text().splitlines()[0])


def test_scenario_command_writes_traces_and_stats(data_dir, tmp_path):
    assert main(["--data-dir", str(data_dir), "traces", "scenario", "s4", "--seed", "2", "--out", str(tmp_path)]) == 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["traces"] == 5 and stats["vs_s1"]["clean_share"] == 1.0
    assert read_traces(tmp_path / "traces.jsonl")[1].loaded == 5


def test_stats_reports_and_skips_broken_lines(tmp_path, capsys, small_traces):
    from agent.trace_io import write_traces

    path = tmp_path / "t.jsonl"
    write_traces(path, small_traces)
    lines = path.read_text().splitlines()
    lines.insert(1, '{"context": "not json')
    path.write_text("\n".join(lines) + "\n")
    assert main(["traces", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 conversations, 1 bad lines skipped" in out and "line 2:" in out
    assert '"traces": 4' in out
    assert main(["traces", "stats", str(path), "--strict"]) == 2
    assert ":2:" in capsys.readouterr().err

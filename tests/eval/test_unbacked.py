"""Benchmark rows whose reply names a restaurant the conversation never gave: the counts, the report
section, and `resto eval score --report-dir` with and without a built database."""

from __future__ import annotations

import json

from agent.grounding import Gazetteer
from cli.main import main
from eval.report import render_markdown
from eval.score import score_rows
from eval.unbacked import unbacked_lines, unbacked_replies
from tests.support.agent_db import small_db

GAZETTEER = Gazetteer({"restaurant_name": ["Thai Orchid", "Mimi's Cafe"], "city": ["San Jose"], "cuisine": ["Thai"]})
SEARCHED = json.dumps([
    {"role": "user", "content": "Thai food in San Jose"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Thai"}}}]},
    {"role": "user", "content": json.dumps([{"restaurant_name": "Thai Orchid", "city": "San Jose"}])},
])


def reply(message: str, key: str = "arguments") -> str:
    return json.dumps({"name": "respond_to_user", key: {"message": message}})


def rows() -> list[dict]:
    return [
        # a made-up recommendation, and the reference recommending what the search returned
        {"question": SEARCHED, "answer": reply("Thai Orchid is nice.", "parameters"),
         "prediction": f"<tool_call>\n{reply('How about Mimi' + chr(39) + 's Cafe?')}\n</tool_call>"},
        # the model recommends what the search returned
        {"question": SEARCHED, "answer": reply("Anything else?", "parameters"), "prediction": reply("Thai Orchid it is.")},
        # not replies: a service call, garbage, a conversation that is not JSON
        {"question": SEARCHED, "answer": reply("Shall I book?", "parameters"),
         "prediction": json.dumps({"name": "FindRestaurants", "arguments": {"city": "San Jose"}})},
        {"question": "not json", "answer": reply("Try Mimi's Cafe.", "parameters"), "prediction": "garbage"},
    ]


def test_counts_per_side_with_the_names():
    counts = unbacked_replies(rows(), GAZETTEER)
    assert counts["predicted"] == {"replies": 2, "unbacked": 1, "names": {"Mimi's Cafe": 1}}
    # the last reference reply names Mimi's Cafe in a conversation that cannot be read: nothing backs it
    assert counts["reference"] == {"replies": 4, "unbacked": 1, "names": {"Mimi's Cafe": 1}}
    table = unbacked_lines(counts)
    assert table[2] == "| the model | 2 | 1 | 0.500 | Mimi's Cafe (1) |"
    assert table[3] == "| the reference | 4 | 1 | 0.250 | Mimi's Cafe (1) |"
    assert unbacked_lines({}) == []


def test_the_report_shows_the_section_only_with_counts():
    result = score_rows(rows())
    assert "never gave" not in render_markdown(result, {"label": "x"})
    result.unbacked = unbacked_replies(rows(), GAZETTEER)
    assert "## Replies naming a restaurant the conversation never gave" in render_markdown(result, {"label": "x"})
    assert result.to_json()["unbacked"]["predicted"]["unbacked"] == 1


def test_cli_score_counts_them_when_the_database_is_built(tmp_path, capsys, monkeypatch):
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("\n".join(json.dumps(r) for r in rows()) + "\n")
    db = tmp_path / "resto.db"
    monkeypatch.setenv("RESTO_DB", str(db))
    args = ["eval", "score", str(predictions), "--report-dir", str(tmp_path / "rep")]
    assert main(args) == 0  # no database yet: the other metrics, and a note saying why this one is missing
    assert "run `resto db build` first. Replies naming made-up restaurants are not counted." in capsys.readouterr().err
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["unbacked"] == {}

    small_db(db)  # Mimi's Cafe and Thai Orchid
    assert main(args) == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["unbacked"]["predicted"] == {"replies": 2, "unbacked": 1, "names": {"Mimi's Cafe": 1}}
    assert "| the model | 2 | 1 | 0.500 | Mimi's Cafe (1) |" in (tmp_path / "rep" / "report.md").read_text()

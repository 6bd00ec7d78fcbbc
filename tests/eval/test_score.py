import json

import pytest

from cli.main import main
from eval.score import score_rows
from tests.support.scripted_server import ScriptedServer, completion

ANSWER_FIND = '{"name": "FindRestaurants", "parameters": {"city": "Napa", "cuisine": "Thai"}}'
ANSWER_RESPOND = '{"name": "respond_to_user", "parameters": {"message": "Anything else?"}}'


def rows():
    return [
        {
            "question": "[]",
            "answer": ANSWER_FIND,
            "prediction": "<tool_call>\n"
            '{"name": "FindRestaurants", "arguments": {"city": "Napa", "cuisine": "Thai"}}\n</tool_call>',
        },
        {
            "question": "[]",
            "answer": ANSWER_FIND,
            "prediction": '{"name": "respond_to_user", "arguments": {"message": "Which city?"}}',
        },
        {"question": "[]", "answer": ANSWER_RESPOND, "prediction": "garbage"},
        {
            "question": "[]",
            "answer": ANSWER_RESPOND,
            "prediction": '{"name": "respond_to_user", "arguments": {"message": "Anything else?"}}',
        },
    ]


def test_score_rows_summary_per_function_and_confusion():
    result = score_rows(rows())
    assert [r["staged_tool_call"] for r in result.rows] == [1.0, 0.25, 0.0, 1.0]
    assert result.summary["staged_tool_call"] == pytest.approx(2.25 / 4)
    assert result.summary["binary_tool_call"] == 0.5
    assert result.function_accuracy == 0.5
    assert result.confusion == {
        "FindRestaurants": {"FindRestaurants": 1, "respond_to_user": 1},
        "respond_to_user": {"(no call)": 1, "respond_to_user": 1},
    }
    assert result.per_function["FindRestaurants"]["n"] == 2
    assert result.per_function["FindRestaurants"]["binary_tool_call"] == 0.5
    assert "llm-as-a-judge" not in result.summary


def test_cli_score_with_scripted_judge(tmp_path, capsys):
    """The judge endpoint is tests/support/scripted_server.py on 127.0.0.1, standing in for gpt-oss-120b."""
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        "\n".join(json.dumps(r) for r in rows()) + "\nnot json\n" + json.dumps({"question": "x"}) + "\n"
    )
    rubric = tmp_path / "job_description.json"
    rubric.write_text(json.dumps({"llm_as_a_judge_instructions": "Be strict."}))

    def handler(body):
        user = body["messages"][-1]["content"]
        return completion("bad" if "Which city" in user else "good")

    out = tmp_path / "scored.jsonl"
    with ScriptedServer(handler) as server:
        code = main(
            [
                "eval",
                "score",
                str(pred),
                "--out",
                str(out),
                "--report-dir",
                str(tmp_path / "rep"),
                "--judge-endpoint",
                server.base_url,
                "--judge-model",
                "gpt-oss-120b",
                "--judge-rubric",
                str(rubric),
            ]
        )
    assert code == 0
    captured = capsys.readouterr()
    assert "line 5: not JSON" in captured.err and "line 6: missing" in captured.err
    assert "llm-as-a-judge: 0.7500" in captured.out
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["llm-as-a-judge"] for r in scored] == [1.0, 0.0, 1.0, 1.0]
    assert all(isinstance(r["rouge"], float) for r in scored)
    assert (tmp_path / "rep" / "report.md").exists()


def test_cli_score_errors_are_clear(tmp_path, capsys):
    assert main(["eval", "score", str(tmp_path / "missing.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{}\n")
    assert main(["eval", "score", str(empty)]) == 2
    assert "no usable rows" in capsys.readouterr().err

"""The judge against a scripted OpenAI-compatible server on 127.0.0.1 (tests/support/scripted_server.py),
which stands in for the benchmark's judge, gpt-oss-120b: real HTTP, verdicts decided per request."""

import json

import pytest

from agent.llm_client import EndpointConfig
from eval.judge import EndpointJudge, JudgeItem, judge_messages, load_rubric, parse_verdict
from eval.score import score_rows
from tests.support.scripted_server import Delay, ScriptedServer, completion

RUBRIC = "Score good when the prediction calls the same function."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("good", 1.0),
        ("Bad", 0.0),
        ("  **GOOD**. ", 1.0),
        ('"bad"', 0.0),
        ('{"verdict": "good"}', 1.0),
        ('{"score": "bad"}', 0.0),
        ("<think>it is bad? no</think>good", 1.0),
        ("The reference is good but the prediction is off, so: bad", 0.0),
        ("", None),
        ("maybe", None),
        ("not good", None),
        ("good or bad, hard to say", None),
        ('{"other": 1}', None),
        (None, None),
    ],
)
def test_parse_verdict(text, expected):
    assert parse_verdict(text) == expected


def test_messages_carry_rubric_conversation_reference_prediction():
    msgs = judge_messages(RUBRIC, JudgeItem("[QUESTION]", "[ANSWER]", "[PRED]"))
    assert RUBRIC in msgs[0]["content"]
    for part in ("[QUESTION]", "[ANSWER]", "[PRED]"):
        assert part in msgs[1]["content"]


@pytest.mark.data
def test_benchmark_rubric_loads(benchmark_dir):
    rubric = load_rubric(benchmark_dir / "scenario-1-baseline" / "tft" / "job_description.json")
    assert "respond_to_user" in rubric and "'bad'" in rubric


def _handler(body):
    user = body["messages"][-1]["content"]
    if "PRED-GARBAGE" in user:
        return completion("I cannot decide")
    if "PRED-SLOW" in user:
        return Delay(2.0, completion("good"))
    if "PRED-500" in user:
        return 500, {"error": "overloaded"}
    return completion("bad" if "PRED-WRONG" in user else "good")


def _rows(preds):
    return [{"question": "[]", "answer": '{"name": "a", "parameters": {}}', "prediction": p} for p in preds]


def test_endpoint_judge_scores_counts_and_caches(tmp_path):
    with ScriptedServer(_handler) as server:
        config = EndpointConfig(
            base_url=server.base_url,
            model="gpt-oss-120b",
            timeout_s=0.5,
            max_retries=1,
            backoff_s=0.01,
            max_concurrency=4,
        )
        judge = EndpointJudge(config, RUBRIC, cache_dir=tmp_path / "verdicts")
        preds = ["PRED-OK", "PRED-WRONG", "PRED-GARBAGE", "PRED-SLOW", "PRED-500", "PRED-OK-2"]
        result = score_rows(_rows(preds), judge=judge)
        scores = [r["llm-as-a-judge"] for r in result.rows]
        assert scores == [1.0, 0.0, None, None, None, 1.0]
        assert result.judge["scored"] == 3
        assert result.judge["unparseable"] == 1
        assert result.judge["failed"] == 2  # the timeout and the HTTP 500, after retries
        assert result.summary["llm-as-a-judge"] == pytest.approx(2 / 3)
        assert result.rows[3]["judge_raw"].startswith("ERROR:") and "timed out" in result.rows[3]["judge_raw"]
        first_requests = len(server.requests)
        assert first_requests == 4 + 2 * 2  # 4 answered once, 2 failing ones tried twice

        # a second judge on another port-independent key: answered verdicts come from the cache,
        # failures are asked again
        judge2 = EndpointJudge(config, RUBRIC, cache_dir=tmp_path / "verdicts")
        again = score_rows(_rows(preds), judge=judge2)
        assert [r["llm-as-a-judge"] for r in again.rows] == scores
        assert again.judge["cached"] == 4
        assert len(server.requests) == first_requests + 4
        sent = server.requests[0]
        assert sent["model"] == "gpt-oss-120b" and sent["temperature"] == 0.0
        assert RUBRIC in json.dumps(sent["messages"])


def test_cache_key_is_content_based(tmp_path):
    item = JudgeItem("q", "a", "p")
    from eval.judge import VerdictCache

    k = VerdictCache.key("endpoint:m", RUBRIC, item)
    assert k == VerdictCache.key("endpoint:m", RUBRIC, JudgeItem("q", "a", "p"))
    assert k != VerdictCache.key("endpoint:m", RUBRIC, JudgeItem("q", "a", "p2"))
    assert k != VerdictCache.key("endpoint:other", RUBRIC, item)

"""The tools' JSON schemas, generated from the typed definitions, equal the benchmark's exactly."""

from __future__ import annotations

import json

import pytest

from agent.tools import CallValidationError, tool_schemas, validate_call

SCENARIOS = ["scenario-1-baseline", "scenario-2-noisy-labels", "scenario-4-low-data"]


@pytest.mark.data
def test_schemas_equal_job_description(benchmark_dir):
    path = benchmark_dir / "scenario-1-baseline" / "tft" / "job_description.json"
    expected = json.loads(path.read_text())["tools"]
    assert tool_schemas() == expected  # order, descriptions, enums, required lists included
    assert json.dumps(tool_schemas()) == json.dumps(expected)  # and key order


@pytest.mark.data
def test_same_tools_in_other_clean_scenarios(benchmark_dir):
    for folder in sorted(benchmark_dir.glob("scenario-*/tft/job_description.json")):
        if any(folder.parts[-3].startswith(s) for s in SCENARIOS):
            assert json.loads(folder.read_text())["tools"] == tool_schemas(), folder


def test_names_and_required_fields():
    by_name = {t["function"]["name"]: t["function"] for t in tool_schemas()}
    assert list(by_name) == ["respond_to_user", "ReserveRestaurant", "FindRestaurants"]
    assert by_name["respond_to_user"]["parameters"]["required"] == ["message"]


def test_validate_call_reports_problems_for_the_model():
    with pytest.raises(CallValidationError, match="Unknown function"):
        validate_call("BookHotel", {})
    with pytest.raises(CallValidationError, match="missing required parameter 'message'"):
        validate_call("respond_to_user", {})

import json

from eval.compare import compare_markdown, load_run, normalize_scenario


def write_run(path, scenario, pipeline, judge, staged):
    path.mkdir()
    (path / "report.json").write_text(
        json.dumps(
            {
                "meta": {"label": path.name, "scenario": scenario, "pipeline": pipeline},
                "n": 359,
                "metrics": {"llm-as-a-judge": judge, "staged_tool_call": staged},
            }
        )
    )
    return path


def test_scenario_names():
    assert normalize_scenario("scenario-4-low-data") == "S4"
    assert normalize_scenario("s2") == "S2"
    assert normalize_scenario("nothing") is None


def test_table_has_published_rows_and_deltas(tmp_path):
    a = write_run(tmp_path / "s4tft", "S4", "tft", 0.80, 0.70)
    b = write_run(tmp_path / "s4direct", "scenario-4-low-data", "direct", 0.60, 0.65)
    assert load_run(a).scenario == "S4"
    text = compare_markdown([a, b])
    s4 = next(line for line in text.splitlines() if line.startswith("| S4 low data") and "0.852" in line)
    cells = [c.strip() for c in s4.strip("|").split("|")]
    # tft ours / published / Δ, direct ours / published / Δ, TFT−Direct ours / published
    assert cells[1:7] == ["0.800", "0.852", "-0.052", "0.600", "0.649", "-0.049"]
    assert cells[-2:] == ["+0.200", "+0.203"]
    assert "| S1 baseline | — | 0.866 |" in text  # published-only rows are kept as reference
    assert "GLM-5" in text

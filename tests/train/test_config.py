import pytest

from train.config import DirectConfig, load_direct_config, load_yaml


@pytest.mark.parametrize("scenario", ["scenario-1-baseline", "scenario-2-noisy-labels", "scenario-5-trace-mixing"])
@pytest.mark.parametrize("kind", ["tft", "direct"])
def test_benchmark_config_keys_are_accepted(benchmark_dir, scenario, kind, tmp_path):
    data = load_yaml(benchmark_dir / scenario / kind / "config.yaml")
    text = (benchmark_dir / scenario / kind / "config.yaml").read_text() + "\ntraces: t.jsonl\n"
    (tmp_path / "c.yaml").write_text(text)
    cfg = load_direct_config(tmp_path / "c.yaml")
    assert cfg.base == data["base"]
    assert cfg.finetune.model == "Qwen/Qwen3-1.7B"  # from base.student_model_name
    assert cfg.traces == str((tmp_path / "t.jsonl").resolve())


def test_scenario_source():
    cfg = DirectConfig.model_validate({"scenario": {"name": "s4", "seed": 3}})
    assert cfg.scenario.name == "s4" and cfg.finetune.method == "lora"
    with pytest.raises(ValueError):
        DirectConfig.model_validate({"scenario": {"name": "s9"}})

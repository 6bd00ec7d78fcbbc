import pytest

from agent.settings import Settings, db_url
from cli.main import main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_settings_from_env_and_db_url(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTO_HOME", str(tmp_path))
    monkeypatch.setenv("RESTO_MAX_STEPS", "6")
    settings = Settings()
    assert settings.max_steps == 6
    assert settings.db_url == f"sqlite:///{tmp_path / 'resto.db'}"
    assert db_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_missing_data_dir_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("RESTO_DATA_DIR", raising=False)
    with pytest.raises(Exception, match="RESTO_DATA_DIR"):
        Settings().require_data_dir()

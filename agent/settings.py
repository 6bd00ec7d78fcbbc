"""The one settings object of resto.

Every field can be set by an environment variable (`RESTO_<FIELD>`, e.g. `RESTO_DATA_DIR`)
or by the matching CLI flag; the CLI builds one `Settings` and passes it down explicitly.
Nothing else in the project holds global state.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HUB_MODEL = "distillabs/tft-benchmark-s4-tft-Qwen3-1.7B"


def db_url(value: str | Path) -> str:
    """Turn a database URL or a plain SQLite file path into a SQLAlchemy URL."""
    text = str(value)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


class Settings(BaseSettings):
    """resto configuration. Env vars: `RESTO_` + the field name in upper case."""

    model_config = SettingsConfigDict(env_prefix="RESTO_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".resto",
        description="Where resto keeps its database, models, caches and runs (RESTO_HOME).",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Directory laid out like the shared data: `sgd/{train,dev,test}/…` and "
        "`tft-benchmark/scenario-*/…` (RESTO_DATA_DIR). `resto data download` fills one.",
    )
    db: str | None = Field(
        default=None,
        description="Database URL or SQLite file path; default `<home>/resto.db` (RESTO_DB).",
    )
    model: str = Field(
        default=DEFAULT_HUB_MODEL,
        description="Hub id or local path of the `hf` policy's model (RESTO_MODEL).",
    )
    adapter: str | None = Field(default=None, description="Optional PEFT LoRA adapter path or hub id.")
    endpoint: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1); "
        "when set, the `openai` policy is used instead of a local model.",
    )
    endpoint_model: str = Field(default="resto", description="Model name sent to the endpoint.")
    api_key: str | None = Field(default=None, description="API key for the endpoint (RESTO_API_KEY).")
    quantization: str | None = Field(
        default=None, description="`4bit` or `8bit` to load the local model with bitsandbytes."
    )
    guided_decoding: bool = Field(
        default=False,
        description="Local models: decode only tool calls the tool schemas allow (agent.guided); "
        "RESTO_GUIDED_DECODING=true or `--guided`.",
    )
    grounded_decoding: bool | None = Field(
        default=None,
        description="Local models: guided decoding, plus restaurant names, cities, cuisines, times, dates "
        "and party sizes only as the conversation gives them, and the search filters the user asked for "
        "(agent.grounding; the database's names come "
        "from the configured restaurant database); RESTO_GROUNDED_DECODING=true or `--grounded`. Unset "
        "(None): the model's own default (agent.resolve.declares_grounded: the demo model declares "
        "grounded, other models decode free); false or `--no-grounded` turns it off.",
    )
    confirm_bookings: bool = Field(
        default=True,
        description="Only run ReserveRestaurant after the user confirmed in their last turn.",
    )
    max_steps: int = Field(default=4, ge=1, description="Model calls allowed per user turn.")
    tool_result_role: str = Field(
        default="user",
        description="`user` (the benchmark format: results come back as the next user message) "
        "or `tool` (Qwen3's native tool role / <tool_response>).",
    )

    @property
    def db_url(self) -> str:
        return db_url(self.db) if self.db else db_url(self.home / "resto.db")

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def demo_model_dir(self) -> Path:
        """Where `resto model demo` writes, and where `resto chat` looks when no hub model loads."""
        return self.models_dir / "demo"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def require_data_dir(self) -> Path:
        """The data directory, or a clear error saying how to get one."""
        if self.data_dir is None:
            raise DataDirError(
                "No data directory configured: set RESTO_DATA_DIR (or pass --data-dir) to a folder "
                "with sgd/ and tft-benchmark/, or run `resto data download --out DIR` first."
            )
        if not self.data_dir.is_dir():
            raise DataDirError(f"Data directory {self.data_dir} does not exist.")
        return self.data_dir

    def sgd_dir(self) -> Path:
        return self.require_data_dir() / "sgd"

    def benchmark_dir(self) -> Path:
        return self.require_data_dir() / "tft-benchmark"


class DataDirError(RuntimeError):
    """The data directory is missing or misconfigured (the message says how to fix it)."""

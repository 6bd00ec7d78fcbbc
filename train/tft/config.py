"""Configuration of a TFT run: the benchmark's config.yaml keys plus a `tft:` section of ours.

A benchmark config (`tft-benchmark/scenario-*/tft/config.yaml`) names models — teacher, relabelling
committee, judge — but not where they run. Our `tft:` section maps each model name to an
OpenAI-compatible endpoint (`endpoints:`), and says where the traces and the job description are:

    base: {task: multi-turn-tool-calling-closed-book, teacher_model_name: zai.glm-5, student_model_name: Qwen3-1.7B}
    trace_processing: {min_relevance_score: 3, min_coherence_score: 2,
                       relabelling_committee_models: [openai.gpt-oss-120b, zai.glm-5], teacher_model_name: zai.glm-5}
    synthgen: {generation_target: 2000, generation_in_single_call: 1, mutation_topics: [...],
               validation_max_total_length: 20000}
    evaluation: {llm_as_a_judge_model_name: openai.gpt-oss-120b}
    tft:
      traces: traces.jsonl                 # relative paths are relative to this file
      job_description: job_description.json
      endpoints:
        zai.glm-5: {base_url: http://gpu-box:8000/v1, model: zai-org/GLM-5, api_key_env: GLM_KEY}
        openai.gpt-oss-120b: {base_url: http://gpu-box:8001/v1, model: openai/gpt-oss-120b}
      finetune: {method: lora, epochs: 3}  # TRAIN's FinetuneConfig (model defaults to the student)

A local `hf` model works as any member by serving it with `resto serve` and pointing an endpoint at it.
The sections accept unknown keys (the benchmark has more than we use), so its files load unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.llm_client import EndpointConfig
from backend.errors import UserError
from train.config import STUDENT_HUB_IDS, FinetuneConfig

STAGES = ("filter", "relabel", "synthesize", "validate", "finetune")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class BaseSection(_Open):
    task: str = Field(default="multi-turn-tool-calling-closed-book", description="benchmark task name")
    teacher_model_name: str | None = Field(default=None, description="teacher model (synthesis, arbitration)")
    student_model_name: str | None = Field(default=None, description="student model name (informational)")


class TraceProcessingSection(_Open):
    min_relevance_score: int = Field(default=3, ge=1, le=5, description="filter: drop below this relevance")
    min_coherence_score: int = Field(default=2, ge=1, le=5, description="filter: drop below this coherence")
    relabelling_committee_models: list[str] = Field(default_factory=list, description="relabel committee")
    teacher_model_name: str | None = Field(default=None, description="overrides base.teacher_model_name")
    num_traces_as_training_base: int = Field(
        default=0, ge=0, description="at most this many relabelled traces become seeds (0 = all)"
    )


class SynthgenSection(_Open):
    generation_target: int = Field(default=100, ge=0, description="valid synthetic conversations wanted")
    generation_in_single_call: int = Field(default=1, ge=1, description="conversations per teacher call")
    mutation_topics: list[str] = Field(default_factory=list, description="one is sampled per call")
    validation_max_total_length: int = Field(default=20000, ge=1, description="max characters per conversation")
    parallel_llm_calls: bool = Field(default=True, description="send synthesis calls concurrently")


class EvaluationSection(_Open):
    llm_as_a_judge_model_name: str | None = Field(default=None, description="judge for the filter and eval")


class EndpointSpec(EndpointConfig):
    """An EndpointConfig plus `api_key_env`: read the key from that environment variable."""

    api_key_env: str | None = Field(default=None, description="environment variable holding the API key")

    def resolve(self, cache_dir: Path) -> EndpointConfig:
        data = self.model_dump(exclude={"api_key_env"})
        if self.api_key_env and not data.get("api_key"):
            data["api_key"] = os.environ.get(self.api_key_env)
        if data.get("cache_dir") is None:
            data["cache_dir"] = cache_dir
        return EndpointConfig(**data)


class TFTSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    traces: Path = Field(default=Path("traces.jsonl"), description="input traces (any trace format)")
    job_description: Path = Field(
        default=Path("job_description.json"), description="task_description + tools (benchmark format)"
    )
    endpoints: dict[str, EndpointSpec] = Field(default_factory=dict, description="model name → endpoint")
    seed: int = Field(default=0, description="sampling of seeds, context traces and mutation topics")
    temperature: float = Field(default=0.7, ge=0, description="teacher temperature for synthesis")
    max_tokens: int | None = Field(default=None, description="max_tokens for every LLM request")
    seeds_per_call: int = Field(default=2, ge=1, description="relabelled seed traces shown per synthesis call")
    unlabelled_per_call: int = Field(default=1, ge=0, description="unlabelled traces shown per synthesis call")
    max_synthesis_calls: int | None = Field(
        default=None, description="give up after this many synthesis calls (default: 3 × target calls)"
    )
    near_duplicate_threshold: float = Field(
        default=0.85, gt=0, le=1, description="Jaccard of word 3-gram shingles at or above which = duplicate"
    )
    execute_calls: bool = Field(default=True, description="validate: run service calls against the DB")
    db: str | None = Field(default=None, description="restaurant DB (URL or path); default: Settings.db")
    finetune: FinetuneConfig = Field(
        default_factory=FinetuneConfig, description="TRAIN's fine-tuning settings (model: base.student_model_name)"
    )
    eval_test: Path | None = Field(default=None, description="test.jsonl for the evaluation (default: next to traces)")
    eval: dict[str, Any] = Field(default_factory=dict, description="extra options for the evaluation")


class TFTConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    base: BaseSection = Field(default_factory=BaseSection)
    trace_processing: TraceProcessingSection = Field(default_factory=TraceProcessingSection)
    synthgen: SynthgenSection = Field(default_factory=SynthgenSection)
    evaluation: EvaluationSection = Field(default_factory=EvaluationSection)
    tft: TFTSection = Field(default_factory=TFTSection)
    source_dir: Path = Field(default=Path("."), description="the config file's folder (relative paths)")

    # -- model names --------------------------------------------------------------------------
    @property
    def teacher(self) -> str:
        name = self.trace_processing.teacher_model_name or self.base.teacher_model_name
        if not name:
            raise UserError("config names no teacher: set base.teacher_model_name")
        return name

    @property
    def judge(self) -> str:
        return self.evaluation.llm_as_a_judge_model_name or self.teacher

    @property
    def committee(self) -> list[str]:
        return list(self.trace_processing.relabelling_committee_models) or [self.teacher]

    def endpoint(self, model_name: str, cache_dir: Path) -> EndpointConfig:
        spec = self.tft.endpoints.get(model_name)
        if spec is None:
            known = ", ".join(self.tft.endpoints) or "none"
            raise UserError(
                f"no endpoint for model {model_name!r} in tft.endpoints (configured: {known}); "
                "add `tft: endpoints: {" + model_name + ": {base_url: …, model: …}}` to the config"
            )
        return spec.resolve(cache_dir)

    def path(self, value: Path) -> Path:
        return value if value.is_absolute() else (self.source_dir / value)

    @property
    def traces_path(self) -> Path:
        return self.path(self.tft.traces)

    @property
    def job_path(self) -> Path:
        return self.path(self.tft.job_description)


def load_config(path: str | Path) -> TFTConfig:
    """Read and validate a YAML config; errors name the file and the bad field."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of sections (base, trace_processing, synthgen, …)")
    data["source_dir"] = path.resolve().parent
    tft = data.setdefault("tft", {}) or {}
    data["tft"] = tft
    ft = tft.setdefault("finetune", {}) or {}
    tft["finetune"] = ft
    student = (data.get("base") or {}).get("student_model_name")
    if "model" not in ft and student:  # the benchmark names its student without an org
        ft["model"] = STUDENT_HUB_IDS.get(student, student)
    if "model" in ft and not Path(ft["model"]).is_absolute() and (path.parent / ft["model"]).exists():
        ft["model"] = str((path.parent / ft["model"]).resolve())
    try:
        return TFTConfig(**data)
    except ValidationError as exc:
        raise UserError(f"{path}: invalid config:\n{exc}") from None

"""The one typed settings object.

Every knob evalkit has lives here, read once from ``EVALKIT_*`` environment variables (or a
``.env`` file in the working directory) and passed explicitly to the code that needs it, so
tests can build a ``Settings`` with a temporary store and nothing reads the environment behind
their back. Entry points build it with ``load_settings``, whose error names each variable at
fault in a line of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from evalkit.errors import UsageError
from evalkit.records import PII_KINDS

ENV_PREFIX = "EVALKIT_"


class Settings(BaseSettings):
    """Configuration for every evalkit command, page and service."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path(".evalkit"),
        description="Where the embedded SQLite store, demo files and artifacts live.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Default: a SQLite file `evalkit.db` in `data_dir`. "
            "PostgreSQL: `postgresql+psycopg://user@host:5432/db`."
        ),
    )
    batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="Records written per transaction on ingest."
    )
    max_field_chars: int = Field(
        default=200_000,
        ge=1,
        description="Longest text accepted in one field (prompt, context, response, ...).",
    )
    max_record_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest single record (one JSONL line) read before it is rejected unparsed.",
    )
    max_request_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest HTTP request body the API reads; a larger one is refused (413) "
        "before it is read into memory.",
    )
    ingest_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes preparing records on ingest; 0: one per core (at most 4) for "
        "inputs of 16 MB or more, else none, and for the HTTP API's batches of 50 or more "
        "records (launched when `evalkit serve` starts); 1: always in the ingesting process.",
    )
    redact_enabled: bool = Field(
        default=True, description="Redact PII from text fields before anything is stored."
    )
    redact_kinds: Annotated[tuple[str, ...], NoDecode] = Field(
        default=PII_KINDS,
        description="PII kinds to redact, comma-separated or a JSON list: "
        + ", ".join(PII_KINDS)
        + ".",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the HTTP API requires. `evalkit serve` refuses to start "
        "without one unless `--no-auth` is given.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Default age for `evalkit purge` when `--older-than` is not given.",
    )
    demo_serve: bool = Field(
        default=True,
        description="`evalkit demo` ends by serving the reviewer app and the API in the "
        "foreground until Ctrl-C; false: it exits after the loop (scripts, CI).",
    )
    app_session_minutes: int = Field(
        default=480,
        ge=1,
        le=10_080,
        description="How long a reviewer-app login lasts; after it the reviewer logs in again "
        "(an item in hand is released).",
    )
    review_lease_minutes: int = Field(
        default=10,
        ge=1,
        le=1440,
        description="How long a claimed item stays a reviewer's; then it returns to the queue.",
    )
    review_overlap_share: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Share of sampled items that need `review_overlap_k` distinct reviewers.",
    )
    review_overlap_k: int = Field(
        default=2, ge=2, le=10, description="Reviewers an overlap item needs."
    )
    review_gold_rate: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Chance that a claim serves a gold item the reviewer has not answered.",
    )
    review_sla_minutes: int = Field(
        default=60,
        ge=1,
        le=10_080,
        description="Due time of flagged items (guard, rules): reviewed within this many minutes.",
    )
    judge_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint (`http://host:port/v1`) that LLM-judge "
        "assertions (`deepeval:<Metric>`) call; without it and `judge_model` they are skipped.",
    )
    judge_model: str | None = Field(
        default=None, description="Model name the LLM judge is asked for."
    )
    judge_api_key: SecretStr | None = Field(
        default=None, description="API key sent to the LLM judge's endpoint, if it needs one."
    )
    labelstudio_url: str | None = Field(
        default=None,
        description="Label Studio server `evalkit labelstudio export|import` talks to "
        "(`http://host:8080`).",
    )
    labelstudio_api_key: SecretStr | None = Field(
        default=None, description="Label Studio access token (Account & Settings)."
    )
    labelstudio_project: str = Field(
        default="evalkit",
        min_length=1,
        max_length=50,
        description="Title of the Label Studio project queue items are exported to.",
    )

    watch_rules: Path | None = Field(
        default=None,
        description="YAML file of watch rules `evalkit watch` evaluates; without it, "
        "`<data_dir>/watch_rules.yaml` if present, else the built-in rules.",
    )
    watch_webhook_url: str | None = Field(
        default=None,
        description="URL that opened and closed watch alerts are POSTed to (JSON); none: "
        "alerts are only stored and printed.",
    )
    watch_webhook_timeout_s: float = Field(
        default=5.0, ge=0.1, le=60.0, description="Seconds one webhook attempt may take."
    )
    watch_webhook_retries: int = Field(
        default=3, ge=0, le=10, description="Further webhook attempts after a failed one."
    )
    watch_max_rows: int = Field(
        default=5000,
        ge=100,
        le=1_000_000,
        description="Responses per window a drift comparison uses (a seeded random sample "
        "above it), so its cost stays flat as traffic grows.",
    )
    watch_load_cap: int = Field(
        default=200_000,
        ge=1000,
        le=100_000_000,
        description="Responses a rule's look-back reads at most; above it a seeded sample of "
        "about this many plus every reviewed response, counts scaled up (the run says so).",
    )
    watch_embed_sample: int = Field(
        default=200,
        ge=20,
        le=5000,
        description="Texts per window and cell embedded for embedding drift (cached by id).",
    )
    review_hourly_rate: float = Field(
        default=30.0,
        ge=0.0,
        description="Cost of an hour of human review (USD), counted in cost per outcome.",
    )
    value_per_conversion: float = Field(
        default=0.0,
        ge=0.0,
        description="Business value of one conversion (USD), for per-route ROI; 0: no ROI.",
    )
    guard_shadow: bool = Field(
        default=False,
        description="Guard shadow mode: score and record every check, but always answer "
        "`allow` (the dry run before a guard may block).",
    )
    guard_fail_mode: Literal["open", "closed"] = Field(
        default="open",
        description="What the guard answers when scoring errors or times out: `open` "
        "(allow) or `closed` (block).",
    )
    guard_timeout_ms: float | None = Field(
        default=None,
        ge=1,
        description="Longest a guard check may take before the fail mode answers; none: no limit.",
    )
    guard_max_chars: int = Field(
        default=20_000,
        ge=1,
        description="Longest prompt, response or context the guard reads; longer texts are cut "
        "(the verdict says `truncated`).",
    )

    @field_validator("redact_kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: object) -> object:
        if isinstance(value, str):
            value = _parse_kinds(value)
        if isinstance(value, list | tuple):
            unknown = sorted(set(value) - set(PII_KINDS))
            if unknown:
                raise ValueError(
                    f"unknown PII kind(s) {', '.join(map(repr, unknown))}; "
                    f"known: {', '.join(PII_KINDS)}"
                )
            return tuple(dict.fromkeys(value))
        return value

    @property
    def resolved_database_url(self) -> str:
        """The store URL, defaulting to the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'evalkit.db').resolve()}"


def _parse_kinds(text: str) -> list[str]:
    """``email,ip`` or, as a JSON-minded user writes it, ``["email","ip"]`` → a list of kinds."""
    if not text.strip().startswith("["):
        return [part.strip() for part in text.split(",") if part.strip()]
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(kind, str) for kind in parsed):
        raise ValueError(
            'expected kinds separated by commas (email,ip) or a JSON list (["email","ip"])'
        )
    return [kind.strip() for kind in parsed]


class SettingsError(UsageError):
    """Settings that cannot be used: one problem per line, each naming its variable."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


def load_settings(**overrides: Any) -> Settings:
    """The settings of the environment (and ``.env``), with ``overrides`` on top.

    Raises ``SettingsError`` rather than pydantic's report, e.g.
    ``EVALKIT_BATCH_SIZE: must be at least 1 (got '0')``.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            # A union field (``int | None``) reports once per member; the first says enough.
            problems.setdefault(name, _describe(name, error))
        raise SettingsError(list(problems.values())) from None


#: Values never echoed in an error: they may hold a password or token.
_SECRET_SETTINGS = frozenset({"api_token", "database_url", "judge_api_key", "labelstudio_api_key"})
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "greater_than": ("gt", "must be greater than {}"),
    "less_than": ("lt", "must be less than {}"),
}
_EXPECTED = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false (also 1/0, yes/no, on/off)",
    "bool_type": "must be true or false (also 1/0, yes/no, on/off)",
}


def _describe(name: str, error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind in _BOUNDS:
        key, template = _BOUNDS[kind]
        what = template.format(ctx.get(key))
    elif kind in _EXPECTED:
        what = _EXPECTED[kind]
    elif kind == "value_error" and "error" in ctx:
        what = str(ctx["error"])
    else:
        what = error["msg"].replace("Input should", "must", 1)
    got = "" if name in _SECRET_SETTINGS else f" (got {error['input']!r})"
    return f"{ENV_PREFIX}{name.upper()}: {what}{got}"

"""The one typed settings object.

Every knob evalkit has lives here, read once from ``EVALKIT_*`` environment variables (or a
``.env`` file in the working directory) and passed explicitly to the code that needs it, so
tests can build a ``Settings`` with a temporary store and nothing reads the environment behind
their back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from evalkit.records import PII_KINDS

#: PII kinds the redactor knows; ``EVALKIT_REDACT_KINDS`` picks a subset.


class Settings(BaseSettings):
    """Configuration for every evalkit command, page and service."""

    model_config = SettingsConfigDict(
        env_prefix="EVALKIT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
        "inputs of 16 MB or more, else none; 1: always in the ingesting process.",
    )
    redact_enabled: bool = Field(
        default=True, description="Redact PII from text fields before anything is stored."
    )
    redact_kinds: Annotated[tuple[str, ...], NoDecode] = Field(
        default=PII_KINDS,
        description="Comma-separated PII kinds to redact: " + ", ".join(PII_KINDS) + ".",
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

    @field_validator("redact_kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            unknown = sorted(set(value) - set(PII_KINDS))
            if unknown:
                raise ValueError(
                    f"unknown PII kind(s) {', '.join(unknown)}; known: {', '.join(PII_KINDS)}"
                )
            return tuple(value)
        return value

    @property
    def resolved_database_url(self) -> str:
        """The store URL, defaulting to the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'evalkit.db').resolve()}"

"""Service settings, read from the environment (prefix `CARBONLEDGER_`) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_service.paths import REPO_ROOT

WINDOW_SECONDS = {"hour": 3600, "day": 86400}


class Settings(BaseSettings):
    """`CARBONLEDGER_DATABASE_URL`, `CARBONLEDGER_DATA_DIR`, `CARBONLEDGER_WINDOW`, ..."""

    model_config = SettingsConfigDict(env_prefix="CARBONLEDGER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "var", description="Where the default SQLite database lives.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in data_dir if unset.")
    window: Literal["hour", "day"] = Field(default="hour", description="Anchoring window of meter data.")
    factor_set: str = Field(default="CN-2023-v1", description="Emission factor set used to value readings.")
    future_skew_seconds: int = Field(default=300, ge=0, description="How far ahead of now a reading may be stamped.")
    ingest_workers: int = Field(default=2, ge=1, description="Processes that verify signatures and hash readings.")

    @property
    def window_seconds(self) -> int:
        return WINDOW_SECONDS[self.window]

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'carbonledger.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""Service settings, read from the environment (prefix `CARBONLEDGER_`) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_core.paths import DEPLOYMENTS_DIR, REPO_ROOT

WINDOW_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400}


class Settings(BaseSettings):
    """`CARBONLEDGER_DATABASE_URL`, `CARBONLEDGER_DATA_DIR`, `CARBONLEDGER_WINDOW`, ..."""

    model_config = SettingsConfigDict(env_prefix="CARBONLEDGER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "var", description="Where the default SQLite database lives.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in data_dir if unset.")
    window: Literal["hour", "day", "week"] = Field(
        default="hour", description="Anchoring window of meter data (a week starts on a Thursday, 00:00 UTC, as the "
        "Unix epoch did)."
    )
    factor_set: str | None = Field(
        default=None, description="Override: value every reading with this factor set id (e.g. CN-2023-v1); unset: "
        "each reading with the dated set valid at its timestamp (oracles/data/factor_sets.json).",
    )
    pact_hosts: str = Field(
        default="", description="Comma-separated base URLs (https://...) of the PACT hosts members may import "
        "supplier footprints from; none by default, so the service connects to no host a member names."
    )
    pact_answer_client_id: str = Field(
        default="", description="The client id this ledger holds at the PACT hosts it answers footprint requests "
        "of (answers go only to CARBONLEDGER_PACT_HOSTS); unset: answers are sent without a token."
    )
    pact_answer_client_secret: SecretStr | None = Field(
        default=None, description="The client secret that goes with pact_answer_client_id."
    )
    future_skew_seconds: int = Field(default=300, ge=0, description="How far ahead of now a reading may be stamped.")
    ingest_workers: int = Field(default=2, ge=1, description="Processes that verify signatures and hash readings.")

    # Chain access.
    chain: str = Field(default="embedded", description='"embedded" (in-process chain) or a JSON-RPC URL.')
    network: str = Field(default="local", description="Network name: the suite is read from deployments/<name>.json.")
    public_node_url: str | None = Field(
        default=None, max_length=2048, description="The JSON-RPC URL the console proposes to a browser checking a "
        "proof itself. Unset: the service's own /rpc on the embedded chain, else only the scheme, host and port "
        "of `chain` (its credentials, path and query may hold a provider's key and are never shown).",
    )
    deployments_dir: Path = Field(default=DEPLOYMENTS_DIR, description="Where deployment records live.")
    gas_limit: int | None = Field(
        default=None, ge=21000, description="Fixed gas limit per transaction; unset: 15M on the embedded chain, "
        "estimated on a node."
    )
    preflight: Literal["single", "all", "none"] = Field(
        default="single",
        description="Which sends are first run as eth_call, so a revert costs no nonce: single-transaction "
        "requests, every transaction, or none (mined failures are then replayed to decode them).",
    )
    rpc_timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of one JSON-RPC request to a node.")
    retry_attempts: int = Field(default=4, ge=1, description="Tries of a chain request before answering 503.")
    retry_backoff_seconds: float = Field(default=0.2, ge=0, description="First wait between tries; doubles.")
    retry_backoff_max_seconds: float = Field(default=2.0, ge=0, description="Longest wait between tries.")
    group_commit: bool = Field(
        default=True, description="Concurrent single-transaction requests are written, signed and sent together "
        "(one outbox write, one JSON-RPC batch, one receipt poll), each answered with its own transaction.",
    )
    receipt_timeout_seconds: float = Field(default=60.0, gt=0, description="How long a waiting request waits.")
    outbox_interval_seconds: float = Field(default=0.5, gt=0, description="Pace of the background outbox pump.")
    outbox_confirmations: int | None = Field(
        default=None, ge=0, description="Blocks on top of a transaction's block before the outbox calls it final; "
        "unset: as index_confirmations.",
    )
    claim_seconds: float = Field(
        default=10.0, gt=0, description="How long a process owns the queued outbox rows it wrote before another "
        "process may take them over.",
    )
    send_attempts_max: int = Field(
        default=20, ge=1, description="Refusals by the node after which a relayed transaction fails (the service's "
        "own keep their nonce and are tried on, each pause twice the last, up to a minute).",
    )
    relay_pending_max: int = Field(
        default=64, ge=1, description="Relayed transactions a member may have pending (sent, not yet mined) at once; "
        "more answer 429.",
    )
    treasury_key_file: Path | None = Field(
        default=None, description="On a network that charges gas: file (mode 0600) with the private key of an "
        "account that tops up the gas money of the keys the service keeps, through the outbox. Unset: a key that "
        "cannot pay answers 409 InsufficientGasFunds.",
    )
    gas_topup_threshold_wei: int = Field(
        default=10**16, ge=0, description="A kept key whose balance would fall below this after its transactions "
        "is topped up by the treasury.",
    )
    gas_topup_target_wei: int = Field(
        default=10**17, ge=0, description="The balance a top-up brings a kept key to (more when its transactions "
        "need more).",
    )
    idempotency_key_hours: float = Field(
        default=24.0, gt=0, description="How long an Idempotency-Key is remembered (a retry within it answers the "
        "original result).",
    )

    # Keys and identity.
    key_secret: SecretStr | None = Field(
        default=None,
        description="Secret that seals custodial keys and documents (scrypt); required on a node unless "
        "key_secret_file is set; on the embedded chain, unset: generated into <data_dir>/key-secret.",
    )
    key_secret_file: Path | None = Field(
        default=None, description="File holding the key secret (mode 0600), instead of key_secret; "
        "`admin rotate-secret` writes the new secret there.",
    )
    bootstrap_api_key: SecretStr | None = Field(
        default=None, description="API key granted to the bootstrap regulator; a random one is made if unset."
    )
    bootstrap_regulator_key: SecretStr | None = Field(
        default=None, description="On a node: the private key of a regulator the service acts for at start-up."
    )
    signed_request_window_seconds: int = Field(default=300, ge=1, description="Accepted clock skew of signed requests.")
    member_cache_seconds: float = Field(
        default=2.0, ge=0,
        description="How long an on-chain member view is reused (the service drops it on its own changes and on the "
        "membership events its index takes in).",
    )
    api_key_days: int = Field(default=90, ge=1, description="Default lifetime of an issued API key.")

    # Event index.
    index_confirmations: int | None = Field(
        default=None, ge=0, description="Blocks below the head before indexed rows are final; unset: 0 on the "
        "embedded chain, 12 on a node.",
    )
    index_range_size: int = Field(default=5000, ge=1, description="Blocks per eth_getLogs range of the indexer.")
    index_interval_seconds: float = Field(default=1.0, gt=0, description="Pace of the background indexer.")
    index_max_lag_blocks: int = Field(
        default=100, ge=0, description="/ready fails when the index is more blocks than this behind the head.",
    )

    # HTTP API.
    api_host: str = Field(default="127.0.0.1", description="Address `carbonledger serve` listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port `carbonledger serve` listens on.")
    page_size_max: int = Field(
        default=500, ge=100, le=500, description="Largest page a list endpoint returns: a larger `limit` is "
        "refused with 422 (never clamped, so a client does not take a short page for the end of the list). From "
        "100 (the default page) to 500 (the bound the API documents).",
    )
    batch_max: int = Field(default=1000, ge=1, description="Most transfers in one batch request.")

    # Limits (in-process: with several service processes, each keeps its own rate buckets).
    request_body_max_bytes: int = Field(
        default=2**20, ge=1024, description="Largest JSON or form request body (and pushed meter batch), in bytes; "
        "larger answer 413 before authentication.",
    )
    upload_body_max_bytes: int = Field(
        default=51 * 2**20, ge=1024, description="Largest request body of a document upload route, in bytes (a "
        "50 MiB document and its form); larger answer 413 before authentication.",
    )
    rate_limit_per_second: float = Field(
        default=200.0, ge=0, description="Requests per second an API key (or a signing address) may make on "
        "average; more answer 429 with Retry-After. 0: no limit.",
    )
    rate_limit_burst: int = Field(
        default=1000, ge=1, description="Requests an API key (or a signing address) may make at once before the "
        "rate applies.",
    )
    auth_failures_per_minute: float = Field(
        default=30.0, ge=0, description="Failed authentications per minute a client address may make on average; "
        "beyond them its requests answer 429 with Retry-After until the bucket refills. 0: no limit.",
    )
    auth_failures_burst: int = Field(
        default=60, ge=1, description="Failed authentications a client address may make at once before the rate "
        "applies.",
    )
    quarantine_per_device_hour: int = Field(
        default=1000, ge=0, description="Quarantined readings kept per device in any hour from pushed batches; "
        "beyond it they are counted in the answer (quarantine_not_stored), not stored.",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token /metrics requires when set (401 without it); unset: /metrics is "
        "open.",
    )

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

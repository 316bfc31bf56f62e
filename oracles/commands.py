"""The oracle's commands as plain functions (the `python -m oracles` CLI and the service call these)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.config import Settings, get_settings
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.session import make_engine, session_factory
from oracles.anchor_records import window_json
from oracles.anchoring import AnchorOutcome, MeterAnchorClient, anchor_pending
from oracles.batches import BuiltBatch, build_closed_batches
from oracles.devices import register_devices
from oracles.factors import factor_choice
from oracles.ingest import IngestSummary, ingest_messages
from oracles.proofs import ReadingProof, prove_reading
from oracles.revalue import revalue as revalue_readings
from oracles.simulator import ParkLayout, simulate_messages, simulate_park
from oracles.sources import read_messages, write_csv, write_jsonl

ORACLE_KEY_ENV = "CARBONLEDGER_ORACLE_KEY"


class NoOracleKey(RuntimeError):
    """Sending to MeterAnchor needs the oracle's key, and none was given."""


def parse_utc(text: str) -> int:
    """Seconds since the epoch of an ISO 8601 time (UTC if no offset is given) or of an integer."""
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(url: str | None = None, settings: Settings | None = None) -> Database:
    """The configured (or given) database, migrated to the latest schema."""
    settings = settings or get_settings()
    engine = make_engine(url or settings.resolved_database_url())
    upgrade_to_head(engine)
    return Database(engine, session_factory(engine))


@dataclass(frozen=True)
class SimulationResult:
    layout_path: Path
    messages_path: Path
    messages: int
    readings: int


def simulate(
    out: Path,
    layout_path: Path,
    enterprises: int = 2,
    devices_per_enterprise: int = 10,
    readings_per_device: int = 1440,
    interval_seconds: int = 60,
    readings_per_message: int = 60,
    seed: int = 0,
    start: int = 1_704_067_200,  # 2024-01-01T00:00:00Z
    first_enterprise_org_id: int = 11,
) -> SimulationResult:
    """Write a simulated park's layout (devices and public keys) and its signed messages (JSONL or CSV)."""
    layout = simulate_park(enterprises, devices_per_enterprise, seed, first_enterprise_org_id=first_enterprise_org_id)
    layout.save(layout_path)
    messages = simulate_messages(layout, start, readings_per_device, interval_seconds, readings_per_message)
    if out.suffix.lower() == ".csv":
        readings = write_csv(messages, out)
        count = -(-readings_per_device // readings_per_message) * len(layout.devices)
    else:
        count = write_jsonl(messages, out)
        readings = readings_per_device * len(layout.devices)
    return SimulationResult(layout_path, out, count, readings)


def ingest_file(
    db: Database,
    path: Path,
    layout_path: Path | None = None,
    factor_set: str | None = None,
    window_seconds: int | None = None,
    workers: int | None = None,
    now: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Ingest a JSONL or CSV file of messages (registering the layout's devices first, if given)."""
    settings = settings or get_settings()
    with db.sessions() as session:
        if layout_path is not None:
            register_devices(session, ParkLayout.load(layout_path).device_infos())
        summary = ingest_messages(
            session,
            read_messages(path),
            factor_set=factor_choice(factor_set or settings.factor_set),
            window_seconds=window_seconds or settings.window_seconds,
            now=now,
            future_skew_seconds=settings.future_skew_seconds,
            workers=workers or settings.ingest_workers,
            source=str(path),
            progress=progress,
        )
        session.commit()
    return summary


def build_windows(db: Database, closed_before: int | None = None,
                  progress: Callable[[BuiltBatch], None] | None = None) -> list[BuiltBatch]:
    """Build every window that has ended (by `closed_before`, default now)."""
    with db.sessions() as session:
        return build_closed_batches(session, int(time.time()) if closed_before is None else closed_before, progress)


def connect_meter_anchor(rpc_url: str, network: str, oracle_key: str | None = None,
                         read_only: bool = False) -> MeterAnchorClient:
    """A client for the deployed `MeterAnchor` of `network`, sending as the oracle key
    (argument or `CARBONLEDGER_ORACLE_KEY`); `read_only` needs no key and only calls views."""
    from eth_account import Account
    from web3 import HTTPProvider, Web3

    from ledger_core.chain.compiler import load_artifacts
    from ledger_core.chain.deploy import bind, load_deployment
    from ledger_core.chain.errors import RevertDecoder
    from ledger_core.chain.sender import TransactionSender

    key = oracle_key or os.environ.get(ORACLE_KEY_ENV)
    if not key and not read_only:
        raise NoOracleKey(f"no oracle key: set {ORACLE_KEY_ENV}")
    w3 = Web3(HTTPProvider(rpc_url))
    artifacts = load_artifacts()
    deployment = load_deployment(network, get_settings().deployments_dir)
    contract = bind(w3, artifacts, {"MeterAnchor": deployment.addresses["MeterAnchor"]})["MeterAnchor"]
    if read_only:
        return MeterAnchorClient(contract, None, deployment.block)
    sender = TransactionSender(w3, Account.from_key(key), RevertDecoder.from_artifacts(artifacts.values()))
    return MeterAnchorClient(contract, sender, deployment.block)


def anchor_windows(db: Database, client: MeterAnchorClient,
                   progress: Callable[[AnchorOutcome], None] | None = None) -> list[AnchorOutcome]:
    with db.sessions() as session:
        return anchor_pending(session, client, progress)


def prove(db: Database, reading_id: int, client: MeterAnchorClient | None = None) -> dict[str, Any]:
    """The proof of a reading as JSON, checked in Python and, given a client, by the contract."""
    with db.sessions() as session:
        proof: ReadingProof = prove_reading(session, reading_id)
    result = proof.as_json()
    result["verified_in_python"] = proof.verify() is not None
    if client is not None and proof.anchor_id is not None:
        result.update(window_json(client.anchored_window(proof.anchor_id)))
        valid, _ = client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg, proof.steps)
        result["verified_on_chain"] = valid
    return result


def parse_period(text: str) -> tuple[int, int]:
    """`START/END` (ISO 8601 times or epoch seconds, UTC if no offset): the period `[START, END)`."""
    start, sep, end = text.partition("/")
    if not sep:
        raise ValueError(f"a period is START/END, e.g. 2024-01-01T00:00:00Z/2025-01-01T00:00:00Z: {text!r}")
    return parse_utc(start), parse_utc(end)


def revalue(db: Database, set_id: str, period: tuple[int, int], requested_by: str, reason: str = "",
            enterprise_org_id: int | None = None) -> dict[str, Any]:
    """Re-value the stored readings of `period` with `set_id` as a separate, recorded valuation (its report)."""
    with db.sessions() as session:
        record = revalue_readings(session, set_id, period[0], period[1], requested_by, reason, enterprise_org_id)
        session.commit()
        return dict(record.report)

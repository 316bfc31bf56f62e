"""Current-state tables kept from the event rows: members, balances, reports, devices, credit
projects and market orders.

Each projection is applied to a range's new rows inside the range's transaction, and
rebuilt from the event tables (which are the index's record) after a rollback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, literal, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import func

from ledger_core.db.models import (
    ChainBalance,
    ChainCreditProject,
    ChainDevice,
    ChainDeviceEvent,
    ChainMember,
    ChainMemberEvent,
    ChainOrder,
    ChainOrderEvent,
    ChainProjectEvent,
    ChainReport,
    ChainReportEvent,
    ChainTransfer,
)
from ledger_service.indexer.handlers import ZERO_ADDRESS

Values = Mapping[str, Any]

MEMBERS: Table = ChainMember.__table__  # type: ignore[assignment]
BALANCES: Table = ChainBalance.__table__  # type: ignore[assignment]
REPORTS: Table = ChainReport.__table__  # type: ignore[assignment]
DEVICES: Table = ChainDevice.__table__  # type: ignore[assignment]
MEMBER_EVENTS: Table = ChainMemberEvent.__table__  # type: ignore[assignment]
REPORT_EVENTS: Table = ChainReportEvent.__table__  # type: ignore[assignment]
DEVICE_EVENTS: Table = ChainDeviceEvent.__table__  # type: ignore[assignment]
TRANSFERS: Table = ChainTransfer.__table__  # type: ignore[assignment]
PROJECTS: Table = ChainCreditProject.__table__  # type: ignore[assignment]
PROJECT_EVENTS: Table = ChainProjectEvent.__table__  # type: ignore[assignment]
ORDERS: Table = ChainOrder.__table__  # type: ignore[assignment]
ORDER_EVENTS: Table = ChainOrderEvent.__table__  # type: ignore[assignment]


def apply_member(conn: Connection, e: Values) -> None:
    account, kind = e["account"], e["kind"]
    where = MEMBERS.c.account == account
    stamp = {"updated_block": e["block_number"], "updated_tx": e["tx_hash"]}
    if kind == "admitted":
        conn.execute(insert(MEMBERS).values(account=account, org_id=e["org_id"], roles=e["roles"] or [],
                                            status="active", frozen=False, admitted_block=e["block_number"], **stamp))
        return
    changes: dict[str, dict[str, Any]] = {
        "suspended": {"status": "suspended"},
        "reinstated": {"status": "active"},
        "revoked": {"status": "revoked", "roles": []},
        "frozen": {"frozen": True},
        "unfrozen": {"frozen": False},
    }
    conn.execute(update(MEMBERS).where(where).values(**changes[kind], **stamp))


def apply_report(conn: Connection, e: Values) -> None:
    kind = e["kind"]
    if kind == "submitted":
        conn.execute(insert(REPORTS).values(
            report_id=e["report_id"], org_id=e["org_id"], year=e["year"], version=e["version"],
            previous_report_id=e["previous_report_id"], submitter=e["actor"], document_hash=e["document_hash"],
            reported_kg=e["reported_kg"], anchors_root=e["anchors_root"], anchored_mg=e["anchored_mg"],
            reading_count=e["reading_count"], status="submitted", updated_block=e["block_number"]))
        return
    changes: dict[str, Any] = {"status": kind, "updated_block": e["block_number"]}
    if kind in ("verified", "rejected"):
        changes["verifier"] = e["actor"]
    if kind in ("verified", "finalized"):
        changes["verified_kg"] = e["verified_kg"]
    if kind == "finalized":
        changes.update(finalizer=e["actor"], obligation_tonnes=e["obligation_tonnes"])
    conn.execute(update(REPORTS).where(REPORTS.c.report_id == e["report_id"]).values(**changes))


def apply_device(conn: Connection, e: Values) -> None:
    kind = e["kind"]
    if kind == "registered":
        conn.execute(insert(DEVICES).values(
            device_id=e["device_id"], enterprise_org_id=e["enterprise_org_id"], facility_id=e["facility_id"],
            workshop_id=e["workshop_id"], public_key_hash=e["public_key_hash"], active=True,
            registered_block=e["block_number"], registered_tx=e["tx_hash"]))
        return
    changes: dict[str, Any] = (
        {"active": e["active"]} if kind == "active_set" else {"public_key_hash": e["public_key_hash"]})
    conn.execute(update(DEVICES).where(DEVICES.c.device_id == e["device_id"]).values(**changes))


def apply_project(conn: Connection, e: Values) -> None:
    kind = e["kind"]
    if kind == "registered":
        conn.execute(insert(PROJECTS).values(
            project_id=e["project_id"], owner=e["owner"], methodology=e["methodology"],
            document_hash=e["document_hash"], location=e["location"], status="active",
            registered_block=e["block_number"], registered_tx=e["tx_hash"], updated_block=e["block_number"]))
        return
    conn.execute(update(PROJECTS).where(PROJECTS.c.project_id == e["project_id"]).values(
        status="suspended" if kind == "suspended" else "active", updated_block=e["block_number"]))


def apply_order(conn: Connection, e: Values) -> None:
    kind = e["kind"]
    if kind == "listed":
        conn.execute(insert(ORDERS).values(
            order_id=e["order_id"], seller=e["seller"], asset=e["asset"], token_id=e["token_id"], amount=e["amount"],
            remaining=e["amount"], price=e["price"], expiry=e["expiry"], status="open",
            listed_block=e["block_number"], listed_tx=e["tx_hash"], listed_time=e["block_time"],
            updated_block=e["block_number"]))
        return
    changes: dict[str, Any] = {"updated_block": e["block_number"]}
    if kind == "filled":
        changes.update(remaining=e["remaining"], status="filled" if e["remaining"] == 0 else "open")
    elif kind == "imported":  # the same order, now held by the market's new version
        changes.update(remaining=e["remaining"], status="open")
    elif kind == "migrated":  # leaving the old version changes nothing of the order itself
        pass
    else:
        changes.update(remaining=0, status=kind)
    conn.execute(update(ORDERS).where(ORDERS.c.order_id == e["order_id"]).values(**changes))


def _upsert_balances(conn: Connection, deltas: Mapping[tuple[str, int, str], int]) -> None:
    rows = [{"token": t, "token_id": i, "holder": h, "amount": d} for (t, i, h), d in deltas.items() if d]
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        for row in rows:
            key = (BALANCES.c.token == row["token"]) & (BALANCES.c.token_id == row["token_id"]) & (
                BALANCES.c.holder == row["holder"])
            if conn.execute(update(BALANCES).where(key).values(amount=BALANCES.c.amount + row["amount"])).rowcount == 0:
                conn.execute(insert(BALANCES).values(**row))
        return
    stmt = (sqlite.insert(BALANCES) if dialect == "sqlite" else postgresql.insert(BALANCES))
    stmt = stmt.on_conflict_do_update(index_elements=["token", "token_id", "holder"],
                                      set_={"amount": BALANCES.c.amount + stmt.excluded.amount})
    conn.execute(stmt, rows)


def apply_transfers(conn: Connection, transfers: Sequence[Values]) -> None:
    deltas: dict[tuple[str, int, str], int] = defaultdict(int)
    for t in transfers:
        if t["from_address"] != ZERO_ADDRESS:
            deltas[(t["token"], t["token_id"], t["from_address"])] -= t["amount"]
        if t["to_address"] != ZERO_ADDRESS:
            deltas[(t["token"], t["token_id"], t["to_address"])] += t["amount"]
    _upsert_balances(conn, deltas)


# event table -> (state table, apply one row); rows are applied in log order.
ROW_PROJECTIONS: dict[str, tuple[Table, Callable[[Connection, Values], None], Table]] = {
    "chain_member_events": (MEMBERS, apply_member, MEMBER_EVENTS),
    "chain_report_events": (REPORTS, apply_report, REPORT_EVENTS),
    "chain_device_events": (DEVICES, apply_device, DEVICE_EVENTS),
    "chain_project_events": (PROJECTS, apply_project, PROJECT_EVENTS),
    "chain_order_events": (ORDERS, apply_order, ORDER_EVENTS),
}


def apply(conn: Connection, rows_by_table: Mapping[str, Sequence[Values]]) -> None:
    """Bring the state tables forward by one range's rows (each table's rows in log order)."""
    for table, (_, fn, _) in ROW_PROJECTIONS.items():
        for row in rows_by_table.get(table, ()):
            fn(conn, row)
    apply_transfers(conn, rows_by_table.get("chain_transfers", ()))


def rebuild(conn: Connection) -> None:
    """Recompute every state table from the event tables."""
    for state, fn, events in ROW_PROJECTIONS.values():
        conn.execute(delete(state))
        for row in conn.execute(select(events).order_by(events.c.block_number, events.c.log_index)).mappings():
            fn(conn, dict(row))
    conn.execute(delete(BALANCES))
    t = TRANSFERS
    legs = union_all(
        select(t.c.token, t.c.token_id, t.c.to_address.label("holder"), t.c.amount.label("amount"))
        .where(t.c.to_address != ZERO_ADDRESS),
        select(t.c.token, t.c.token_id, t.c.from_address.label("holder"), (literal(0) - t.c.amount).label("amount"))
        .where(t.c.from_address != ZERO_ADDRESS),
    ).subquery()
    conn.execute(insert(BALANCES).from_select(
        ["token", "token_id", "holder", "amount"],
        select(legs.c.token, legs.c.token_id, legs.c.holder, func.sum(legs.c.amount))
        .group_by(legs.c.token, legs.c.token_id, legs.c.holder),
    ))

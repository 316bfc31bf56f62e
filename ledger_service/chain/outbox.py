"""The send path: every transaction is written to the outbox, signed, stored, then sent.

`Outbox.submit` takes intents (contract, function, arguments, signer) and walks them
through the outbox states in batches: one SQL insert for the intents, one update for
the signed transactions, one JSON-RPC batch to the node, one update for the replies,
and (when asked to wait) one batch of receipts. Each stage is committed before the
next touches the chain, so `Outbox.recover` (run at start-up and by the background
pump) can finish whatever a crash interrupted: queued intents are signed and sent,
signed transactions are re-broadcast byte for byte (same hash: a node that already
has them says so, a chain that mined them has the receipt), sent ones are followed
to their receipt.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coincurve import PrivateKey
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger_service.chain.calldata import CallEncoder, jsonable
from ledger_service.chain.client import ChainClient, ChainUnavailable
from ledger_service.chain.errors import ContractRevert, RevertDecoder
from ledger_service.chain.nonces import NonceManager
from ledger_service.chain.signing import TxTemplate, signing_key
from ledger_service.db.models.outbox import OutboxOrigin, OutboxStatus, OutboxTransaction
from ledger_service.db.models.types import utc_now

GAS_HEADROOM = 1.2
TABLE: Table = OutboxTransaction.__table__  # type: ignore[assignment]
Faults = Callable[[str], None]


@dataclass(frozen=True)
class Intent:
    """A transaction the service is asked to send, signed with the key of `signer`."""

    contract: str
    function: str
    args: Sequence[Any]
    signer: str
    value: int = 0
    requested_by: str | None = None


@dataclass
class TxRecord:
    """An outbox row as the send path sees it."""

    id: int
    signer: str
    contract: str
    function: str
    to: str
    calldata: bytes
    value: int
    status: str
    nonce: int | None = None
    gas_limit: int | None = None
    raw_tx: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    receipt_status: int | None = None
    error_name: str | None = None
    error_args: dict[str, Any] | None = None
    last_error: str | None = None
    revert: ContractRevert | None = field(default=None, repr=False)

    @property
    def pending(self) -> bool:
        return self.status in (OutboxStatus.QUEUED, OutboxStatus.SIGNED, OutboxStatus.SENT)

    @classmethod
    def from_row(cls, row: OutboxTransaction) -> TxRecord:
        return cls(
            id=row.id, signer=row.signer, contract=row.contract, function=row.function, to=row.to_address,
            calldata=bytes.fromhex(row.calldata[2:]), value=int(row.value), status=row.status, nonce=row.nonce,
            gas_limit=row.gas_limit, raw_tx=row.raw_tx, tx_hash=row.tx_hash, block_number=row.block_number,
            gas_used=row.gas_used, receipt_status=row.receipt_status, error_name=row.error_name,
            error_args=row.error_args, last_error=row.last_error,
        )


class SendDeferred(ChainUnavailable):
    """The chain could not be reached; the transactions are in the outbox (`outbox_ids`) and will be sent."""

    def __init__(self, message: str, outbox_ids: list[int]) -> None:
        super().__init__(message)
        self.outbox_ids = outbox_ids


class Outbox:
    """Writes, signs, sends and follows transactions; see the module documentation."""

    def __init__(
        self,
        chain: ChainClient,
        sessions: sessionmaker[Session],
        encoder: CallEncoder,
        addresses: Mapping[str, str],
        decoder: RevertDecoder,
        signers: Callable[[str], LocalAccount],
        faults: Faults | None = None,
    ) -> None:
        self.chain = chain
        self.sessions = sessions
        self.encoder = encoder
        self.addresses = dict(addresses)
        self.decoder = decoder
        self.signers = signers
        self.faults = faults
        self.nonces = NonceManager(chain.pending_nonce, self._stored_next_nonce)
        self._keys: dict[str, PrivateKey] = {}
        self._template: TxTemplate | None = None
        self.group = GroupCommit(self)

    # ------------------------------------------------------------------ submit

    def submit(
        self, intents: Sequence[Intent], preflight: bool = False, wait: bool = True, timeout: float = 60.0
    ) -> list[TxRecord]:
        """Send `intents`; returns their records in order (mined/failed if `wait` and the chain mined them,
        rejected where the preflight found a revert). Raises ChainUnavailable when the node cannot be
        reached: the records stay in the outbox and are sent later."""
        records = self._write_intents(intents)
        self._fault("queued")
        try:
            self._preflight_sign_and_send(records, [preflight] * len(records))
            if wait:
                self.await_receipts([r for r in records if r.status == OutboxStatus.SENT], timeout)
        except ChainUnavailable as exc:
            raise SendDeferred(str(exc), [r.id for r in records]) from exc
        return records

    def submit_grouped(
        self, intents: Sequence[Intent], preflight: bool = False, wait: bool = True, timeout: float = 60.0
    ) -> list[TxRecord]:
        """As `submit`, but written, signed and sent together with the intents of concurrent callers
        (one outbox write, one JSON-RPC batch, one receipt poll for the group); see `GroupCommit`."""
        return self.group.submit(intents, preflight, wait, timeout)

    def _preflight_sign_and_send(self, records: Sequence[TxRecord], preflight: Sequence[bool]) -> None:
        checked = [r for r, p in zip(records, preflight, strict=True) if p]
        if checked:
            self._preflight(checked)
        self._sign_and_send([r for r in records if r.status == OutboxStatus.QUEUED])

    def _fault(self, stage: str) -> None:
        if self.faults is not None:
            self.faults(stage)

    def _write_intents(self, intents: Sequence[Intent]) -> list[TxRecord]:
        now = utc_now()
        rows, records = [], []
        encoded: dict[tuple[str, str, tuple[Any, ...]], tuple[bytes, Any]] = {}  # repeated calls in a batch
        for intent in intents:
            key = (intent.contract, intent.function, tuple(intent.args))
            hashable = _hashable(key)
            if hashable and key in encoded:
                calldata, args = encoded[key]
            else:
                calldata = self.encoder.function(intent.contract, intent.function).encode(intent.args)
                args = jsonable(list(intent.args))
                if hashable:
                    encoded[key] = (calldata, args)
            to = self.addresses[intent.contract]
            rows.append({
                "origin": OutboxOrigin.CUSTODIAL, "requested_by": intent.requested_by, "signer": intent.signer,
                "contract": intent.contract, "function": intent.function, "args": args,
                "to_address": to, "calldata": "0x" + calldata.hex(), "value": str(intent.value),
                "status": OutboxStatus.QUEUED, "attempts": 0, "created_at": now, "updated_at": now,
            })
            records.append(TxRecord(0, intent.signer, intent.contract, intent.function, to, calldata, intent.value,
                                    OutboxStatus.QUEUED))
        with self.sessions.begin() as session:
            ids = session.connection().execute(
                insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True), rows
            ).scalars().all()
        for record, row_id in zip(records, ids, strict=True):
            record.id = row_id
        return records

    def _update(self, changes: Sequence[dict[str, Any]]) -> None:
        """Apply per-row changes (each a dict with the row's `id`), one executemany per set of columns,
        in one database transaction."""
        if not changes:
            return
        now = utc_now()
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for change in changes:
            columns = tuple(sorted(k for k in change if k != "id"))
            by_columns[columns].append({"row_id": change["id"], **{f"v_{k}": change[k] for k in columns},
                                        "v_updated_at": now})
        with self.sessions.begin() as session:
            connection = session.connection()
            for columns, params in by_columns.items():
                statement = update(TABLE).where(TABLE.c.id == bindparam("row_id")).values(
                    {k: bindparam(f"v_{k}") for k in (*columns, "updated_at")})
                connection.execute(statement, params)

    def _stored_next_nonce(self, address: str) -> int:
        with self.sessions() as session:
            highest = session.scalar(select(func.max(OutboxTransaction.nonce)).where(
                OutboxTransaction.signer == address,
                OutboxTransaction.status.in_((OutboxStatus.SIGNED, OutboxStatus.SENT, OutboxStatus.MINED,
                                              OutboxStatus.FAILED)),
            ))
        return 0 if highest is None else int(highest) + 1

    # ------------------------------------------------------------------ preflight

    def _preflight(self, records: Sequence[TxRecord]) -> None:
        """Run each queued transaction as eth_call; a revert rejects it before it takes a nonce."""
        rejected = []
        calls = []
        for record in records:
            call: dict[str, Any] = {"from": record.signer, "to": record.to, "data": record.calldata,
                                    "value": record.value}
            if self.chain.gas_limit:
                call["gas"] = self.chain.gas_limit
            calls.append(call)
        for record, outcome in zip(records, self.chain.calls(calls), strict=True):
            if isinstance(outcome, BaseException):
                revert = self.decoder.from_exception(outcome)
                if revert is None:
                    raise outcome
                self._set_revert(record, revert, OutboxStatus.REJECTED)
                rejected.append(self._error_change(record))
        self._update(rejected)

    def _set_revert(self, record: TxRecord, revert: ContractRevert, status: str) -> None:
        record.status = status
        record.revert = revert
        record.error_name = revert.error
        record.error_args = jsonable(revert.args_by_name)

    @staticmethod
    def _error_change(record: TxRecord) -> dict[str, Any]:
        return {"id": record.id, "status": record.status, "error_name": record.error_name,
                "error_args": record.error_args}

    # ------------------------------------------------------------------ sign and send

    def _gas_for(self, record: TxRecord) -> int:
        if self.chain.gas_limit:
            return self.chain.gas_limit
        tx = {"from": record.signer, "to": record.to, "data": HexBytes(record.calldata), "value": record.value}
        try:
            return int(self.chain.estimate_gas(tx) * GAS_HEADROOM)
        except Exception as exc:
            revert = self.decoder.from_exception(exc)
            if revert is None:
                raise
            raise revert from None

    def _sign_and_send(self, records: Sequence[TxRecord]) -> None:
        by_signer: dict[str, list[TxRecord]] = defaultdict(list)
        for record in records:
            by_signer[record.signer].append(record)
        for signer, group in by_signer.items():
            key = self._signing_key(signer)
            with self.nonces.lock(signer):
                signable: list[TxRecord] = []
                rejected: list[dict[str, Any]] = []
                for record in group:
                    try:
                        record.gas_limit = self._gas_for(record)
                    except ContractRevert as revert:
                        self._set_revert(record, revert, OutboxStatus.REJECTED)
                        rejected.append(self._error_change(record))
                        continue
                    signable.append(record)
                self._update(rejected)
                if not signable:
                    continue
                first = self.nonces.reserve(signer, len(signable))
                template = self._tx_template()
                changes = []
                for offset, record in enumerate(signable):
                    signed = template.sign(key, first + offset, record.gas_limit or 0, bytes.fromhex(record.to[2:]),
                                           record.value, record.calldata)
                    record.nonce = first + offset
                    record.raw_tx = "0x" + signed.raw.hex()
                    record.tx_hash = "0x" + signed.tx_hash.hex()
                    record.status = OutboxStatus.SIGNED
                    changes.append({"id": record.id, "status": record.status, "nonce": record.nonce,
                                    "gas_limit": record.gas_limit, "raw_tx": record.raw_tx, "tx_hash": record.tx_hash})
                try:
                    self._update(changes)
                except BaseException:
                    self.nonces.release(signer, first, len(signable))
                    raise
                self._fault("signed")
                self._broadcast(signable)
                self._fault("sent")

    def _signing_key(self, signer: str) -> PrivateKey:
        key = self._keys.get(signer)
        if key is None:
            key = self._keys[signer] = signing_key(bytes(self.signers(signer).key))
        return key

    def _tx_template(self) -> TxTemplate:
        """Chain id and fee fields encoded once (again when the chain client's fees change)."""
        template = self._template
        if template is None or template.fees != self.chain.fees.fields or template.chain_id != self.chain.chain_id:
            template = self._template = TxTemplate(self.chain.chain_id, self.chain.fees.fields)
        return template

    def _broadcast(self, records: Sequence[TxRecord]) -> None:
        """Send signed transactions; those the node refuses for a reason other than knowing them
        already are checked for a receipt and otherwise kept `signed` with the node's message."""
        results = self.chain.send_raw([r.raw_tx or "" for r in records], [r.tx_hash or "" for r in records])
        self._fault("broadcast")
        sent, unsure = [], []
        for record, result in zip(records, results, strict=True):
            if result.accepted or result.already_known:
                record.status = OutboxStatus.SENT
                record.last_error = None
                sent.append(record.id)
            else:
                record.last_error = (result.error or "")[:500]
                unsure.append(record)
        self._update_sent(sent)
        if unsure:
            self._settle_refused(unsure)

    def _update_sent(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.sessions.begin() as session:
            session.connection().execute(
                update(TABLE).where(TABLE.c.id.in_(ids)).values(
                    status=OutboxStatus.SENT, last_error=None, attempts=TABLE.c.attempts + 1, updated_at=utc_now(),
                )
            )

    def _settle_refused(self, records: Sequence[TxRecord]) -> None:
        """A refused re-broadcast whose hash has a receipt was mined earlier; any other refusal leaves the
        transaction signed (it keeps its nonce) and its signer's nonces are re-read from the chain."""
        receipts = self.chain.receipts([r.tx_hash or "" for r in records])
        mined, waiting = [], []
        for record, receipt in zip(records, receipts, strict=True):
            if receipt is not None:
                mined.append((record, receipt))
            else:
                waiting.append({"id": record.id, "last_error": record.last_error})
                self.nonces.forget(record.signer)
        self._apply_receipts(mined)
        self._update(waiting)

    # ------------------------------------------------------------------ receipts

    def await_receipts(self, records: Sequence[TxRecord], timeout: float = 60.0) -> None:
        """Poll until every record is mined or `timeout` passes (records left pending stay `sent`)."""
        waiting = [r for r in records if r.tx_hash]
        deadline = time.monotonic() + timeout
        delay = 0.0
        while waiting:
            receipts = self.chain.receipts([r.tx_hash or "" for r in waiting])
            found = [(r, rc) for r, rc in zip(waiting, receipts, strict=True) if rc is not None]
            self._apply_receipts(found)
            waiting = [r for r, rc in zip(waiting, receipts, strict=True) if rc is None]
            if not waiting or time.monotonic() >= deadline:
                return
            delay = min(max(delay * 2, 0.01), 0.5)
            time.sleep(delay)

    def _apply_receipts(self, found: Sequence[tuple[TxRecord, dict[str, Any]]]) -> None:
        changes = []
        for record, receipt in found:
            record.block_number = receipt["blockNumber"]
            record.gas_used = receipt["gasUsed"]
            record.receipt_status = receipt["status"]
            record.status = OutboxStatus.MINED if receipt["status"] == 1 else OutboxStatus.FAILED
            change = {"id": record.id, "status": record.status, "block_number": record.block_number,
                      "gas_used": record.gas_used, "receipt_status": record.receipt_status}
            if record.status == OutboxStatus.FAILED:
                revert = self._replay(record)
                self._set_revert(record, revert, OutboxStatus.FAILED)
                change.update(error_name=record.error_name, error_args=record.error_args)
            changes.append(change)
        self._update(changes)

    def _replay(self, record: TxRecord) -> ContractRevert:
        """Re-run a failed transaction as a call on the state before its block to decode its revert."""
        call = {"from": record.signer, "to": record.to, "data": HexBytes(record.calldata), "value": record.value}
        if record.gas_limit:
            call["gas"] = record.gas_limit
        try:
            self.chain.call(call, max((record.block_number or 1) - 1, 0))
        except Exception as exc:
            revert = self.decoder.from_exception(exc)
            if revert is not None:
                return revert
        return ContractRevert("TransactionFailed", {"tx_hash": record.tx_hash})

    # ------------------------------------------------------------------ recovery

    def pending(self, limit: int = 1000) -> list[TxRecord]:
        with self.sessions() as session:
            rows = session.scalars(
                select(OutboxTransaction)
                .where(OutboxTransaction.status.in_((OutboxStatus.QUEUED, OutboxStatus.SIGNED, OutboxStatus.SENT)))
                .order_by(OutboxTransaction.id)
                .limit(limit)
            ).all()
            return [TxRecord.from_row(r) for r in rows]

    def recover(self, wait: bool = True, timeout: float = 10.0) -> list[TxRecord]:
        """Finish what was interrupted: follow sent and signed transactions to their receipts,
        re-broadcast the signed raw transactions the chain does not have, sign and send queued intents."""
        records = self.pending()
        if not records:
            return []
        in_flight = [r for r in records if r.status in (OutboxStatus.SIGNED, OutboxStatus.SENT)]
        receipts = self.chain.receipts([r.tx_hash or "" for r in in_flight])
        self._apply_receipts([(r, rc) for r, rc in zip(in_flight, receipts, strict=True) if rc is not None])
        unmined = [r for r, rc in zip(in_flight, receipts, strict=True) if rc is None]
        by_signer: dict[str, list[TxRecord]] = defaultdict(list)
        for record in sorted(unmined, key=lambda r: (r.signer, r.nonce or 0)):
            by_signer[record.signer].append(record)
        for signer, group in by_signer.items():
            with self.nonces.lock(signer):
                self._broadcast(group)
        queued = [r for r in records if r.status == OutboxStatus.QUEUED]
        for record in queued:
            record.gas_limit = None
        self._sign_and_send(queued)
        if wait:
            self.await_receipts([r for r in records if r.status == OutboxStatus.SENT], timeout)
        return records

    def rewind_forgotten(self, from_block: int) -> list[TxRecord]:
        """Mark as signed again the transactions recorded as mined (or failed) at `from_block` or later
        whose receipts the chain no longer has: a node restarted from an older state dump, or a reorg,
        forgot them. Their stored raw transactions are re-broadcast by the next `recover()`."""
        with self.sessions() as session:
            rows = session.scalars(
                select(OutboxTransaction)
                .where(
                    OutboxTransaction.status.in_((OutboxStatus.MINED, OutboxStatus.FAILED)),
                    OutboxTransaction.block_number >= from_block,
                    OutboxTransaction.raw_tx.is_not(None),
                )
                .order_by(OutboxTransaction.signer, OutboxTransaction.nonce)
            ).all()
            candidates = [TxRecord.from_row(r) for r in rows]
        receipts = self.chain.receipts([r.tx_hash or "" for r in candidates])
        forgotten = [r for r, rc in zip(candidates, receipts, strict=True) if rc is None]
        for record in forgotten:
            record.status = OutboxStatus.SIGNED
            record.block_number = record.gas_used = record.receipt_status = None
            record.error_name = record.error_args = None
        self._update([
            {"id": r.id, "status": r.status, "block_number": None, "gas_used": None, "receipt_status": None,
             "error_name": None, "error_args": None, "last_error": f"forgotten by the chain from block {from_block}"}
            for r in forgotten
        ])
        return forgotten

    def record(self, outbox_id: int) -> TxRecord | None:
        with self.sessions() as session:
            row = session.get(OutboxTransaction, outbox_id)
            return None if row is None else TxRecord.from_row(row)

    def relay(self, tx: RelayedTx, requested_by: str | None, wait: bool = True, timeout: float = 60.0) -> TxRecord:
        """Record and send a transaction its sender signed (the caller has checked what it does).
        Relaying the same signed transaction again returns its existing record."""
        now = utc_now()
        row = {
            "origin": OutboxOrigin.RELAYED, "requested_by": requested_by, "signer": tx.sender,
            "contract": tx.contract, "function": tx.function, "args": jsonable(list(tx.args)), "to_address": tx.to,
            "calldata": "0x" + tx.calldata.hex(), "value": str(tx.value), "status": OutboxStatus.SIGNED,
            "nonce": tx.nonce, "gas_limit": tx.gas_limit, "raw_tx": "0x" + tx.raw.hex(), "tx_hash": tx.tx_hash,
            "attempts": 0, "created_at": now, "updated_at": now,
        }
        with self.sessions.begin() as session:
            existing = session.scalar(select(OutboxTransaction).where(OutboxTransaction.tx_hash == row["tx_hash"]))
            if existing is not None:
                return TxRecord.from_row(existing)
            row_id = session.execute(insert(OutboxTransaction).returning(OutboxTransaction.id), [row]).scalar_one()
        record = self.record(int(row_id or 0))
        assert record is not None
        try:
            self._broadcast([record])
            if wait and record.status == OutboxStatus.SENT:
                self.await_receipts([record], timeout)
        except ChainUnavailable as exc:
            raise SendDeferred(str(exc), [record.id]) from exc
        return record


@dataclass
class _Entry:
    """One caller's intents waiting in a group."""

    intents: Sequence[Intent]
    preflight: bool
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    records: list[TxRecord] = field(default_factory=list)
    error: BaseException | None = None


class GroupCommit:
    """Group commit of concurrent submissions.

    A caller's intents join a queue. If no group is being written and sent, the caller
    leads: it takes every queued entry, writes them to the outbox in one transaction,
    preflights (one JSON-RPC batch), signs and sends them (one batch), then hands the
    lead to the first caller that queued meanwhile and follows its own group's receipts
    (one batched poll). Callers that arrive while a group is being sent wait and go out
    in the next group, so under load groups grow by themselves and one request alone
    goes out at once. Each caller gets back its own records, or its own SendDeferred
    with its own outbox ids. The guarantees are those of `Outbox.submit`: every group is
    recorded before it is sent, and a signer's nonces are taken under its lock.
    """

    def __init__(self, outbox: Outbox, max_group: int = 1000) -> None:
        self.outbox = outbox
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Entry] = []
        self._leading = False
        self.groups = 0  # groups sent (for tests and metrics)

    def submit(self, intents: Sequence[Intent], preflight: bool, wait: bool, timeout: float) -> list[TxRecord]:
        entry = _Entry(intents, preflight)
        with self._lock:
            self._queue.append(entry)
            if not self._leading:
                self._leading = entry.lead = True
        if not entry.lead:
            entry.wake.wait()
        if entry.lead:
            self._lead(wait, timeout)
        if entry.error is not None:
            raise entry.error
        return entry.records

    def _take(self) -> list[_Entry]:
        with self._lock:
            group: list[_Entry] = []
            count = 0
            while self._queue and (not group or count + len(self._queue[0].intents) <= self.max_group):
                entry = self._queue.pop(0)
                group.append(entry)
                count += len(entry.intents)
            return group

    def _hand_over(self) -> None:
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.set()
            else:
                self._leading = False

    def _lead(self, wait: bool, timeout: float) -> None:
        group = self._take()
        outbox = self.outbox
        records: list[TxRecord] = []
        try:
            intents = [i for e in group for i in e.intents]
            records = outbox._write_intents(intents)
            outbox._fault("queued")
            flags = [e.preflight for e in group for _ in e.intents]
            outbox._preflight_sign_and_send(records, flags)
            self.groups += 1
        except BaseException as exc:
            self._hand_over()
            self._finish(group, records, exc)
            return
        self._hand_over()
        error: BaseException | None = None
        try:
            if wait:
                outbox.await_receipts([r for r in records if r.status == OutboxStatus.SENT], timeout)
        except BaseException as exc:
            error = exc
        self._finish(group, records, error)

    @staticmethod
    def _finish(group: Sequence[_Entry], records: Sequence[TxRecord], error: BaseException | None) -> None:
        position = 0
        for entry in group:
            own = list(records[position:position + len(entry.intents)])
            position += len(entry.intents)
            entry.records = own
            if isinstance(error, ChainUnavailable) and own:
                entry.error = SendDeferred(str(error), [r.id for r in own])
            elif error is not None:
                entry.error = error
            if not entry.lead:
                entry.wake.set()


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:  # arguments holding lists
        return False
    return True


@dataclass(frozen=True)
class RelayedTx:
    """A client-signed transaction, decoded and matched to a function of the suite."""

    raw: bytes
    tx_hash: str
    sender: str
    nonce: int
    gas_limit: int
    to: str
    value: int
    calldata: bytes
    contract: str
    function: str
    args: Sequence[Any]

"""The running service: settings, database, chain client, suite, keys, outbox and directory, wired once.

`Runtime.start` opens everything. On the embedded chain it compiles and deploys the
suite with a fresh bootstrap regulator whose key goes to the custodial key store; on
a node it reads `deployments/<network>.json` (and, if `bootstrap_regulator_key` is
set, keeps that regulator's key). The bootstrap regulator gets an API key: the one in
settings, or a random one shown once in `bootstrap_api_key`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ledger_service.chain.calldata import CallEncoder
from ledger_service.chain.client import EMBEDDED_GAS_LIMIT, ChainClient, ChainUnavailable, RetryPolicy
from ledger_service.chain.compiler import Artifact, build
from ledger_service.chain.connect import EMBEDDED, connect_rpc
from ledger_service.chain.deploy import Deployment, deploy_suite, load_deployment
from ledger_service.chain.embedded import EmbeddedChain, start_embedded
from ledger_service.chain.errors import RevertDecoder
from ledger_service.chain.outbox import Faults, GasTreasury, Outbox
from ledger_service.chain.sender import TransactionSender
from ledger_service.chain.suite import Suite
from ledger_service.config import Settings
from ledger_service.db.locks import DatabaseLocks, SingleProcess
from ledger_service.db.migrate import upgrade_to_head
from ledger_service.db.models import IndexCheckpoint
from ledger_service.db.models.outbox import OutboxTransaction
from ledger_service.db.session import database_unavailable, make_engine, session_factory
from ledger_service.documents import DocumentUnsealError, DocumentVault
from ledger_service.identity.api_keys import ApiKeys, IssuedKey
from ledger_service.identity.keystore import KeyStore, KeyUnsealError
from ledger_service.identity.signed_requests import SignedRequests
from ledger_service.indexer import store as index_store
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import DEFAULT_CONFIRMATIONS, EventIndexer, SyncReport
from ledger_service.indexer.source import ChainSource, GuardedSource, RpcSource, Web3Source
from ledger_service.key_secret import KeySecret, KeySecretError, resolve_key_secret
from ledger_service.membership import Directory, IndexedMembership
from ledger_service.private_files import check_private, protect_sqlite_file

log = logging.getLogger(__name__)
BOOTSTRAP_KEY_ID = "bootstrap"
BOOTSTRAP_LIFETIME = timedelta(days=3650)


@dataclass
class RequestMetrics:
    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, method: str, route: str, status: int) -> None:
        with self.lock:
            self.counts[(method, route, status)] += 1


@dataclass
class IndexStatus:
    """What this process's indexer has done: the last indexed block and head it saw, events written."""

    indexed_block: int | None = None
    indexed_hash: bytes | None = None
    head: int | None = None
    events: int = 0
    syncs: int = 0
    last_error: str | None = None


class Runtime:
    """Everything a request needs; one per process (or per test module)."""

    def __init__(
        self, settings: Settings, engine: Engine, chain: ChainClient, artifacts: dict[str, Artifact],
        deployment: Deployment, faults: Faults | None = None, key_secret: KeySecret | None = None,
    ) -> None:
        self.settings = settings
        secret = (key_secret or resolve_key_secret(settings)).value
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)
        self.chain = chain
        self.artifacts = artifacts
        self.deployment = deployment
        self.suite = Suite(chain.w3, artifacts, deployment)
        self.decoder: RevertDecoder = self.suite.decoder
        self.encoder = CallEncoder(artifacts, list(deployment.addresses))
        self.keystore = KeyStore(self.sessions, secret)
        self.documents = DocumentVault(self.sessions, secret)
        self.api_keys = ApiKeys(self.sessions)
        self.signed_requests = SignedRequests(self.sessions, settings.signed_request_window_seconds)
        self.directory = Directory(chain, self.suite.contract("Membership"), deployment.block,
                                   settings.member_cache_seconds)
        self.outbox = Outbox(chain, self.sessions, self.encoder, deployment.addresses, self.decoder,
                             self.keystore.account, faults, confirmations=self._outbox_confirmations(),
                             claim_seconds=settings.claim_seconds, relay_pending_max=settings.relay_pending_max,
                             send_attempts_max=settings.send_attempts_max,
                             retry_seconds=settings.outbox_interval_seconds, treasury=gas_treasury(settings))
        self.locks = DatabaseLocks(engine)
        self.single_process: SingleProcess | None = None
        self.metrics = RequestMetrics()
        self._index_rpc: RpcSource | None = None
        self.indexer = self._make_indexer()
        self.index_status = IndexStatus()
        self._index_lock = threading.Lock()
        self._index_thread: threading.Thread | None = None
        self._index_stop = threading.Event()
        self.directory.index = IndexedMembership(self.sessions, self.index_up_to_date)
        self.bootstrap_regulator: str | None = None
        self.bootstrap_api_key: IssuedKey | None = None
        self._pump: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ start-up

    @classmethod
    def start(cls, settings: Settings, faults: Faults | None = None, artifacts: dict[str, Artifact] | None = None,
              embedded: EmbeddedChain | None = None) -> Runtime:
        url = _database_url(settings)
        secret = resolve_key_secret(settings)  # none on a node: refuse before touching anything
        protect_storage(settings, url)
        single = SingleProcess(url)
        single.acquire()  # a SQLite file serves one process: refuse a second one before touching anything
        try:
            runtime = cls._open(settings, url, secret, faults, artifacts, embedded)
        except BaseException:
            single.release()
            raise
        runtime.single_process = single
        return runtime

    @classmethod
    def _open(cls, settings: Settings, url: str, secret: KeySecret, faults: Faults | None,
              artifacts: dict[str, Artifact] | None, embedded: EmbeddedChain | None) -> Runtime:
        engine = make_engine(url)
        try:
            upgrade_to_head(engine)
            verify_key_secret(session_factory(engine), secret)
        except BaseException:
            engine.dispose()
            raise
        artifacts = artifacts or build()
        retry = RetryPolicy(settings.retry_attempts, settings.retry_backoff_seconds, settings.retry_backoff_max_seconds)
        if settings.chain == EMBEDDED:
            embedded = embedded or start_embedded()
            chain = ChainClient(embedded.w3, embedded=embedded, retry=retry, gas_limit=settings.gas_limit)
            regulator: LocalAccount = Account.create()
            embedded.fund([regulator.address])
            sender = TransactionSender(embedded.w3, regulator, RevertDecoder.from_artifacts(artifacts.values()),
                                       gas_limit=EMBEDDED_GAS_LIMIT)
            deployment = deploy_suite(sender, artifacts, network=EMBEDDED)
        else:
            w3 = connect_rpc(settings.chain, timeout=settings.rpc_timeout_seconds)
            chain = ChainClient(w3, url=settings.chain, retry=retry, gas_limit=settings.gas_limit,
                                timeout=settings.rpc_timeout_seconds)
            deployment = load_deployment(settings.network, settings.deployments_dir)
            if deployment.chain_id != chain.chain_id:
                raise RuntimeError(f"deployment {settings.network!r} is for chain {deployment.chain_id}, "
                                   f"the node is chain {chain.chain_id}")
            key = settings.bootstrap_regulator_key
            regulator = Account.from_key(key.get_secret_value()) if key else None  # type: ignore[assignment]
        runtime = cls(settings, engine, chain, artifacts, deployment, faults, secret)
        if regulator is not None:
            runtime._bootstrap(regulator)
        runtime.resume_outbox()
        return runtime

    def resume_outbox(self) -> None:
        """At start-up: what the chain forgot while the service was down goes back to signed, the claims of a
        dead process on a single-process database are freed, and whatever was interrupted is finished."""
        if not self.locks.shared:
            self.outbox.release_claims()
        with self.locks.role("outbox-pump") as pump:
            if pump:
                self.outbox.rewind_by_nonces()
                self.outbox.recover(wait=False)

    def _outbox_confirmations(self) -> int:
        wanted = self.settings.outbox_confirmations
        if wanted is None:
            wanted = self.settings.index_confirmations
        if wanted is None:
            wanted = 0 if self.chain.embedded is not None else DEFAULT_CONFIRMATIONS
        return wanted

    def _bootstrap(self, regulator: LocalAccount) -> None:
        if not self.keystore.has(regulator.address):
            self.keystore.store(regulator, label="bootstrap regulator")
        self.bootstrap_regulator = regulator.address
        if self.api_keys.get(BOOTSTRAP_KEY_ID) is None:
            wanted = self.settings.bootstrap_api_key
            secret = None
            if wanted is not None:
                secret = wanted.get_secret_value().split("_", 2)[-1]
            self.bootstrap_api_key = self.api_keys.issue(
                regulator.address, BOOTSTRAP_LIFETIME, label="bootstrap regulator", secret=secret,
                key_id=BOOTSTRAP_KEY_ID, actor="service start-up (bootstrap regulator)",
            )
            if wanted is None:  # the command that started the service shows the key once; logs never carry it
                log.warning("bootstrap regulator %s: a new API key was issued (key id %s)", regulator.address,
                            BOOTSTRAP_KEY_ID)

    # ------------------------------------------------------------------ event index

    def _make_indexer(self) -> EventIndexer:
        source: ChainSource
        if self.chain.embedded is not None:
            source = GuardedSource(Web3Source(self.chain.w3), self.chain.request)
            confirmations = self.settings.index_confirmations or 0
        else:
            assert self.chain.url is not None
            self._index_rpc = RpcSource(self.chain.url, timeout=self.settings.rpc_timeout_seconds)
            source = GuardedSource(self._index_rpc, self.chain.request)
            wanted = self.settings.index_confirmations
            confirmations = DEFAULT_CONFIRMATIONS if wanted is None else wanted
        return EventIndexer(self.engine, source, EventCatalog(self.artifacts, self.deployment.addresses),
                            confirmations=confirmations, range_size=self.settings.index_range_size,
                            start_block=self.deployment.block)

    def sync_index(self) -> SyncReport:
        """Index every event up to the head (one caller at a time, one process at a time)."""
        with self._index_lock, self.locks.role("indexer", wait=True):
            try:
                report = self.indexer.sync()
            except Exception as exc:
                self.index_status.last_error = f"{type(exc).__name__}: {exc}"
                raise
            status = self.index_status
            status.indexed_block, status.head = report.indexed_block, report.head
            status.indexed_hash = self._stored_block_hash(report.indexed_block)
            status.events += report.events
            status.syncs += 1
            status.last_error = None
        if report.rolled_back_to is not None:
            self._resend_forgotten(report.rolled_back_to + 1)
        return report

    def _resend_forgotten(self, from_block: int) -> None:
        """The chain forgot blocks the index had seen (a node restarted from an older state dump, a
        reorg): what the outbox recorded as mined there is sent again, as the same signed transactions."""
        forgotten = self.outbox.rewind_forgotten(from_block)
        if forgotten:
            log.warning("the chain forgot %d transactions from block %d on; sending them again",
                        len(forgotten), from_block)
            self.outbox.recover(wait=False)

    def _stored_block_hash(self, number: int) -> bytes | None:
        with self.engine.connect() as conn:
            found = conn.scalar(select(index_store.BLOCKS.c.hash).where(index_store.BLOCKS.c.number == number))
        return None if found is None else bytes(found)

    def index_up_to_date(self) -> int:
        """Bring the index to the chain's current head if it differs (behind, or ahead of a chain
        that forgot blocks); the indexed block. The head is compared by number and hash: a node
        restarted from an older state dump may have mined back to the indexed height on other blocks."""
        number, block_hash = self.chain.head()
        status = self.index_status
        if status.indexed_block is not None and status.indexed_block == number and status.indexed_hash == block_hash:
            return status.indexed_block
        return self.sync_index().indexed_block

    def indexed_block(self) -> int:
        """The block up to which every contract of the suite is indexed (from the checkpoints)."""
        with self.engine.connect() as conn:
            block = conn.scalar(select(func.min(IndexCheckpoint.indexed_block)))
        return self.deployment.block - 1 if block is None else int(block)

    def start_indexer(self) -> None:
        """Sync the index every `index_interval_seconds`, in the background."""
        if self._index_thread is not None:
            return
        self._index_stop.clear()
        self._index_thread = threading.Thread(target=self._run_indexer, name="indexer", daemon=True)
        self._index_thread.start()

    def _run_indexer(self) -> None:
        interval = self.settings.index_interval_seconds
        while True:
            try:
                self.sync_index()
            except ChainUnavailable as exc:
                log.warning("indexer: %s", exc)
            except Exception:
                log.exception("indexer failed")
            if self._index_stop.wait(interval):
                return

    def stop_indexer(self) -> None:
        self._index_stop.set()
        if self._index_thread is not None:
            self._index_thread.join(timeout=30)
            self._index_thread = None

    def _rollback_index_to_head(self) -> None:
        head = self.chain.block_number()
        with self._index_lock:
            with self.engine.begin() as conn:
                ahead = conn.scalar(select(func.max(IndexCheckpoint.indexed_block)))
                if ahead is not None and ahead > head:
                    index_store.rollback_to(conn, head)
            self.index_status.indexed_block = self.index_status.indexed_hash = None

    # ------------------------------------------------------------------ background pump

    def start_pump(self) -> None:
        """Send queued and re-broadcast signed transactions and collect receipts, in the background."""
        if self._pump is not None:
            return
        self._stop.clear()
        self._pump = threading.Thread(target=self._run_pump, name="outbox-pump", daemon=True)
        self._pump.start()

    def _run_pump(self) -> None:
        while not self._stop.wait(self.settings.outbox_interval_seconds):
            try:
                self.pump_once()
            except ChainUnavailable as exc:
                log.warning("outbox pump: %s", exc)
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning("outbox pump: the database is not reachable (%s)", type(exc).__name__)
                else:
                    log.exception("outbox pump failed")

    def pump_once(self) -> bool:
        """One round of the outbox pump, if this process holds the pump's role (one process at a time on a
        shared database): look for a chain that went back, then finish what is pending. Whether it ran."""
        with self.locks.role("outbox-pump") as pump:
            if pump:
                rewound = self.outbox.watch()
                if rewound:
                    log.warning("the chain forgot %d transactions; sending them again", len(rewound))
                self.outbox.recover(wait=True, timeout=self.settings.outbox_interval_seconds)
            return pump

    def close(self) -> None:
        self._stop.set()
        if self._pump is not None:
            self._pump.join(timeout=10)
            self._pump = None
        self.stop_indexer()
        if self._index_rpc is not None:
            self._index_rpc.close()
        self.chain.close()
        self.engine.dispose()
        if self.single_process is not None:
            self.single_process.release()
            self.single_process = None

    # ------------------------------------------------------------------ health

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def chain_head(self) -> int | None:
        try:
            return self.chain.block_number()
        except Exception:
            return None

    def outbox_counts(self) -> dict[str, int]:
        with self.sessions() as session:
            rows = session.execute(
                select(OutboxTransaction.status, func.count()).group_by(OutboxTransaction.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    # ------------------------------------------------------------------ tests

    def snapshot(self) -> tuple[int, int]:
        """A chain snapshot and the outbox's last id (for tests on the embedded chain)."""
        assert self.chain.embedded is not None, "snapshots need the embedded chain"
        with self.chain.exclusive():
            chain_snapshot = self.chain.embedded.snapshot()
        with self.sessions() as session:
            last_id = session.scalar(select(func.max(OutboxTransaction.id))) or 0
        return chain_snapshot, int(last_id)

    def revert(self, snapshot: tuple[int, int]) -> None:
        """Back to a snapshot: the chain's state and the outbox rows written since; cached nonces and
        member views are dropped."""
        assert self.chain.embedded is not None, "snapshots need the embedded chain"
        chain_snapshot, last_id = snapshot
        with self.chain.exclusive():
            self.chain.embedded.revert(chain_snapshot)
        with self.sessions.begin() as session:
            session.execute(delete(OutboxTransaction).where(OutboxTransaction.id > last_id))
        self.outbox.forget_chain_view()
        self.chain.forget_receipts()
        self.directory.forget()
        self._rollback_index_to_head()


def verify_key_secret(sessions: sessionmaker[Session], secret: KeySecret) -> None:
    """Raise KeySecretError unless `secret` opens the custodial keys and documents already in the database."""
    try:
        KeyStore(sessions, secret.value).verify_secret()
        DocumentVault(sessions, secret.value).verify_secret()
    except (KeyUnsealError, DocumentUnsealError):
        raise KeySecretError(
            f"the key secret ({secret.describe()}) does not open the custodial keys and documents in this database",
            "start with the secret the database was sealed with (a copied database opens with its owner's only)",
        ) from None


def protect_storage(settings: Settings, url: str) -> None:
    """The data directory 0700; the SQLite database (created 0600), the generated secret and the deployer key
    0600: created so, or warned about and narrowed at start."""
    if settings.data_dir.is_dir():
        check_private(settings.data_dir)
        for path in (settings.data_dir / "keys", settings.data_dir / "keys" / "deployer.key"):
            check_private(path)
    protect_sqlite_file(url)


def _database_url(settings: Settings) -> str:
    """The configured database; on the embedded chain without one, a fresh database for this run.

    The embedded chain lives only as long as its process. A database kept across runs would meet
    outbox rows, custodial keys and an index of a chain that no longer exists.
    """
    if settings.database_url or settings.chain != EMBEDDED:
        return settings.resolved_database_url()
    run_dir = settings.data_dir / "embedded" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    return f"sqlite:///{run_dir / 'carbonledger.db'}"


def gas_treasury(settings: Settings) -> GasTreasury | None:
    """The account that tops up kept keys' gas money, from `treasury_key_file` (None when unset)."""
    path = settings.treasury_key_file
    if path is None:
        return None
    check_private(path, ours=False)
    account: LocalAccount = Account.from_key(path.read_text().strip())
    return GasTreasury(account, settings.gas_topup_threshold_wei, settings.gas_topup_target_wei,
                       wait_seconds=settings.receipt_timeout_seconds)

"""The running service wired once: settings, database, chain client, suite, keys, documents, API keys,
directory, outbox, and the workers (event index, outbox pump) with the health reads over them.

`Runtime.start` opens everything. On the embedded chain it compiles and deploys the
suite with a fresh bootstrap regulator whose key goes to the custodial key store; on
a node it reads `deployments/<network>.json` (and, if `bootstrap_regulator_key` is
set, keeps that regulator's key). The bootstrap regulator gets an API key: the one in
settings, or a random one shown once in `bootstrap_api_key`.

The workers are objects of their own (`runtime.indexing`, `runtime.pump`, `runtime.health`); whoever
serves starts them, and `close` stops them before it lets go of the chain and the database.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.calldata import CallEncoder
from ledger_core.chain.client import EMBEDDED_GAS_LIMIT, ChainClient, RetryPolicy
from ledger_core.chain.compiler import Artifact, build
from ledger_core.chain.connect import EMBEDDED, connect_rpc
from ledger_core.chain.deploy import Deployment, deploy_suite, deployment_path, load_deployment
from ledger_core.chain.embedded import EmbeddedChain, start_embedded
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.outbox import Faults, GasTreasury, Outbox
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from ledger_core.config import Settings
from ledger_core.db.locks import DatabaseLocks, SingleProcess
from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.session import make_engine, session_factory
from ledger_core.key_secret import KeySecret, KeySecretError, resolve_key_secret
from ledger_core.private_files import check_private, protect_sqlite_file
from ledger_service.documents import DocumentUnsealError, DocumentVault
from ledger_service.health import Health
from ledger_service.identity.api_keys import ApiKeys, IssuedKey
from ledger_service.identity.keystore import KeyStore, KeyUnsealError
from ledger_service.identity.signed_requests import RequestDomain, SignedRequests
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import DEFAULT_CONFIRMATIONS, EventIndexer, SyncReport
from ledger_service.indexer.source import ChainSource, GuardedSource, RpcSource, Web3Source
from ledger_service.membership import Directory, IndexedMembership
from ledger_service.workers.indexing import IndexWorker
from ledger_service.workers.pump import OutboxPump

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


class Runtime:
    """The service's parts, built once and shared; one per process (or per test session)."""

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
        # Only a SQLite file is served by one process alone; elsewhere keys may change in another process.
        self.api_keys = ApiKeys(self.sessions, shared=engine.dialect.name != "sqlite")
        self.signed_requests = SignedRequests(self.sessions, settings.signed_request_window_seconds,
                                              RequestDomain(chain.chain_id, deployment.addresses["Membership"]))
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
        indexer, self._index_rpc = self._make_indexer()
        # Paces and limits are read from the settings when used, so a changed setting takes effect at once.
        self._record_stamp = self._record_mtime()
        self.indexing = IndexWorker(indexer, chain, engine, self.locks, self.outbox, deployment.block,
                                    interval=lambda: self.settings.index_interval_seconds,
                                    before_sync=self.follow_record, after_sync=self._membership_seen)
        self.pump = OutboxPump(self.outbox, self.locks, interval=lambda: self.settings.outbox_interval_seconds)
        self.health = Health(engine, self.sessions, chain, self.indexing,
                             max_lag_blocks=lambda: self.settings.index_max_lag_blocks,
                             max_pending_seconds=lambda: self.settings.receipt_timeout_seconds)
        self.directory.index = IndexedMembership(self.sessions, self.indexing.index_up_to_date)
        self.bootstrap_regulator: str | None = None
        self.bootstrap_api_key: IssuedKey | None = None

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
            with contextlib.suppress(Exception):  # asked while the node answers: GET /chain, open to all, need not
                chain.client_version()
            key = settings.bootstrap_regulator_key
            regulator = Account.from_key(key.get_secret_value()) if key else None  # type: ignore[assignment]
        runtime = cls(settings, engine, chain, artifacts, deployment, faults, secret)
        if regulator is not None:
            runtime._bootstrap(regulator)
        runtime.pump.resume()
        return runtime

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

    # ------------------------------------------------------------------ workers

    def _make_indexer(self) -> tuple[EventIndexer, RpcSource | None]:
        """The suite's event indexer, and the JSON-RPC source it reads a node through (closed with the runtime)."""
        source: ChainSource
        rpc: RpcSource | None = None
        if self.chain.embedded is not None:
            source = GuardedSource(Web3Source(self.chain.w3), self.chain.request)
            confirmations = self.settings.index_confirmations or 0
        else:
            assert self.chain.url is not None
            rpc = RpcSource(self.chain.url, timeout=self.settings.rpc_timeout_seconds)
            source = GuardedSource(rpc, self.chain.request)
            wanted = self.settings.index_confirmations
            confirmations = DEFAULT_CONFIRMATIONS if wanted is None else wanted
        indexer = EventIndexer(self.engine, source, EventCatalog.of_deployment(self.artifacts, self.deployment),
                               confirmations=confirmations, range_size=self.settings.index_range_size,
                               start_block=self.deployment.block)
        return indexer, rpc

    def follow(self, deployment: Deployment) -> None:
        """Follow an upgrade: the record (shared by every part that holds it) takes the new addresses, the suite
        binds them, the outbox sends to them and the event index reads every address each contract had."""
        self.deployment.adopt(deployment)
        self.suite.follow(self.deployment)
        self.outbox.addresses = dict(self.deployment.addresses)
        self.indexing.indexer.catalog = EventCatalog.of_deployment(self.artifacts, self.deployment)

    def _record_mtime(self) -> int | None:
        if self.chain.embedded is not None:
            return None
        try:
            return deployment_path(self.settings.network, self.settings.deployments_dir).stat().st_mtime_ns
        except OSError:
            return None

    def _membership_seen(self, report: SyncReport) -> None:
        self.directory.membership_seen(report.by_event)

    def follow_record(self) -> bool:
        """On a node, follow `deployments/<network>.json` once an upgrade (`carbonledger admin upgrade run`, in any
        process) rewrote it; asked before every index sync. A record of another suite (a redeployment: another
        Membership or first block) is not followed: that takes a restart with a new database."""
        stamp = self._record_mtime()
        if stamp is None or stamp == self._record_stamp:
            return False
        self._record_stamp = stamp
        record = load_deployment(self.settings.network, self.settings.deployments_dir)
        same_suite = (record.chain_id, record.block, record.addresses.get("Membership")) == (
            self.deployment.chain_id, self.deployment.block, self.deployment.addresses.get("Membership"))
        if not same_suite or record.to_json() == self.deployment.to_json():
            return False
        log.warning("following the upgraded deployment record %s", self.settings.network)
        self.follow(record)
        return True

    def close(self) -> None:
        """Stop the workers, then let go of the chain, the database and the SQLite file's lock."""
        self.pump.stop()
        self.indexing.stop()
        self.outbox.group.close()
        if self._index_rpc is not None:
            self._index_rpc.close()
            self._index_rpc = None
        self.chain.close()
        self.engine.dispose()
        if self.single_process is not None:
            self.single_process.release()
            self.single_process = None


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


def freeze_heap() -> None:
    """Before serving: what start-up made (the compiled suite and its ABIs, SQLAlchemy's mappers, web3's
    objects) lives as long as the process. Moved out of the cyclic collector's reach, a collection walks only
    what requests made since: a 200-transfer batch request ran about 1.25 times as fast, measured
    alternately on one node (`bench/service_throughput.py` freezes the same way)."""
    gc.collect()
    gc.freeze()

"""Upgrading a contract of the suite: versioned deployments with a migration that moves the state.

A contract is replaced by a new deployment, never changed in place (a proxy would cost every call a
delegatecall and a cold implementation-slot read, and turn all storage into namespaced structs). Three
steps, each a command of `carbonledger admin upgrade`:

1. `propose_upgrade`: deploy the new version (same constructor arguments as the suite gives it) and propose
   it in the `Upgrades` registry (one regulator);
2. `approve_upgrade`: a second, different regulator approves (the registry refuses the proposer);
3. `run_upgrade`: the migration. It rewires the contracts that refer to the old address (the suite's
   `WIRING` rows naming it, among them registering the new deployment as Membership's permission mirror),
   copies every member's permission word into the new deployment (`refreshPermissions`: the members
   listed in Membership's events, and the escrow agents), lets the contract's migrator (`MIGRATORS`, one
   per contract name) seal the old deployment and move its state through the new one's migrator-only
   import functions (each moved item an event), takes the old address out of the wiring (and out of
   Membership's mirrors), reads every moved item back from both deployments and refuses to finish on any
   difference, and returns the new deployment record: the new address as current version, the old one in
   the contract's history with the blocks it served.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from web3.contract import Contract

from ledger_core.assets import tradeable
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import (
    MIRRORS,
    SUITE,
    WIRING,
    Addresses,
    ContractVersion,
    Deployment,
    PastAddress,
    Wiring,
)
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite

UPGRADES = "Upgrades"
BATCH = 50  # orders (or prices) per import transaction: well inside a block's gas


class UpgradeError(Exception):
    """The upgrade cannot go ahead (or did not move the state exactly); the message says why."""


@dataclass(frozen=True)
class Proposal:
    """An upgrade as the `Upgrades` registry holds it."""

    id: int
    name: str
    current: str
    next: str
    version: int
    proposer: str
    approver: str | None

    @property
    def approved(self) -> bool:
        return self.approver is not None


@dataclass
class Migration:
    """What a migrator works with: the sender (a regulator), the suite, the proposal, both deployments."""

    sender: TransactionSender
    suite: Suite
    proposal: Proposal
    old: Contract
    new: Contract
    counts: dict[str, int] = field(default_factory=dict)
    moved: dict[str, Any] = field(default_factory=dict)  # what the migrator moved, for its verification

    def send(self, fn: Any) -> int:
        """Send one call; its block."""
        return int(self.sender.transact(fn)["blockNumber"])


@dataclass(frozen=True)
class Migrator:
    """How one contract's state moves: `move` (after the rewiring) and `verify` (raises UpgradeError on a
    difference); `unwire` are the calls that take the old address out of the other contracts afterwards."""

    contract: str
    move: Callable[[Migration], None]
    verify: Callable[[Migration], None]
    unwire: tuple[Wiring, ...] = ()


@dataclass
class MigrationReport:
    contract: str
    old: str
    new: str
    version: int
    counts: dict[str, int]
    first_block: int
    last_block: int


# ---------------------------------------------------------------------------------------------- proposals


def read_proposal(suite: Suite, proposal_id: int) -> Proposal:
    p = suite.call(UPGRADES, "proposal", proposal_id)
    current, nxt, proposer, approver, version, name = p
    return Proposal(proposal_id, str(name), str(current), str(nxt), int(version), str(proposer),
                    None if int(approver, 16) == 0 else str(approver))


def propose_upgrade(sender: TransactionSender, suite: Suite, contract: str, artifact: str | None = None,
                    progress: Callable[[str], None] | None = None) -> Proposal:
    """Deploy the new version of `contract` (built from `artifact`, default the contract itself) and propose it."""
    spec = next((s for s in SUITE if s.name == contract), None)
    if spec is None:
        raise UpgradeError(f"{contract} is not a contract of the suite")
    if contract not in MIGRATORS:  # nothing is deployed or proposed that could not be run
        raise UpgradeError(f"no migrator for {contract} yet (migrators exist for {', '.join(MIGRATORS)})")
    art: Artifact = suite.artifacts[artifact or contract]
    factory = suite.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = sender.deploy(factory, *spec.constructor_args(suite.deployment.addresses, suite.deployment.deployer))
    new_address = str(receipt["contractAddress"])
    if progress:
        progress(f"deployed {artifact or contract} at {new_address}")
    version = suite.deployment.version_of(contract).version + 1
    receipt = suite.transact(sender, UPGRADES, "propose", contract, suite.deployment.addresses[contract],
                             new_address, version)
    (event,) = suite.events(receipt, UPGRADES, "UpgradeProposed")
    return read_proposal(suite, int(event["id"]))


def approve_upgrade(sender: TransactionSender, suite: Suite, proposal_id: int) -> Proposal:
    suite.transact(sender, UPGRADES, "approve", proposal_id)
    return read_proposal(suite, proposal_id)


# ---------------------------------------------------------------------------------------------- the run


def rewiring(contract: str, old: str, new: str, addresses: Addresses) -> list[tuple[str, str, list[Any]]]:
    """The suite's wiring calls that name `contract`'s address, made on other contracts, with the new address."""
    before = {**addresses, contract: old}
    after = {**addresses, contract: new}
    return [(target, function, args(after)) for target, function, args in WIRING
            if target != contract and old in args(before)]


def run_upgrade(sender: TransactionSender, suite: Suite, proposal_id: int, artifact: str | None = None,
                progress: Callable[[str], None] | None = None) -> tuple[Deployment, MigrationReport]:
    """Carry out an approved upgrade (see the module's docstring); the new record and what was moved."""
    say = progress or (lambda _: None)
    proposal = read_proposal(suite, proposal_id)
    if not proposal.approved:
        raise UpgradeError(f"proposal {proposal_id} is not approved: a second regulator approves it first")
    deployment = suite.deployment
    if deployment.addresses.get(proposal.name) != proposal.current:
        raise UpgradeError(f"proposal {proposal_id} replaces {proposal.current}, but {proposal.name} is at "
                           f"{deployment.addresses.get(proposal.name)} in this deployment")
    migrator = MIGRATORS.get(proposal.name)
    if migrator is None:
        raise UpgradeError(f"no migrator for {proposal.name} yet (migrators exist for {', '.join(MIGRATORS)})")
    new_artifact = artifact or proposal.name
    old_artifact = deployment.artifact_of(proposal.name)
    w3 = suite.w3
    migration = Migration(
        sender, suite, proposal,
        old=w3.eth.contract(address=proposal.current, abi=suite.artifacts[old_artifact].abi),  # type: ignore[call-overload]
        new=w3.eth.contract(address=proposal.next, abi=suite.artifacts[new_artifact].abi),  # type: ignore[call-overload]
    )
    first = int(w3.eth.block_number) + 1
    for target, function, args in rewiring(proposal.name, proposal.current, proposal.next, deployment.addresses):
        migration.send(suite.function(target, function, *args))
        say(f"rewired {target}.{function} to {proposal.next}")
    mirrored = proposal.name in MIRRORS
    if mirrored:
        backfill_permissions(migration)
        say(f"copied {len(migration.moved['accounts'])} accounts' permissions to {proposal.next}")
    migrator.move(migration)
    for target, function, args_of in migrator.unwire:
        migration.send(suite.function(target, function, *args_of({proposal.name: proposal.current})))
        say(f"unwired {target}.{function} from {proposal.current}")
    if mirrored:
        migration.send(suite.function("Membership", "removeMirror", proposal.current))
        say(f"unwired Membership.removeMirror from {proposal.current}")
    last = int(w3.eth.block_number)
    if mirrored:
        verify_permissions(migration)
    migrator.verify(migration)
    say("verified: " + ", ".join(f"{k} {v}" for k, v in migration.counts.items()))
    record = upgraded(deployment, proposal, new_artifact, proposed_block(suite, proposal), last,
                      {new_artifact: suite.artifacts[new_artifact]})
    return record, MigrationReport(proposal.name, proposal.current, proposal.next, proposal.version,
                                   dict(migration.counts), first, last)


def known_accounts(suite: Suite) -> list[str]:
    """Every account Membership ever gave a word: the members admitted (in its events) and the escrow agents."""
    membership = suite.contract("Membership")
    since = suite.deployment.block
    found = {str(log["args"]["account"]) for log in membership.events.MemberAdmitted().get_logs(from_block=since)}
    found |= {str(log["args"]["account"]) for log in membership.events.EscrowAgentSet().get_logs(from_block=since)}
    return sorted(found)


def backfill_permissions(m: Migration) -> None:
    """Copy Membership's word of every known account into the new deployment (a mirror added after them)."""
    accounts = known_accounts(m.suite)
    for start in range(0, len(accounts), BATCH):
        m.send(m.new.functions.refreshPermissions(accounts[start:start + BATCH]))
    m.moved["accounts"] = accounts


def verify_permissions(m: Migration) -> None:
    """The new deployment is a mirror holding Membership's words; the old one is no longer pushed to."""
    membership = m.suite.contract("Membership")
    problems = [f"{what}: expected {want!r}, found {got!r}" for what, want, got in (
        ("new deployment is a permission mirror", True, membership.functions.isMirror(m.new.address).call()),
        ("old deployment is no permission mirror", False, membership.functions.isMirror(m.old.address).call()),
        *((f"permissions of {account}", membership.functions.permissionsOf(account).call(),
           m.new.functions.mirroredPermissions(account).call()) for account in m.moved["accounts"]),
    ) if want != got]
    if problems:
        raise UpgradeError("the permissions did not move exactly:\n  " + "\n  ".join(problems))


def proposed_block(suite: Suite, proposal: Proposal) -> int:
    """The block of the proposal (the new deployment exists from then on, and has done nothing before)."""
    upgrades = suite.contract(UPGRADES)
    logs = upgrades.events.UpgradeProposed().get_logs(
        from_block=suite.deployment.block, argument_filters={"id": proposal.id})
    return int(logs[0]["blockNumber"])


def upgraded(deployment: Deployment, proposal: Proposal, artifact: str, from_block: int, until_block: int,
             artifacts: dict[str, Artifact]) -> Deployment:
    """The deployment record after `proposal`: the new address current, the old one in the history."""
    name = proposal.name
    before = deployment.version_of(name)
    past = PastAddress(proposal.current, before.version, deployment.artifact_of(name), before.from_block,
                       until_block)
    versions = {**deployment.versions,
                name: ContractVersion(proposal.version, artifact, from_block, (*before.history, past))}
    return replace(deployment, addresses={**deployment.addresses, name: proposal.next}, versions=versions,
                   abi_hashes={**deployment.abi_hashes, name: artifacts[artifact].abi_hash})


def _batches(items: list[int], size: int = BATCH) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------------------------------------- CarbonMarket

OPEN = 1  # CarbonMarket.OrderStatus.Open
MIGRATED = 5  # CarbonMarket.OrderStatus.Migrated
IMPORT_DONE = 2  # CarbonMarket.ImportStage.Done


def _since(migration: Migration) -> int:
    return migration.suite.deployment.version_of(migration.proposal.name).from_block


def _market_assets(migration: Migration) -> list[str]:
    """Every asset contract ever enabled on the old market: the tradeable kinds and any other it enabled."""
    found = {migration.suite.deployment.addresses[k.contract] for k in tradeable()}
    for log in migration.old.events.AssetEnabled().get_logs(from_block=_since(migration)):
        if log["args"]["enabled"]:
            found.add(str(log["args"]["asset"]))
    return sorted(found)


def _priced_tokens(migration: Migration) -> dict[str, list[int]]:
    """Asset -> token ids that ever had a reference price on the old market."""
    priced: dict[str, set[int]] = defaultdict(set)
    for log in migration.old.events.ReferencePriceSet().get_logs(from_block=_since(migration)):
        priced[str(log["args"]["asset"])].add(int(log["args"]["tokenId"]))
    return {asset: sorted(ids) for asset, ids in sorted(priced.items())}


def _move_market(m: Migration) -> None:
    old, new = m.old, m.new
    assets = _market_assets(m)
    enabled = [a for a in assets if old.functions.assetEnabled(a).call()]
    m.send(new.functions.beginImport(old.address, assets))
    count = int(old.functions.orderCount().call())
    orders = {i: old.functions.order(i).call() for i in range(1, count + 1)}
    open_ids = [i for i, o in orders.items() if o[2] == OPEN]
    for batch in _batches(open_ids):
        m.send(new.functions.importOrders(batch))
    escrow: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for i in open_ids:
        escrow[str(orders[i][3])][int(orders[i][4])] += int(orders[i][6])
    units = 0
    for asset, by_token in sorted(escrow.items()):
        m.send(new.functions.importEscrow(asset, sorted(by_token)))
        units += sum(by_token.values())
    prices = _priced_tokens(m)
    for asset, ids in prices.items():
        for batch in _batches(ids):
            m.send(new.functions.importReferencePrices(asset, batch))
    m.send(new.functions.finishImport())
    m.moved.update(orders={i: orders[i] for i in open_ids}, escrow=escrow, prices=prices, assets=assets,
                   enabled=enabled, order_count=count)
    m.counts.update(orders=len(open_ids), escrow_units=units, escrow_tokens=sum(len(t) for t in escrow.values()),
                    reference_prices=sum(len(ids) for ids in prices.values()), assets_enabled=len(enabled))


def _verify_market(m: Migration) -> None:
    old, new, moved = m.old, m.new, m.moved
    problems: list[str] = []

    def same(what: str, before: Any, after: Any) -> None:
        if before != after:
            problems.append(f"{what}: {before!r} before, {after!r} after")

    same("successor", m.proposal.next, old.functions.successor().call())
    same("import stage", IMPORT_DONE, new.functions.importStage().call())
    same("order count", moved["order_count"], new.functions.orderCount().call())
    for fn in ("ordinaryBandBps", "blockBandBps", "blockTradeThreshold"):
        same(fn, getattr(old.functions, fn)().call(), getattr(new.functions, fn)().call())
    for order_id, before in moved["orders"].items():
        then, now = list(old.functions.order(order_id).call()), list(new.functions.order(order_id).call())
        same(f"order {order_id} on the old market", MIGRATED, then[2])
        same(f"order {order_id}", [*before[:2], OPEN, *before[3:]], now)
        same(f"order {order_id} (old record)", [*before[:2], MIGRATED, *before[3:]], then)
    for asset, by_token in moved["escrow"].items():
        ids = sorted(by_token)
        token = m.suite.w3.eth.contract(address=asset, abi=m.suite.artifacts["AllowanceRegistry"].abi)  # type: ignore[call-overload]
        same(f"escrow of {asset} on the new market", [by_token[i] for i in ids],
             token.functions.balanceOfBatch([new.address] * len(ids), ids).call())
        same(f"escrow of {asset} left on the old market", [0] * len(ids),
             token.functions.balanceOfBatch([old.address] * len(ids), ids).call())
    for asset, ids in moved["prices"].items():
        for token_id in ids:
            same(f"reference price {asset}/{token_id}", old.functions.referencePrice(asset, token_id).call(),
                 new.functions.referencePrice(asset, token_id).call())
    for asset in moved["assets"]:
        same(f"{asset} enabled on the new market", asset in moved["enabled"], new.functions.assetEnabled(asset).call())
        same(f"{asset} enabled on the old market", False, old.functions.assetEnabled(asset).call())
    membership = m.suite.contract("Membership")
    same("new market is the escrow agent", True, membership.functions.isEscrowAgent(new.address).call())
    same("old market is no escrow agent", False, membership.functions.isEscrowAgent(old.address).call())
    if problems:
        raise UpgradeError("the state did not move exactly:\n  " + "\n  ".join(problems))


MARKET = Migrator(
    "CarbonMarket", _move_market, _verify_market,
    unwire=(("Membership", "setEscrowAgent", lambda a: [a["CarbonMarket"], False]),),
)

# One migrator per contract name; a contract without one cannot be upgraded yet (README: what is left).
MIGRATORS: dict[str, Migrator] = {m.contract: m for m in (MARKET,)}

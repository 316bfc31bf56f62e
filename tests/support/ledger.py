"""The suite deployed on an embedded chain, with one funded sender per actor of the cast."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger_service.chain.compiler import Artifact
from ledger_service.chain.deploy import Deployment, bind, deploy_suite
from ledger_service.chain.embedded import EmbeddedChain
from ledger_service.chain.errors import RevertDecoder
from ledger_service.chain.sender import TransactionSender
from tests.support.cast import ACTORS, MEMBERS, ORGS, ROLES, actor_account


EMBEDDED_GAS_LIMIT = 15_000_000


class Ledger:
    """Test handle on a deployed suite: send as an actor, call views, read events."""

    def __init__(self, chain: EmbeddedChain, artifacts: dict[str, Artifact]) -> None:
        self.chain = chain
        self.w3 = chain.w3
        self.artifacts = artifacts
        self.decoder = RevertDecoder.from_artifacts(artifacts.values())
        self.accounts: dict[str, LocalAccount] = {name: actor_account(name) for name in ACTORS}
        chain.fund(a.address for a in self.accounts.values())
        self.senders = {name: self._sender(acct) for name, acct in self.accounts.items()}
        self.deployment: Deployment = deploy_suite(self.senders["regulator"], artifacts, network="embedded")
        self.contracts: dict[str, Contract] = bind(self.w3, artifacts, self.deployment.addresses)
        self._admit_cast()

    def _admit_cast(self) -> None:
        for org in ORGS:
            self.tx("regulator", "Membership", "registerOrganisation", org.org_id, org.parent_id, org.kind, org.name)
        for name, (org_id, roles) in MEMBERS.items():
            self.tx("regulator", "Membership", "admit", self.address(name), org_id, [ROLES[r] for r in roles])

    # ------------------------------------------------------------------ access

    def address(self, actor: str) -> str:
        return str(self.accounts[actor].address)

    def contract(self, name: str) -> Contract:
        return self.contracts[name]

    def add_actor(self, name: str, account: LocalAccount) -> None:
        """A further funded account (not a member until admitted)."""
        self.chain.fund([account.address])
        self.accounts[name] = account
        self.senders[name] = self._sender(account)

    def _sender(self, account: LocalAccount) -> TransactionSender:
        # A fixed gas limit skips eth-tester's gas search (~4x faster); failures are replayed to decode them.
        return TransactionSender(self.w3, account, self.decoder, gas_limit=EMBEDDED_GAS_LIMIT)

    # ------------------------------------------------------------------ calls

    def tx(self, actor: str, contract: str, function: str, *args: Any, value: int = 0) -> TxReceipt:
        """Send `contract.function(*args)` from `actor`; raises ContractRevert on a revert."""
        fn = self.contracts[contract].get_function_by_name(function)(*args)
        return self.senders[actor].transact(fn, value=value)

    def call(self, contract: str, function: str, *args: Any, sender: str | None = None) -> Any:
        """Call a view; raises ContractRevert on a revert."""
        fn = self.contracts[contract].get_function_by_name(function)(*args)
        try:
            return fn.call({"from": self.address(sender)} if sender else {})
        except Exception as exc:
            revert = self.decoder.from_exception(exc)
            if revert is None:
                raise
            raise revert from None

    def events(self, receipt: TxReceipt, contract: str, event: str) -> list[dict[str, Any]]:
        """Decoded arguments of every `event` that `contract` emitted in the receipt."""
        target = self.contracts[contract]
        ev = getattr(target.events, event)()
        own_logs = {**receipt, "logs": [log for log in receipt["logs"] if log["address"] == target.address]}
        return [dict(log["args"]) for log in ev.process_receipt(own_logs, errors=DISCARD)]  # type: ignore[arg-type]

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> int:
        return self.chain.snapshot()

    def revert(self, snapshot_id: int) -> None:
        self.chain.revert(snapshot_id)
        for sender in self.senders.values():
            sender.resync_nonce()



"""The suite deployed on an embedded chain, with one funded sender per actor of the cast."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import deploy_suite
from ledger_core.chain.embedded import EmbeddedChain
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from tests.support.cast import ACTORS, MEMBERS, ORGS, ROLES, actor_account

EMBEDDED_GAS_LIMIT = 15_000_000


class Ledger(Suite):
    """Test handle on a deployed suite: send as an actor, call views, read events."""

    def __init__(self, chain: EmbeddedChain, artifacts: dict[str, Artifact]) -> None:
        self.chain = chain
        decoder = RevertDecoder.from_artifacts(artifacts.values())
        self.accounts: dict[str, LocalAccount] = {name: actor_account(name) for name in ACTORS}
        chain.fund(a.address for a in self.accounts.values())
        self.senders = {name: _sender(chain, decoder, acct) for name, acct in self.accounts.items()}
        super().__init__(chain.w3, artifacts, deploy_suite(self.senders["regulator"], artifacts, network="embedded"))
        self._admit_cast()

    def _admit_cast(self) -> None:
        for org in ORGS:
            self.tx("regulator", "Membership", "registerOrganisation", org.org_id, org.parent_id, org.kind, org.name)
        for name, (org_id, roles) in MEMBERS.items():
            self.tx("regulator", "Membership", "admit", self.address(name), org_id, [ROLES[r] for r in roles])

    def address(self, actor: str) -> str:
        return str(self.accounts[actor].address)

    def add_actor(self, name: str, account: LocalAccount) -> None:
        """A further funded account (not a member until admitted)."""
        self.chain.fund([account.address])
        self.accounts[name] = account
        self.senders[name] = _sender(self.chain, self.decoder, account)

    def tx(self, actor: str, contract: str, function: str, *args: Any, value: int = 0) -> TxReceipt:
        """Send `contract.function(*args)` from `actor`; raises ContractRevert on a revert."""
        return self.transact(self.senders[actor], contract, function, *args, value=value)

    def call(self, contract: str, function: str, *args: Any, sender: str | None = None) -> Any:
        """Call a view, optionally as an actor of the cast; raises ContractRevert on a revert."""
        return super().call(contract, function, *args, sender=self.address(sender) if sender else None)

    def snapshot(self) -> int:
        return self.chain.snapshot()

    def revert(self, snapshot_id: int) -> None:
        self.chain.revert(snapshot_id)
        for sender in self.senders.values():
            sender.resync_nonce()


def _sender(chain: EmbeddedChain, decoder: RevertDecoder, account: LocalAccount) -> TransactionSender:
    # A fixed gas limit skips eth-tester's gas search (~4x faster); failures are replayed to decode them.
    return TransactionSender(chain.w3, account, decoder, gas_limit=EMBEDDED_GAS_LIMIT)

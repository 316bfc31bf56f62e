"""Keep Hyperledger Besu's local account allowlist in step with the Membership contract.

Besu 25.6 removed on-chain permissioning; what remains is each node's local account
allowlist, managed over JSON-RPC (`perm_getAccountsAllowlist`,
`perm_addAccountsToAllowlist`, `perm_removeAccountsFromAllowlist`, enabled with
`--permissions-accounts-config-file-enabled` and the PERM API). The wanted list is
exactly the accounts for which `Membership.transactionAllowed` is true: active
members and system accounts. Accounts named in `keep` (validator operators, say)
are never removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from web3.contract import Contract

from ledger_core.chain.addresses import to_checksum_address


class AllowlistError(RuntimeError):
    """A node refused or failed an allowlist call."""


@dataclass(frozen=True)
class AllowlistChange:
    node: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass
class BesuPermRpc:
    """The PERM JSON-RPC methods of one Besu node."""

    url: str
    timeout: float = 10.0
    _ids: int = field(default=0, repr=False)

    def _call(self, method: str, params: list[Any]) -> Any:
        self._ids += 1
        try:
            reply = httpx.post(
                self.url, json={"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params},
                timeout=self.timeout,
            ).json()
        except httpx.HTTPError as exc:
            raise AllowlistError(f"{self.url}: {method} failed: {exc}") from exc
        if "error" in reply:
            raise AllowlistError(f"{self.url}: {method} refused: {reply['error'].get('message', reply['error'])}")
        return reply.get("result")

    def get(self) -> set[str]:
        return {to_checksum_address(a) for a in self._call("perm_getAccountsAllowlist", [])}

    def add(self, accounts: Sequence[str]) -> None:
        if accounts:
            self._call("perm_addAccountsToAllowlist", [list(accounts)])

    def remove(self, accounts: Sequence[str]) -> None:
        if accounts:
            self._call("perm_removeAccountsFromAllowlist", [list(accounts)])


def candidate_accounts(membership: Contract, from_block: int) -> set[str]:
    """Every account Membership has ever admitted or named a system account."""
    seen: set[str] = set()
    for event in (membership.events.MemberAdmitted, membership.events.SystemAccountSet):
        for log in event.get_logs(from_block=from_block):
            seen.add(to_checksum_address(log["args"]["account"]))
    return seen


def wanted_accounts(membership: Contract, from_block: int) -> set[str]:
    """The accounts that Membership allows to transact now (its `transactionAllowed` rule)."""
    allowed = membership.functions.transactionAllowed
    return {
        account
        for account in candidate_accounts(membership, from_block)
        if allowed(account, account, 0, 0, 0, b"").call()
    }


def sync_allowlists(
    membership: Contract, from_block: int, nodes: Iterable[BesuPermRpc], keep: Iterable[str] = (), dry_run: bool = False
) -> list[AllowlistChange]:
    """Bring every node's allowlist to Membership's wanted set (plus `keep`); returns what changed."""
    keep_set = {to_checksum_address(a) for a in keep}
    wanted = wanted_accounts(membership, from_block) | keep_set
    changes = []
    for node in nodes:
        current = node.get()
        to_add = tuple(sorted(wanted - current))
        to_remove = tuple(sorted(current - wanted - keep_set))
        if not dry_run:
            node.add(to_add)
            node.remove(to_remove)
        changes.append(AllowlistChange(node.url, to_add, to_remove))
    return changes

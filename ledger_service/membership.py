"""Members and organisations as the chain records them, read through a short-lived cache.

A member's view (organisation, status, freeze, roles) is reused for
`member_cache_seconds`; the service drops a member's entry itself whenever it sends a
Membership transaction about it, and every member view when the event index takes in a
Membership event (`Directory.membership_seen`: a change made outside this process, by another
service process or straight on chain), so a sanction is refused on the next request once it is
seen; the contracts check every transaction again anyway. Organisations
never change once registered and are cached for good. Children of an organisation
and members of one are read from the registry's events: from the service's event index
when the directory has one (`IndexedMembership`), otherwise with `eth_getLogs`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3.contract import Contract

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.chain.client import ChainClient
from ledger_core.db.models import ChainMemberEvent, ChainOrganisation

ROLE_NAMES = ("REGULATOR", "VERIFIER", "ORACLE", "ENTERPRISE", "TRADER", "SETTLEMENT_BANK")
ROLE_IDS = {name: keccak(text=name) for name in ROLE_NAMES}
_MEMBER_OF = function_signature_to_4byte_selector("memberOf(address)")
_HAS_ROLE = function_signature_to_4byte_selector("hasRole(bytes32,address)")
_ORGANISATION_EXISTS = function_signature_to_4byte_selector("organisationExists(uint64)")
_ORGANISATION = function_signature_to_4byte_selector("organisation(uint64)")


class MemberStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class OrgKind(IntEnum):
    AUTHORITY = 0
    PARK = 1
    ENTERPRISE = 2
    VERIFICATION_BODY = 3
    TRADING_FIRM = 4
    BANK = 5
    OPERATOR = 6


@dataclass(frozen=True)
class MemberView:
    address: str
    org_id: int
    status: MemberStatus
    frozen: bool
    roles: frozenset[str]

    @property
    def active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    @property
    def can_transact(self) -> bool:
        return self.active and not self.frozen

    def has_role(self, role: str) -> bool:
        return self.active and role in self.roles


@dataclass(frozen=True)
class OrgView:
    org_id: int
    parent_id: int
    kind: OrgKind
    name: str


class IndexedMembership:
    """Membership events as the event index holds them, brought up to the head (`up_to_date`) first."""

    def __init__(self, sessions: sessionmaker[Session], up_to_date: Callable[[], object]) -> None:
        self.sessions = sessions
        self.up_to_date = up_to_date

    def child_ids(self, org_id: int) -> list[int]:
        self.up_to_date()
        with self.sessions() as session:
            return list(session.scalars(select(ChainOrganisation.org_id).where(
                ChainOrganisation.parent_id == org_id).order_by(ChainOrganisation.org_id)))

    def admitted(self, org_id: int) -> list[str]:
        """Accounts admitted to the organisation, in the order of their admission events."""
        self.up_to_date()
        with self.sessions() as session:
            return list(session.scalars(select(ChainMemberEvent.account).where(
                ChainMemberEvent.kind == "admitted", ChainMemberEvent.org_id == org_id,
            ).order_by(ChainMemberEvent.block_number, ChainMemberEvent.log_index)))


@dataclass
class _Flight:
    """A member read in progress, which concurrent requests for the same member wait for."""

    generation: int
    done: threading.Event = field(default_factory=threading.Event)
    view: MemberView | None = None
    error: BaseException | None = None


class Directory:
    def __init__(self, chain: ChainClient, membership: Contract, from_block: int, ttl: float,
                 index: IndexedMembership | None = None) -> None:
        self.chain = chain
        self.membership = membership
        self.from_block = from_block
        self.ttl = ttl
        self.index = index
        self._members: dict[str, tuple[float, MemberView]] = {}
        self._orgs: dict[int, OrgView] = {}
        self._lock = threading.Lock()
        self._generation = 0  # moves on whenever views are dropped: a view read before then is not kept
        self._reading: dict[str, _Flight] = {}

    def cached(self, address: str) -> MemberView | None:
        """The member's view if one is held and fresh (no chain read, so callers may skip the thread pool)."""
        cached = self._members.get(to_checksum_address(address))
        return cached[1] if cached is not None and time.monotonic() - cached[0] < self.ttl else None

    def member(self, address: str) -> MemberView:
        address = to_checksum_address(address)
        held = self.cached(address)
        if held is not None:
            return held
        with self._lock:  # one read per member at a time: concurrent requests share it (no stampede on expiry)
            generation = self._generation
            flight = self._reading.get(address)
            leads = flight is None or flight.generation != generation
            if leads:
                flight = self._reading[address] = _Flight(generation)
        assert flight is not None
        if not leads:
            flight.done.wait()
            if flight.view is None:
                raise flight.error or RuntimeError("member read failed")
            return flight.view
        try:
            flight.view = view = self._read_member(address)
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                if self._reading.get(address) is flight:
                    del self._reading[address]
                if flight.view is not None and generation == self._generation:
                    self._members[address] = (time.monotonic(), flight.view)
            flight.done.set()
        return view

    def _read_member(self, address: str) -> MemberView:
        """The member's record and every role, read together (one JSON-RPC batch on a node)."""
        calls = [_MEMBER_OF + abi_encode(["address"], [address])]
        calls += [_HAS_ROLE + abi_encode(["bytes32", "address"], [role, address]) for role in ROLE_IDS.values()]
        replies = self.chain.call_many(str(self.membership.address), calls)
        org_id, status, frozen = abi_decode(["uint64", "uint8", "bool"], replies[0])
        roles = frozenset(name for name, reply in zip(ROLE_IDS, replies[1:], strict=True)
                          if status != 0 and abi_decode(["bool"], reply)[0])
        return MemberView(address, int(org_id), MemberStatus(status), bool(frozen), roles)

    def forget(self, address: str | None = None) -> None:
        """Drop a member's view; with no address, every member view and organisation (after a chain revert)."""
        with self._lock:
            self._generation += 1
            if address is None:
                self._members.clear()
                self._orgs.clear()
            else:
                self._members.pop(to_checksum_address(address), None)

    def membership_seen(self, events: Iterable[str]) -> None:
        """After the event index took in `events` ("Contract.Event" names): any Membership event other than a
        new organisation may have changed a member's standing, so no member view is reused."""
        if any(e.startswith("Membership.") and e != "Membership.OrganisationRegistered" for e in events):
            with self._lock:
                self._generation += 1
                self._members.clear()

    def organisation(self, org_id: int) -> OrgView | None:
        cached = self._orgs.get(org_id)
        if cached is not None:
            return cached
        # Both read together (one JSON-RPC batch on a node); the second reverts for an unknown organisation.
        argument, to = abi_encode(["uint64"], [org_id]), str(self.membership.address)
        exists, record = self.chain.calls([{"to": to, "data": _ORGANISATION_EXISTS + argument},
                                           {"to": to, "data": _ORGANISATION + argument}])
        if isinstance(exists, Exception):
            raise exists
        if not abi_decode(["bool"], exists)[0]:
            return None
        if isinstance(record, Exception):
            raise record
        parent_id, kind, name = abi_decode(["uint64", "uint8", "string"], record)
        view = self._orgs[org_id] = OrgView(org_id, int(parent_id), OrgKind(kind), str(name))
        return view

    def ancestors(self, org_id: int) -> list[OrgView]:
        """From the organisation's parent up to the top-level organisation."""
        chain: list[OrgView] = []
        org = self.organisation(org_id)
        while org is not None and org.parent_id != 0 and len(chain) < 64:
            org = self.organisation(org.parent_id)
            if org is not None:
                chain.append(org)
        return chain

    def children(self, org_id: int) -> list[OrgView]:
        if self.index is not None:
            ids = self.index.child_ids(org_id)
        else:
            events = self.membership.events.OrganisationRegistered
            logs = self.chain.request(
                lambda: events.get_logs(from_block=self.from_block, argument_filters={"parentId": org_id})
            )
            ids = sorted({int(log["args"]["orgId"]) for log in logs})
        return [org for org in (self.organisation(i) for i in ids) if org is not None]

    def member_addresses(self, org_id: int) -> list[str]:
        if self.index is not None:
            return [to_checksum_address(a) for a in self.index.admitted(org_id)]
        events = self.membership.events.MemberAdmitted
        logs = self.chain.request(
            lambda: events.get_logs(from_block=self.from_block, argument_filters={"orgId": org_id})
        )
        return [to_checksum_address(log["args"]["account"]) for log in logs]

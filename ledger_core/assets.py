"""The asset kinds the ledger knows, described once as data.

Each `AssetKind` says which contract holds the asset, what its token id means, its unit and
decimals, whether it trades on the CarbonMarket, counts towards compliance (and under which
`ComplianceLedger.AssetKind` number) or can be retired, which of its events the indexer turns
into which rows, which of its functions the service relays and for whom, and how its mints and
burns read in an asset trace. The deployment wiring, the market's asset names, the audit trace,
the indexer, the relay rules, the API and the CLI all read `ASSET_KINDS`, so a new kind is one
more description here plus the code that is truly its own (its contract, its own events' rows,
its own trace explanations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Standard = Literal["erc1155", "erc20"]

# Membership roles as the contracts name them (the relay rules below refer to them).
REGULATOR, VERIFIER, ENTERPRISE, TRADER = "REGULATOR", "VERIFIER", "ENTERPRISE", "TRADER"


@dataclass(frozen=True)
class RelayRule:
    """What the service checks before relaying a client-signed call: the caller holds one of `roles` (any active
    member where empty), is not frozen where assets move, and is the owner named by argument `owner_arg`."""

    roles: tuple[str, ...] = ()
    moves_assets: bool = False
    owner_arg: int | None = None  # index of the argument that must be the sender (asset owner)


@dataclass(frozen=True)
class TraceRules:
    """How an ERC-1155 token id's mints and burns read in an asset trace.

    A mint reads `mint`, or "allocation" where `explain_mints` names the lookup that recognises it; a burn is
    explained by the lookups in `explain_burns` (each a name the trace module maps to a query of this kind's own
    event rows, e.g. a credit's retirement), else by a compliance surrender, else it reads `burn`."""

    mint: str = "issuance"
    burn: str = "burn"
    explain_mints: str | None = None
    explain_burns: tuple[str, ...] = ()


# The ERC-1155 moves every holder may relay for itself (the contract checks them again).
ERC1155_RELAY: Mapping[str, RelayRule] = {
    "safeTransferFrom": RelayRule((ENTERPRISE, TRADER), moves_assets=True, owner_arg=0),
    "safeBatchTransferFrom": RelayRule((ENTERPRISE, TRADER), moves_assets=True, owner_arg=0),
    "setApprovalForAll": RelayRule((ENTERPRISE, TRADER)),
}


@dataclass(frozen=True)
class AssetKind:
    """One kind of asset on the ledger (see the module's docstring)."""

    name: str  # as the API, the CLI and the market name it
    contract: str  # the artifact (and address-book) name of its contract
    standard: Standard
    token_id: str  # what a token id means ("" for an ERC-20)
    token_noun: str  # one token id in a sentence: "allowance vintage 2025", "credit batch 3"
    unit: str  # what one unit is
    decimals: int
    tradeable: bool  # enabled on the CarbonMarket at deployment
    surrenderable: bool
    compliance_kind: int | None  # ComplianceLedger.AssetKind number, for a surrenderable kind
    retirable: bool
    events: Mapping[str, str] = field(default_factory=dict)  # event -> the indexer's handler name
    relay: Mapping[str, RelayRule] = field(default_factory=dict)  # function -> relay rule
    trace: TraceRules | None = None  # None where the kind is not traced by token id

    def __post_init__(self) -> None:
        if self.surrenderable != (self.compliance_kind is not None):
            raise ValueError(f"asset kind {self.name!r}: a surrenderable kind needs its ComplianceLedger number")

    @property
    def traced(self) -> bool:
        return self.trace is not None


ALLOWANCE = AssetKind(
    name="allowance",
    contract="AllowanceRegistry",
    standard="erc1155",
    token_id="vintage year",
    token_noun="vintage",
    unit="tCO2e",
    decimals=0,
    tradeable=True,
    surrenderable=True,
    compliance_kind=1,
    retirable=False,
    # An allocation is the registry's mint (indexed as a transfer); `Allocated` only sums up a batch.
    events={"Retracted": "retracted", "Surrendered": "allowances_surrendered"},
    relay={
        "safeTransferFrom": ERC1155_RELAY["safeTransferFrom"],
        "safeBatchTransferFrom": ERC1155_RELAY["safeBatchTransferFrom"],
        "surrender": RelayRule((ENTERPRISE,), moves_assets=True),
        "allocate": RelayRule((REGULATOR,)),
        "retract": RelayRule((REGULATOR,)),
        "setApprovalForAll": ERC1155_RELAY["setApprovalForAll"],
    },
    # A regulator's burn of allowances outside a surrender is a retraction.
    trace=TraceRules(burn="retraction", explain_mints="allocations"),
)

CREDIT = AssetKind(
    name="credit",
    contract="CreditRegistry",
    standard="erc1155",
    token_id="issuance batch",
    token_noun="batch",
    unit="tCO2e",
    decimals=0,
    tradeable=True,
    surrenderable=True,
    compliance_kind=2,
    retirable=True,
    events={
        "ProjectRegistered": "project_event",
        "ProjectSuspended": "project_event",
        "ProjectReinstated": "project_event",
        "VerificationSubmitted": "verification_submitted",
        "BatchIssued": "batch_issued",
        "CreditsRetired": "credits_retired",
        "CreditsCancelled": "credits_cancelled",
        "CreditsSurrendered": "credits_surrendered",
    },
    relay={
        **ERC1155_RELAY,
        "retire": RelayRule((ENTERPRISE, TRADER), moves_assets=True),
        "surrender": RelayRule((ENTERPRISE,), moves_assets=True),
        "submitVerification": RelayRule((VERIFIER,)),
        **{f: RelayRule((REGULATOR,)) for f in ("registerProject", "suspendProject", "reinstateProject",
                                                "issueBatch", "cancelCredits")},
    },
    trace=TraceRules(explain_burns=("credit_burns",)),
)

# Green electricity certificates: issued to a renewable generator from its anchored production (1 unit = 1 MWh),
# traded like credits, and consumed by an enterprise to claim renewable electricity (market-based Scope 2).
GEC = AssetKind(
    name="gec",
    contract="GreenCertificates",
    standard="erc1155",
    token_id="issuance batch",
    token_noun="GEC batch",
    unit="MWh",
    decimals=0,
    tradeable=True,
    surrenderable=False,
    compliance_kind=None,
    retirable=False,
    events={"CertificatesIssued": "gec_issued", "CertificatesConsumed": "gec_consumed"},
    relay={
        **ERC1155_RELAY,
        "consume": RelayRule((ENTERPRISE,), moves_assets=True),
        "issue": RelayRule((REGULATOR,)),
        "setMarketBasedScope2Counts": RelayRule((REGULATOR,)),
    },
    # A burn is a consumption claim for the holder's organisation.
    trace=TraceRules(explain_burns=("gec_consumptions",)),
)

# The cash leg of every trade: an ERC-20 in fen, paid through the market, never traded on it. Its relay rules
# stay with the settlement bank's (relay.py): they concern money, not an asset description.
SETTLEMENT = AssetKind(
    name="settlement",
    contract="SettlementToken",
    standard="erc20",
    token_id="",
    token_noun="",
    unit="fen (0.01 CNY)",
    decimals=2,
    tradeable=False,
    surrenderable=False,
    compliance_kind=None,
    retirable=False,
)

# Name -> description, in a stable order. Mutable on purpose: a test (or a deployment's extension) registers a
# kind here and every reader sees it.
ASSET_KINDS: dict[str, AssetKind] = {k.name: k for k in (ALLOWANCE, CREDIT, GEC, SETTLEMENT)}


class UnknownAssetKind(KeyError):
    pass


def asset_kind(name: str) -> AssetKind:
    try:
        return ASSET_KINDS[name]
    except KeyError:
        raise UnknownAssetKind(name) from None


def by_contract(contract: str) -> AssetKind | None:
    """The kind held by the contract of that artifact name, if any."""
    return next((k for k in ASSET_KINDS.values() if k.contract == contract), None)


def by_compliance_kind(number: int) -> AssetKind | None:
    """The kind that ComplianceLedger records under `number` (its AssetKind enum), if any."""
    return next((k for k in ASSET_KINDS.values() if k.compliance_kind == number), None)


def tradeable() -> list[AssetKind]:
    return [k for k in ASSET_KINDS.values() if k.tradeable]


def surrenderable() -> list[AssetKind]:
    return [k for k in ASSET_KINDS.values() if k.surrenderable]


def traced() -> list[AssetKind]:
    return [k for k in ASSET_KINDS.values() if k.traced]


def tradeable_names() -> tuple[str, ...]:
    return tuple(k.name for k in tradeable())


def traced_names() -> tuple[str, ...]:
    return tuple(k.name for k in traced())


def register(kind: AssetKind) -> None:
    """Add (or replace) a kind; every reader of the registry sees it from then on."""
    ASSET_KINDS[kind.name] = kind

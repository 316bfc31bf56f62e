"""Which client-signed transactions the service relays, and what it checks first.

A relayed transaction must be signed by the calling member, for this chain, to a
contract of the suite, calling a function listed here; the caller must hold one of
the function's roles (any active member where none is listed), not be frozen where
assets move, and move only its own assets. The contract checks everything again.
"""

from __future__ import annotations

from ledger_core.assets import ASSET_KINDS, RelayRule
from ledger_core.chain.calldata import CallEncoder
from ledger_core.chain.outbox import RelayedTx
from ledger_core.chain.rawtx import DecodedTx
from ledger_service.membership import MemberView

REG, VER, ORA, ENT, TRA, BANK = "REGULATOR", "VERIFIER", "ORACLE", "ENTERPRISE", "TRADER", "SETTLEMENT_BANK"

# The asset contracts' rules are their kinds' (ledger_core.assets); the rest are listed here.
RELAYABLE: dict[tuple[str, str], RelayRule] = {
    **{(kind.contract, function): rule for kind in ASSET_KINDS.values() for function, rule in kind.relay.items()},
    ("Notary", "notarize"): RelayRule(),
    ("EmissionRegistry", "submitReport"): RelayRule((ENT,)),
    ("EmissionRegistry", "verifyReport"): RelayRule((VER,)),
    ("EmissionRegistry", "rejectReport"): RelayRule((VER,)),
    ("EmissionRegistry", "finalizeReport"): RelayRule((REG,)),
    ("MeterAnchor", "registerDevice"): RelayRule((ENT, REG)),
    ("MeterAnchor", "setDeviceActive"): RelayRule((ENT, REG)),
    ("MeterAnchor", "rotateDeviceKey"): RelayRule((ENT, REG)),
    ("MeterAnchor", "anchor"): RelayRule((ORA,)),
    ("MeterAnchor", "anchorBatch"): RelayRule((ORA,)),
    ("MeterAnchor", "setOracleAuthorisation"): RelayRule((REG,)),
    ("ComplianceLedger", "openComplianceWindow"): RelayRule((REG,)),
    ("ComplianceLedger", "closeComplianceWindow"): RelayRule((REG,)),
    ("SettlementToken", "transfer"): RelayRule(moves_assets=True),
    ("SettlementToken", "transferFrom"): RelayRule(moves_assets=True, owner_arg=0),
    ("SettlementToken", "approve"): RelayRule(),
    **{("SettlementToken", f): RelayRule((BANK,), moves_assets=True) for f in ("mint", "burn", "burnFrom")},
    ("CarbonMarket", "list"): RelayRule((ENT, TRA), moves_assets=True),
    ("CarbonMarket", "fill"): RelayRule((ENT, TRA), moves_assets=True),
    ("CarbonMarket", "cancel"): RelayRule(),
    ("CarbonMarket", "reclaimExpired"): RelayRule(),
    **{("CarbonMarket", f): RelayRule((REG,)) for f in ("setAssetEnabled", "setReferencePrice", "setPriceBands",
                                                "setBlockTradeThreshold")},
    **{("Membership", f): RelayRule((REG,)) for f in ("registerOrganisation", "admit", "suspend", "reinstate", "revoke",
                                              "freeze", "unfreeze")},
}


class RelayRefused(PermissionError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_relay(tx: DecodedTx, caller: MemberView, chain_id: int, addresses: dict[str, str],
                encoder: CallEncoder) -> RelayedTx:
    """The transaction matched to its contract and function; raises RelayRefused otherwise."""
    if tx.sender != caller.address:
        raise RelayRefused(403, "SignerMismatch", f"the transaction is signed by {tx.sender}, not by the caller")
    if tx.chain_id != chain_id:
        raise RelayRefused(422, "WrongChain", f"the transaction is for chain {tx.chain_id}, this is chain {chain_id}")
    contract = next((name for name, addr in addresses.items() if tx.to is not None and addr == tx.to), None)
    if contract is None:
        raise RelayRefused(403, "NotSuiteContract", f"{tx.to} is not a contract of the suite")
    if tx.value != 0:
        raise RelayRefused(422, "ValueNotAccepted", "the suite's functions take no ether")
    try:
        fn = encoder.by_selector(contract, tx.data[:4])
        args = fn.decode_args(tx.data)
    except Exception as exc:
        raise RelayRefused(422, "UnknownFunction", f"no function of {contract} matches the calldata: {exc}") from None
    rule = RELAYABLE.get((contract, fn.name))
    if rule is None:
        raise RelayRefused(403, "FunctionNotRelayable", f"{contract}.{fn.name} is not relayed by the service")
    if rule.roles and not any(caller.has_role(r) for r in rule.roles):
        raise RelayRefused(403, "MissingRole", f"{contract}.{fn.name} needs the {' or '.join(rule.roles)} role")
    if rule.moves_assets and caller.frozen:
        raise RelayRefused(403, "AccountFrozen", f"{caller.address} is frozen: its assets cannot move")
    if rule.owner_arg is not None and args[rule.owner_arg] != caller.address:
        raise RelayRefused(403, "NotYourAssets", "only the sender's own assets can be moved")
    return RelayedTx(raw=tx.raw, tx_hash=tx.tx_hash, sender=tx.sender, nonce=tx.nonce, gas_limit=tx.gas_limit,
                     to=tx.to or "", value=tx.value, calldata=tx.data, contract=contract, function=fn.name, args=args,
                     max_fee_per_gas=tx.max_fee_per_gas, max_priority_fee_per_gas=tx.max_priority_fee_per_gas)

"""The table of handlers: each (contract, event) maps to a function giving rows of the index tables.

Extend it by adding entries to `HANDLERS` (or calling `register`); `"*"` as contract matches
any contract of the suite, so the token standards (ERC-1155 `TransferSingle`/`TransferBatch`,
ERC-20 `Transfer`) are indexed for every token contract, allowances, credits and the
settlement token alike. An event without a handler is kept in `chain_other_events`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import keccak

from ledger_core import assets
from ledger_service.indexer.catalog import ChainEvent
from oracles.anchor_records import AnchorRecord, decode_records, event_record

Row = tuple[str, dict[str, Any]]
Handler = Callable[[ChainEvent], list[Row]]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ROLE_NAMES = {keccak(text=n): n for n in ("REGULATOR", "VERIFIER", "ORACLE", "ENTERPRISE", "TRADER",
                                          "SETTLEMENT_BANK")}
MEMBER_EVENT_KINDS = {
    "MemberAdmitted": "admitted",
    "MemberSuspended": "suspended",
    "MemberReinstated": "reinstated",
    "MemberRevoked": "revoked",
    "AccountFrozen": "frozen",
    "AccountUnfrozen": "unfrozen",
}
REPORT_EVENT_KINDS = {
    "ReportSubmitted": "submitted",
    "ReportVerified": "verified",
    "ReportRejected": "rejected",
    "ReportFinalized": "finalized",
}
# ComplianceLedger.AssetKind -> the registry contract whose units were surrendered.


def _transfer_kind(src: str, dst: str) -> str:
    if src == ZERO_ADDRESS:
        return "mint"
    if dst == ZERO_ADDRESS:
        return "burn"
    return "transfer"


def transfer_single(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_transfers", {
        "token": ev.contract, "token_id": a["id"], "kind": _transfer_kind(a["from"], a["to"]),
        "operator": a["operator"], "from_address": a["from"], "to_address": a["to"], "amount": a["value"],
        "sub_index": 0,
    })]


def transfer_batch(ev: ChainEvent) -> list[Row]:
    a = ev.args
    kind = _transfer_kind(a["from"], a["to"])
    return [("chain_transfers", {
        "token": ev.contract, "token_id": token_id, "kind": kind, "operator": a["operator"],
        "from_address": a["from"], "to_address": a["to"], "amount": value, "sub_index": i,
    }) for i, (token_id, value) in enumerate(zip(a["ids"], a["values"], strict=True))]


def erc20_transfer(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_transfers", {
        "token": ev.contract, "token_id": 0, "kind": _transfer_kind(a["from"], a["to"]), "operator": None,
        "from_address": a["from"], "to_address": a["to"], "amount": a["value"], "sub_index": 0,
    })]


def organisation_registered(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_organisations", {"org_id": a["orgId"], "parent_id": a["parentId"], "kind": a["kind"],
                                     "name": a["name"]})]


def member_event(ev: ChainEvent) -> list[Row]:
    a = ev.args
    roles = [ROLE_NAMES.get(bytes(r), "0x" + bytes(r).hex()) for r in a["roles"]] if "roles" in a else None
    return [("chain_member_events", {"account": a["account"], "kind": MEMBER_EVENT_KINDS[ev.event],
                                     "org_id": a.get("orgId"), "roles": roles, "reason_hash": a.get("reasonHash")})]


def retracted(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_allocations", {"year": a["year"], "holder": a["holder"], "org_id": a["orgId"],
                                   "amount": -a["amount"], "reason_hash": a["reasonHash"]})]


def allowances_surrendered(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_surrenders", {"token": ev.contract, "org_id": a["orgId"], "compliance_year": a["complianceYear"],
                                  "holder": a["holder"], "token_id": a["vintage"], "amount": a["amount"]})]


def obligation_set(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_compliance_records", {"kind": "obligation", "org_id": a["orgId"], "year": a["year"],
                                          "asset_kind": None, "registry_address": None, "tonnes": a["tonnes"]})]


def surrender_recorded(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_compliance_records", {"kind": "surrender", "org_id": a["orgId"], "year": a["year"],
                                          "asset_kind": a["kind"], "registry_address": a["registry"],
                                          "tonnes": a["tonnes"]})]


def report_event(ev: ChainEvent) -> list[Row]:
    a = ev.args
    actor = a.get("submitter") or a.get("verifier") or a.get("finalizer")
    return [("chain_report_events", {
        "report_id": a["reportId"], "kind": REPORT_EVENT_KINDS[ev.event], "org_id": a["orgId"], "year": a["year"],
        "actor": actor, "version": a.get("version"), "previous_report_id": a.get("previousReportId"),
        "document_hash": a.get("documentHash"), "reported_kg": a.get("reportedKgCO2e"),
        "anchors_root": a.get("anchorsRoot"), "anchored_mg": a.get("anchoredMg"),
        "reading_count": a.get("readingCount"), "verified_kg": a.get("verifiedKgCO2e"),
        "statement_hash": a.get("statementHash"), "reason_hash": a.get("reasonHash"),
        "obligation_tonnes": a.get("obligationTonnes"),
    })]


def device_registered(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_device_events", {
        "device_id": a["deviceId"], "kind": "registered", "enterprise_org_id": a["enterpriseOrgId"],
        "facility_id": a["facilityId"], "workshop_id": a["workshopId"], "public_key_hash": a["publicKeyHash"],
        "active": True, "actor": a["registeredBy"],
    })]


def device_active_set(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_device_events", {
        "device_id": a["deviceId"], "kind": "active_set", "enterprise_org_id": a["enterpriseOrgId"],
        "facility_id": None, "workshop_id": None, "public_key_hash": None, "active": a["active"], "actor": a["setBy"],
    })]


def device_key_rotated(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_device_events", {
        "device_id": a["deviceId"], "kind": "key_rotated", "enterprise_org_id": a["enterpriseOrgId"],
        "facility_id": None, "workshop_id": None, "public_key_hash": a["newKeyHash"], "active": None,
        "actor": a["rotatedBy"],
    })]


def oracle_authorisation_set(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_oracle_authorisations", {"oracle": a["oracle"], "enterprise_org_id": a["enterpriseOrgId"],
                                             "authorised": a["authorised"], "actor": a["setBy"]})]


def _anchor_row(r: AnchorRecord, batch_id: int | None) -> Row:
    return ("chain_anchors", {
        "anchor_id": r.anchor_id, "enterprise_org_id": r.enterprise_org_id, "measure": r.measure,
        "window_start": r.window_start, "window_end": r.window_end, "root": r.root, "total_mg": r.total,
        "reading_count": r.reading_count, "factor_set_id": r.factor_set_id, "previous_anchor_id": r.previous_anchor_id,
        "oracle": r.oracle, "batch_id": batch_id,
    })


def anchored(ev: ChainEvent) -> list[Row]:
    return [_anchor_row(event_record(ev.args), None)]


def batch_anchored(ev: ChainEvent) -> list[Row]:
    """One anchor row per window of the batch (records packed in the event; `oracles.anchor_records`)."""
    a = ev.args
    return [_anchor_row(r, int(a["batchId"])) for r in decode_records(a["oracle"], bytes(a["records"]))]


def notarized(ev: ChainEvent) -> list[Row]:
    # The notarization's time is its block's (the contract records block.timestamp; the event leaves it out).
    a = ev.args
    return [("chain_notarizations", {
        "document_hash": a["documentHash"], "notary": a["notary"], "org_id": a["orgId"], "kind": a["kind"],
        "reference_id": a["referenceId"], "timestamp": ev.block_timestamp, "notarized_block": ev.block_number,
    })]


PROJECT_EVENT_KINDS = {"ProjectRegistered": "registered", "ProjectSuspended": "suspended",
                       "ProjectReinstated": "reinstated"}
# A regulator's recovery or cancellation of stuck escrow closes the order as cancelled; where the
# units went is in the token's transfer events.
# An upgrade moves an open order from the old market (`OrderMigrated`) to the new one (`OrderImported`) with
# its id: the order stays open, with the same remaining units.
ORDER_EVENT_KINDS = {"OrderListed": "listed", "OrderFilled": "filled", "OrderCancelled": "cancelled",
                     "OrderExpiredReclaimed": "expired", "EscrowRecovered": "cancelled",
                     "EscrowCancelled": "cancelled", "OrderMigrated": "migrated", "OrderImported": "imported"}


def project_event(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_project_events", {
        "project_id": a["projectId"], "kind": PROJECT_EVENT_KINDS[ev.event], "owner": a.get("owner"),
        "methodology": a.get("methodology"), "document_hash": a.get("documentHash"), "location": a.get("location"),
        "reason_hash": a.get("reasonHash"),
    })]


def verification_submitted(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_credit_verifications", {
        "project_id": a["projectId"], "verifier": a["verifier"], "period_start": a["periodStart"],
        "period_end": a["periodEnd"], "verified_tonnes": a["verifiedTonnes"], "statement_hash": a["statementHash"],
    })]


def batch_issued(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_credit_batches", {
        "batch_id": a["batchId"], "project_id": a["projectId"], "owner": a["owner"], "vintage": a["vintage"],
        "amount": a["amount"], "serial_start": a["serialStart"], "serial_end": a["serialEnd"],
        "period_start": a["periodStart"], "period_end": a["periodEnd"], "statement_hash": a["statementHash"],
    })]


def credits_retired(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_credit_retirements", {
        "retirement_id": a["retirementId"], "batch_id": a["batchId"], "holder": a["holder"],
        "project_id": a["projectId"], "vintage": a["vintage"], "amount": a["amount"],
        "serial_start": a["serialStart"], "serial_end": a["serialEnd"], "beneficiary": a["beneficiary"],
        "purpose": a["purpose"], "jurisdiction": a["jurisdiction"], "consumption_start": a["consumptionStart"],
        "consumption_end": a["consumptionEnd"],
    })]


def credits_cancelled(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_credit_cancellations", {
        "batch_id": a["batchId"], "holder": a["holder"], "amount": a["amount"], "serial_start": a["serialStart"],
        "serial_end": a["serialEnd"], "reason_hash": a["reasonHash"],
    })]


def credits_surrendered(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_credit_surrenders", {
        "batch_id": a["batchId"], "holder": a["holder"], "org_id": a["orgId"], "year": a["year"],
        "amount": a["amount"], "serial_start": a["serialStart"], "serial_end": a["serialEnd"],
    })]


def gec_issued(ev: ChainEvent) -> list[Row]:
    a = ev.args
    batch: Row = ("chain_gec_batches", {
        "batch_id": a["batchId"], "generator": a["generator"], "generator_org_id": a["generatorOrgId"],
        "period_start": a["periodStart"], "period_end": a["periodEnd"], "amount": a["amount"],
        "serial_start": a["serialStart"], "serial_end": a["serialEnd"], "anchored_wh": a["anchoredWh"],
    })
    return [batch, *(("chain_gec_batch_anchors", {"batch_id": a["batchId"], "anchor_id": anchor_id, "sub_index": i})
                     for i, anchor_id in enumerate(a["anchorIds"]))]


def gec_consumed(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_gec_consumptions", {
        "batch_id": a["batchId"], "holder": a["holder"], "beneficiary_org_id": a["beneficiaryOrgId"],
        "amount": a["amount"], "serial_start": a["serialStart"], "serial_end": a["serialEnd"],
        "consumption_start": a["consumptionStart"], "consumption_end": a["consumptionEnd"],
    })]


def pcr_registered(ev: ChainEvent) -> list[Row]:
    a, p = ev.args, ev.args["pcr"]
    return [("chain_pcrs", {
        "pcr_id": a["pcrId"], "version": a["version"], "name": p["name"], "cpc_code": p["cpcCode"],
        "declared_unit": p["declaredUnit"], "system_boundary": p["systemBoundary"], "allocation": p["allocation"],
        "cut_off_per_mille": p["cutOffPerMille"], "data_quality": p["dataQuality"], "valid_from": p["validFrom"],
        "valid_until": p["validUntil"], "document_hash": p["documentHash"], "commitment": a["commitment"],
        "registrant": a["registrant"],
    })]


def product_registered(ev: ChainEvent) -> list[Row]:
    a, p = ev.args, ev.args["product"]
    return [("chain_products", {
        "product_id": a["productId"], "owner_org_id": a["ownerOrgId"], "registrant": a["registrant"],
        "own_product_id": p["ownProductId"], "cpc_code": p["cpcCode"], "declared_unit": p["declaredUnit"],
        "facility": p["facility"], "workshop": p["workshop"],
    })]


def output_recorded(ev: ChainEvent) -> list[Row]:
    a, o = ev.args, ev.args["output"]
    return [("chain_product_outputs", {
        "product_id": a["productId"], "owner_org_id": a["ownerOrgId"], "record_index": a["index"],
        "recorder": a["recorder"], "commitment": a["commitment"], "period_start": o["periodStart"],
        "period_end": o["periodEnd"], "quantity_milli": o["quantityMilli"], "mass_grams": o["massGrams"],
        "value_fen": o["valueFen"], "extract_hash": o["extractHash"],
    })]


def draft_attested(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_epd_attestations", {
        "draft_commitment": a["draftCommitment"], "owner_org_id": a["ownerOrgId"], "verifier": a["verifier"],
        "verifier_org_id": a["verifierOrgId"], "statement_hash": a["statementHash"],
    })]


def epd_published(ev: ChainEvent) -> list[Row]:
    """The EPD and one row per cited supplier EPD, in the order published."""
    a, e = ev.args, ev.args["epd"]
    epd: Row = ("chain_epds", {
        "epd_id": a["epdId"], "product_id": a["productId"], "owner_org_id": a["ownerOrgId"],
        "publisher": a["publisher"], "draft_commitment": a["draftCommitment"], "pcr_id": e["pcrId"],
        "pcr_version": e["pcrVersion"], "declared_unit": e["declaredUnit"], "mg_per_unit": e["mgCO2ePerUnit"],
        "period_start": e["periodStart"], "period_end": e["periodEnd"], "valid_from": e["validFrom"],
        "valid_until": e["validUntil"], "document_hash": e["documentHash"],
        "provenance_commitment": e["provenanceCommitment"], "primary_share_per_mille": e["primaryDataSharePerMille"],
        "supersedes": e["supersedes"],
    })
    return [epd, *(("chain_epd_citations", {"citing_epd_id": a["epdId"], "cited_epd_id": cited, "sub_index": i})
                   for i, cited in enumerate(e["citedEpdIds"]))]


EPD_STEP_KINDS = {"EpdSuperseded": "superseded", "EpdWithdrawn": "withdrawn", "EpdFlagged": "flagged"}


def epd_step(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_epd_events", {
        "epd_id": a.get("epdId", a.get("citingEpdId")), "kind": EPD_STEP_KINDS[ev.event],
        "owner_org_id": a["ownerOrgId"], "actor": a.get("by") or a.get("flaggedBy"), "by_epd_id": a.get("byEpdId"),
        "cited_epd_id": a.get("citedEpdId"), "cited_status": a.get("citedStatus"),
        "cited_valid_until": a.get("citedValidUntil"), "reason_hash": a.get("reasonHash"),
    })]


def order_event(ev: ChainEvent) -> list[Row]:
    a = ev.args
    return [("chain_order_events", {
        "order_id": a["orderId"], "kind": ORDER_EVENT_KINDS[ev.event], "seller": a["seller"],
        "buyer": a.get("buyer"), "caller": a.get("caller") or a.get("regulator"), "asset": a.get("asset"),
        "token_id": a.get("tokenId"),
        "amount": a.get("amount"), "price": a.get("price"), "payment": a.get("payment"),
        "remaining": a.get("remaining"), "returned": a.get("returned"), "expiry": a.get("expiry"),
    })]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):  # a struct argument, decoded by field name
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 53:
        return str(value)
    return value


def other_event(ev: ChainEvent) -> list[Row]:
    return [("chain_other_events", {"contract": ev.contract, "event": ev.event,
                                    "args": {k: _jsonable(v) for k, v in ev.args.items()}})]


# The handlers an asset kind's description names for its events (`AssetKind.events`).
ASSET_EVENT_HANDLERS: dict[str, Handler] = {
    "retracted": retracted, "allowances_surrendered": allowances_surrendered,
    "project_event": project_event, "verification_submitted": verification_submitted,
    "batch_issued": batch_issued, "credits_retired": credits_retired, "credits_cancelled": credits_cancelled,
    "credits_surrendered": credits_surrendered, "gec_issued": gec_issued, "gec_consumed": gec_consumed,
}

HANDLERS: dict[tuple[str, str], Handler] = {
    ("*", "TransferSingle"): transfer_single,
    ("*", "TransferBatch"): transfer_batch,
    ("*", "Transfer"): erc20_transfer,
    ("Membership", "OrganisationRegistered"): organisation_registered,
    **{("Membership", name): member_event for name in MEMBER_EVENT_KINDS},
    ("ComplianceLedger", "ObligationSet"): obligation_set,
    ("ComplianceLedger", "SurrenderRecorded"): surrender_recorded,
    **{("EmissionRegistry", name): report_event for name in REPORT_EVENT_KINDS},
    ("MeterAnchor", "DeviceRegistered"): device_registered,
    ("MeterAnchor", "DeviceActiveSet"): device_active_set,
    ("MeterAnchor", "DeviceKeyRotated"): device_key_rotated,
    ("MeterAnchor", "OracleAuthorisationSet"): oracle_authorisation_set,
    ("MeterAnchor", "Anchored"): anchored,
    ("MeterAnchor", "BatchAnchored"): batch_anchored,
    ("Notary", "Notarized"): notarized,
    ("ProductRegistry", "PcrRegistered"): pcr_registered,
    ("ProductRegistry", "ProductRegistered"): product_registered,
    ("ProductRegistry", "OutputRecorded"): output_recorded,
    ("EpdRegistry", "DraftAttested"): draft_attested,
    ("EpdRegistry", "EpdPublished"): epd_published,
    **{("EpdRegistry", name): epd_step for name in EPD_STEP_KINDS},
    **{("CarbonMarket", name): order_event for name in ORDER_EVENT_KINDS},
    **{(kind.contract, event): ASSET_EVENT_HANDLERS[handler]
       for kind in assets.ASSET_KINDS.values() for event, handler in kind.events.items()},
}


def register(contract: str, event: str, handler: Handler) -> None:
    """Add or replace the handler of `contract`'s `event` ("*" for any contract)."""
    HANDLERS[(contract, event)] = handler


def handler_for(contract: str, event: str) -> Handler:
    return HANDLERS.get((contract, event)) or HANDLERS.get(("*", event)) or other_event


def rows_of(ev: ChainEvent) -> list[Row]:
    return handler_for(ev.contract, ev.event)(ev)

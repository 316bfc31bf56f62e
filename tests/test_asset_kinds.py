"""Asset kinds are data: the registry agrees with the deployed suite, and a kind added to it is taken by the
market, the API and the asset trace without any other change."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal

import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from ledger_core import assets
from ledger_core.assets import CREDIT, AssetKind, TraceRules
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import SUITE, WIRING
from ledger_service import market
from ledger_service.api.asset_names import TracedAsset, TradeableAsset
from ledger_service.api.routers import audit as audit_router
from ledger_service.api.routers import market as market_router
from ledger_service.audit.asset_trace import trace_rules
from ledger_service.indexer.handlers import HANDLERS
from ledger_service.relay import RELAYABLE
from ledger_service.services.audit import traced_contract
from tests.support.ledger import Ledger

ZERO = "0x" + "00" * 20


def test_each_kind_is_a_contract_of_the_suite_with_an_artifact(artifacts: dict[str, Artifact]):
    deployed = {spec.name for spec in SUITE}
    for kind in assets.ASSET_KINDS.values():
        assert kind.contract in deployed, f"{kind.name}: {kind.contract} is not deployed"
        assert kind.contract in artifacts, f"{kind.name}: {kind.contract} has no artifact"


def test_each_tradeable_kind_is_enabled_on_the_market_and_no_other(ledger: Ledger):
    addresses = ledger.deployment.addresses
    for kind in assets.ASSET_KINDS.values():
        enabled = ledger.call("CarbonMarket", "assetEnabled", addresses[kind.contract])
        assert enabled == kind.tradeable, f"{kind.name}: enabled on the market is {enabled}"


def test_each_surrenderable_kind_is_registered_with_the_compliance_ledger_under_its_number(ledger: Ledger):
    addresses = ledger.deployment.addresses
    for kind in assets.ASSET_KINDS.values():
        number = ledger.call("ComplianceLedger", "assetRegistryKind", addresses[kind.contract])
        assert number == (kind.compliance_kind or 0), f"{kind.name}: ComplianceLedger knows it as {number}"
        if kind.surrenderable:
            assert assets.by_compliance_kind(number) == kind


def test_the_deployment_wiring_is_read_from_the_kinds():
    registered = [(c, f) for c, f, _ in WIRING if f == "setAssetRegistry"]
    enabled = [(c, f) for c, f, _ in WIRING if f == "setAssetEnabled"]
    assert len(registered) == len(assets.surrenderable()) == 2
    assert len(enabled) == len(assets.tradeable()) == 3


def test_a_tradeable_kind_resolves_from_its_name_to_its_contract_and_back_from_its_address(ledger: Ledger):
    for kind in assets.tradeable():
        assert market.asset_contract(kind.name) == kind.contract
        assert market.asset_name(ledger, ledger.deployment.addresses[kind.contract]) == kind.name
    assert market.asset_name(ledger, ZERO) is None
    with pytest.raises(KeyError):
        market.asset_contract("settlement")  # the cash leg is not listed on the market


def test_the_kinds_as_the_service_has_always_named_them():
    assert assets.tradeable_names() == ("allowance", "credit", "gec")
    assert assets.traced_names() == ("allowance", "credit", "gec")
    assert assets.by_contract("AllowanceRegistry") == assets.ALLOWANCE
    assert assets.by_compliance_kind(2) == assets.CREDIT
    assert trace_rules("AllowanceRegistry").burn == "retraction"
    assert trace_rules("CreditRegistry").burn == "burn"
    assert trace_rules("GreenCertificates").explain_burns == ("gec_consumptions",)
    assert trace_rules("SomethingElse") == TraceRules()


def test_every_event_and_relayed_function_of_a_kind_is_in_the_indexer_and_relay_tables(
        artifacts: dict[str, Artifact]):
    for kind in assets.ASSET_KINDS.values():
        abi = artifacts[kind.contract].abi
        events = {e["name"] for e in abi if e["type"] == "event"}
        functions = {f["name"] for f in abi if f["type"] == "function"}
        for event in kind.events:
            assert event in events, f"{kind.contract} has no event {event}"
            assert (kind.contract, event) in HANDLERS
        for function, rule in kind.relay.items():
            assert function in functions, f"{kind.contract} has no function {function}"
            assert RELAYABLE[(kind.contract, function)] == rule


def test_a_wrong_asset_name_is_refused_as_a_literal_of_the_names_would_refuse_it():
    for value in ("gold", 3, None):
        with pytest.raises(ValidationError) as ours:
            TypeAdapter(TradeableAsset).validate_python(value)
        with pytest.raises(ValidationError) as literal:
            TypeAdapter(Literal["allowance", "credit", "gec"]).validate_python(value)
        strip = [{k: e[k] for k in ("type", "msg", "ctx")} for e in ours.value.errors()]
        assert strip == [{k: e[k] for k in ("type", "msg", "ctx")} for e in literal.value.errors()]


def test_a_kind_that_is_not_deployed_is_a_description_error():
    with pytest.raises(ValueError, match="ComplianceLedger number"):
        dataclasses.replace(CREDIT, name="broken", compliance_kind=None)


# ------------------------------------------------------------------ a kind added to the registry


@pytest.fixture
def offsets(monkeypatch: pytest.MonkeyPatch) -> Iterator[AssetKind]:
    """A hypothetical extra kind: the credit description under another name, on the credit contract."""
    kind = dataclasses.replace(CREDIT, name="offset", compliance_kind=None, surrenderable=False,
                               trace=TraceRules(burn="consumption"))
    monkeypatch.setitem(assets.ASSET_KINDS, kind.name, kind)
    yield kind


def _openapi() -> dict:
    app = FastAPI()
    app.include_router(market_router.router)
    app.include_router(audit_router.router)
    return app.openapi()


def test_an_added_kind_is_traded_by_its_name(offsets: AssetKind):
    assert market.asset_contract("offset") == "CreditRegistry"
    assert "offset" in assets.tradeable_names()


def test_an_added_kind_is_accepted_and_listed_by_the_api(offsets: AssetKind):
    assert TypeAdapter(TradeableAsset).validate_python("offset") == "offset"
    assert TypeAdapter(TracedAsset).validate_python("offset") == "offset"
    with pytest.raises(ValidationError, match="'allowance', 'credit', 'gec' or 'offset'"):
        TypeAdapter(TradeableAsset).validate_python("gold")
    document = _openapi()
    book = document["paths"]["/api/v1/market/books/{asset}/{token_id}"]["get"]
    (asset,) = [p for p in book["parameters"] if p["name"] == "asset"]
    assert asset["schema"]["enum"] == ["allowance", "credit", "gec", "offset"]
    trace = document["paths"]["/api/v1/audit/assets/{asset}/{token_id}/trace"]["get"]
    (asset,) = [p for p in trace["parameters"] if p["name"] == "asset"]
    assert asset["schema"]["enum"] == ["allowance", "credit", "gec", "offset"]
    listing = document["components"]["schemas"]["ListIn"]["properties"]["asset"]
    assert listing["enum"] == ["allowance", "credit", "gec", "offset"]


def test_an_added_kind_is_traced_by_its_name_with_its_own_rules(offsets: AssetKind, monkeypatch: pytest.MonkeyPatch):
    assert traced_contract("offset") == "CreditRegistry"
    elsewhere = dataclasses.replace(offsets, name="certificate", contract="CertificateRegistry")
    monkeypatch.setitem(assets.ASSET_KINDS, elsewhere.name, elsewhere)
    assert traced_contract("certificate") == "CertificateRegistry"
    assert trace_rules("CertificateRegistry").burn == "consumption"


def test_the_api_lists_exactly_the_registered_names_without_an_added_kind():
    document = _openapi()
    listing = document["components"]["schemas"]["ListIn"]["properties"]["asset"]
    assert listing["enum"] == ["allowance", "credit", "gec"]

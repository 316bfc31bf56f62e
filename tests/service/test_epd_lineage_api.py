"""An EPD's lineage as a graph: the attestation it was published from, the EPDs it cites and those citing it,
supersession both ways, its withdrawal and the flags on its citations, each edge with its transaction."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ledger_service.epd import hex32
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, VERIFIERS, Cast
from tests.service.footprint_steps import ok, supersede_steel, supply_chain
from tests.service.helpers import V1
from tests.support.footprints import doc


def lineage(client: TestClient, cast: Cast, epd_id: int, name: str = "regulator") -> Any:
    return ok(client.get(f"{V1}/audit/epds/{epd_id}/lineage", headers=cast.auth(name)))


def edges(body: Any) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["source"], e["target"]) for e in body["edges"]]


def test_an_epds_lineage_shows_its_attestation_citations_supersession_flags_and_withdrawal(
        client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)
    steel, part = chain["steel_epd"], chain["part_epd"]
    newer = supersede_steel(client, cast, chain)["epd"]["epd_id"]
    ok(client.post(f"{V1}/epds/{newer}/withdraw", headers=cast.auth("enterprise_a"),
                   json={"reason_hash": hex32(doc("recalled"))}))

    body = lineage(client, cast, steel)
    (attestation,) = [n for n in body["nodes"] if n["kind"] == "attestation"]
    assert (attestation["org_id"], attestation["label"]) == (VERIFIERS, "attested by Certa Verification")
    assert edges(body) == [("published", attestation["id"], f"epd:{steel}"), ("cited", f"epd:{steel}", f"epd:{part}"),
                           ("superseded", f"epd:{steel}", f"epd:{newer}")]
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes[f"epd:{steel}"]["label"] == f"EPD {steel} (Riverside Steel): 1850000000 mg per t"
    assert (nodes[f"epd:{steel}"]["org_id"], nodes[f"epd:{part}"]["org_id"]) == (ENTERPRISE_A, ENTERPRISE_B)
    assert all(e["amount"] is None and e["at"]["tx_hash"].startswith("0x") for e in body["edges"])

    flagged = lineage(client, cast, part, "trader")  # registry facts: any member
    (flag,) = [n for n in flagged["nodes"] if n["kind"] == "flag"]
    assert flag["label"] == f"citation of EPD {steel} flagged"
    assert edges(flagged)[1:] == [("cited", f"epd:{steel}", f"epd:{part}"), ("flagged", f"epd:{part}", flag["id"])]
    assert flagged["edges"][-1]["details"] == {"cited_epd_id": steel}

    withdrawn = lineage(client, cast, newer)
    (gone,) = [n for n in withdrawn["nodes"] if n["kind"] == "withdrawal"]
    assert edges(withdrawn)[1:] == [("superseded", f"epd:{steel}", f"epd:{newer}"),
                                    ("withdrawn", f"epd:{newer}", gone["id"])]


def test_an_unknown_epds_lineage_is_not_found(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/audit/epds/999/lineage", headers=cast.auth("regulator"))
    assert reply.status_code == 404 and reply.json()["error"] == "UnknownEpd"
    assert client.get(f"{V1}/audit/epds/1/lineage").status_code == 401

"""The compliance year after the meter data: reports, allowances, credits, the market, surrenders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ledger_service import allowances, credits, emissions, market
from ledger_service.api.routers.credits import render_certificate
from ledger_service.chain.outbox import Intent
from ledger_service.demo.cast import PARK, Cast, attempt, send
from ledger_service.demo.printing import chapter, refused, say, show, table, tonnes
from ledger_service.documents import DocumentKind
from ledger_service.runtime import Runtime

CNY = 100  # the settlement token counts fen
ALLOWANCE_REFERENCE = 60 * CNY
CREDIT_REFERENCE = 35 * CNY
PERIOD_2024 = (1_704_067_200, 1_735_689_599)  # the credits' monitoring period, inclusive bounds
SHORT_SHARE = 90  # percent of its verified emissions the short enterprise is allocated


@dataclass
class Year:
    """What the story learns as it goes."""

    year: int
    reports: dict[int, emissions.Report] = field(default_factory=dict)
    batch_id: int = 0
    retirement_id: int = 0
    certificate_path: Path | None = None
    short: int = 0
    credit_cap: int = 0


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _report_document(cast: Cast, org: int, year: int, commitment: emissions.Commitment, reported_kg: int) -> bytes:
    return json.dumps({
        "title": f"Annual emission report {year}", "enterprise": cast.names[org], "orgId": org, "year": year,
        "reportedKgCO2e": reported_kg, "anchoredMgCO2e": str(commitment.anchored_mg),
        "readings": commitment.reading_count, "anchors": list(commitment.anchor_ids),
        "commitment": _hex(commitment.root),
        "method": "metered activity x the dated factor set valid at each reading's time (GWP AR5)",
    }, indent=1).encode()


def reports(runtime: Runtime, cast: Cast, year: Year) -> None:
    """Each enterprise submits its report (document sealed in the service, its SHA-256 on chain) committing
    to its anchored windows; the verifier attests it with a sealed statement; the regulator finalizes it."""
    chapter("Reports: committed to the anchors, verified, finalized into obligations")
    regulator, verifier = cast["regulator"], cast["verifier"]
    t = table("enterprise", "report", "anchors", "readings", "reported kgCO2e", "document",
              "obligation t")
    for org in cast.enterprises:
        submitter = cast[cast.enterprise(org)]
        with runtime.sessions() as session:
            commitment = emissions.anchored_commitment(session, org, year.year)
        reported_kg = (commitment.anchored_mg + 500_000) // 1_000_000
        document = _report_document(cast, org, year.year, commitment, reported_kg)
        digest = runtime.documents.store(document, org, DocumentKind.REPORT, submitter,
                                         f"emission-report-{org}-{year.year}.json", "application/json")
        send(runtime, emissions.submit_intent(submitter, year.year, digest, reported_kg, commitment))
        report_id = emissions.latest_report_id(runtime.chain, runtime.suite, org, year.year)
        statement = (f"Verification statement: report {report_id} of {cast.names[org]} for {year.year} is "
                     f"verified at {reported_kg} kgCO2e against {len(commitment.anchor_ids)} anchors.").encode()
        statement_hash = runtime.documents.store(statement, org, DocumentKind.STATEMENT, verifier,
                                                 f"statement-{report_id}.txt", "text/plain")
        send(runtime, emissions.verify_intent(verifier, report_id, reported_kg, statement_hash))
        send(runtime, emissions.finalize_intent(regulator, report_id))
        report = emissions.get_report(runtime.chain, runtime.suite, report_id)
        opened = runtime.documents.open(report.document_hash, org, DocumentKind.REPORT)
        sealed = opened is not None and opened.content == document
        year.reports[org] = report
        t.add_row(f"{org} {cast.names[org]}", str(report_id), str(len(commitment.anchor_ids)),
                  f"{commitment.reading_count:,}", f"{reported_kg:,}",
                  f"{_hex(digest)[:12]}… {'sealed' if sealed else 'MISSING'}", tonnes(report.obligation_tonnes))
    show(t)
    say("Each report's documentHash is the SHA-256 of its sealed document (its notarization); each report "
        "commits to the level-5 Merkle-sum node over its enterprise's anchors.")


def allocate(runtime: Runtime, cast: Cast, year: Year) -> dict[int, int]:
    """Allowances for the year: the short enterprise gets 90% of its verified emissions, the first one its own
    plus a surplus to sell, the others their own."""
    chapter(f"Allowances: {year.year} allocation")
    obligations = {org: r.obligation_tonnes for org, r in year.reports.items()}
    year.short = cast.enterprises[-1]
    cap_bps = int(runtime.chain.request(lambda: runtime.suite.call("ComplianceLedger", "creditCapBps")))
    year.credit_cap = obligations[year.short] * cap_bps // 10_000
    grants = dict(obligations)
    grants[year.short] = obligations[year.short] * SHORT_SHARE // 100
    to_buy = obligations[year.short] - grants[year.short] - year.credit_cap
    seller = cast.enterprises[0]
    grants[seller] += to_buy + 500
    regulator = cast["regulator"]
    send(runtime, Intent("AllowanceRegistry", "allocate", (year.year, [cast[cast.enterprise(o)] for o in grants],
                                                           list(grants.values())), regulator, requested_by=regulator))
    t = table("enterprise", "verified t", "allocated t")
    for org, amount in grants.items():
        t.add_row(f"{org} {cast.names[org]}", tonnes(obligations[org]), tonnes(amount))
    show(t)
    say(f"{cast.names[year.short]} is short: {tonnes(obligations[year.short] - grants[year.short])} t, of which "
        f"offset credits may cover {tonnes(year.credit_cap)} t ({cap_bps / 100:g}% of its obligation).")
    return grants


def offset_credits(runtime: Runtime, cast: Cast, year: Year, data_dir: Path) -> None:
    """A forestry project registered, its 2024 monitoring period verified, a batch issued with serials, and
    part of it retired with a certificate (printed, and saved as the service's printable page)."""
    chapter("Offset credits: a forestry project verified, issued with serial numbers, partly retired")
    regulator, verifier, forestry = cast["regulator"], cast["verifier"], cast["forestry"]
    amount = -(-(year.credit_cap + 1 + 1_000) // 1_000) * 1_000
    project_id = credits.hash_of("CCER-GH-2024-AFFORESTATION")
    send(runtime, credits.register_intent(regulator, project_id, forestry, "CCER-14-001-V01",
                                          credits.hash_of("Green Hills afforestation: project design document"),
                                          "CN-ZJ"))
    send(runtime, credits.call(verifier, "submitVerification", project_id, *PERIOD_2024, amount,
                               credits.hash_of("Green Hills monitoring report 2024")))
    serial = credits.next_serial(runtime.chain, runtime.suite)
    (record,) = send(runtime, credits.issue_intent(regulator, project_id, *PERIOD_2024, 2024, amount, serial))
    (year.batch_id,) = credits.issued_ids(runtime.chain, runtime.suite, str(record.tx_hash))
    batch = credits.batch(runtime.chain, runtime.suite, year.batch_id)
    say(f"batch {batch.batch_id}: vintage {batch.vintage}, {batch.amount:,} t to {cast.names[cast.orgs['forestry']]}, "
        f"serials {batch.serial_start:,}-{batch.serial_end:,}")
    (record,) = send(runtime, credits.retire_intent(forestry, year.batch_id, 120, "Harbour Logistics Ltd",
                                                    "voluntary offset of 2024 business travel", "CN", *PERIOD_2024))
    (year.retirement_id,) = credits.retired_ids(runtime.chain, runtime.suite, str(record.tx_hash))
    runtime.index_up_to_date()
    registry = runtime.deployment.addresses[credits.REGISTRY]
    with runtime.sessions() as session:
        cert = credits.certificate(session, year.retirement_id, registry, runtime.chain.chain_id)
    assert cert is not None, "the index holds every retirement once it is at the head"
    matches = credits.certificate_matches_chain(runtime.chain, runtime.suite, cert)
    year.certificate_path = data_dir / f"retirement-certificate-{cert.retirement_id}.html"
    year.certificate_path.write_text(render_certificate(cert, matches))
    t = table("field", "value", title=f"Retirement certificate #{cert.retirement_id}")
    for name, value in (("beneficiary", cert.beneficiary), ("purpose", cert.purpose),
                        ("jurisdiction", cert.jurisdiction), ("quantity", f"{cert.amount:,} tCO2e"),
                        ("serials", f"{cert.serial_start:,}-{cert.serial_end:,}"), ("batch", f"#{cert.batch_id}"),
                        ("vintage", str(cert.vintage)), ("methodology", cert.methodology),
                        ("transaction", cert.tx_hash), ("block", str(cert.block_number)),
                        ("registry record matches", str(matches))):
        t.add_row(name, value)
    show(t)
    say(f"printable certificate: {year.certificate_path}")


def _fill(runtime: Runtime, cast: Cast, buyer: str, order_id: int, amount: int, price: int) -> int:
    send(runtime, *market.payment_approvals(runtime.chain, runtime.suite, cast[buyer], amount * price))
    (record,) = send(runtime, market.call(cast[buyer], "fill", order_id, amount))
    (filled,) = credits.events(runtime.chain, runtime.suite, str(record.tx_hash), market.MARKET, "OrderFilled")
    return int(filled["payment"])


def _list(runtime: Runtime, cast: Cast, seller: str, asset: str, token_id: int, amount: int, price: int,
          expiry: int) -> int:
    send(runtime, *market.listing_approvals(runtime.chain, runtime.suite, cast[seller], market.ASSETS[asset]))
    (record,) = send(runtime, market.call(cast[seller], "list", runtime.deployment.addresses[market.ASSETS[asset]],
                                          token_id, amount, price, expiry))
    (order_id,) = market.listed_ids(runtime.chain, runtime.suite, str(record.tx_hash))
    return order_id


def trade(runtime: Runtime, cast: Cast, year: Year, grants: dict[int, int]) -> None:
    """Reference prices set; allowances flow from the long enterprise through the traders to the short one,
    credits from the forestry owner to the short enterprise; an order outside the band is refused."""
    chapter("Market: escrowed orders within the price band, delivery versus payment")
    regulator = cast["regulator"]
    addresses = runtime.deployment.addresses
    send(runtime, market.call(regulator, "setReferencePrice", addresses["AllowanceRegistry"], year.year,
                              ALLOWANCE_REFERENCE),
         market.call(regulator, "setReferencePrice", addresses["CreditRegistry"], year.batch_id, CREDIT_REFERENCE))
    short, seller = cast.enterprise(year.short), cast.enterprise(cast.enterprises[0])
    to_buy = year.reports[year.short].obligation_tonnes - grants[year.short] - year.credit_cap
    credits_to_buy = year.credit_cap + 1
    cash = {"trader_a": (to_buy + 500) * ALLOWANCE_REFERENCE * 2, "trader_b": 500 * ALLOWANCE_REFERENCE * 2,
            short: to_buy * ALLOWANCE_REFERENCE * 2 + credits_to_buy * CREDIT_REFERENCE * 2}
    send(runtime, *[Intent(market.SETTLEMENT, "mint", (cast[a], amount), cast["bank"], requested_by=cast["bank"])
                    for a, amount in cash.items()])
    say("the settlement bank minted " + ", ".join(f"CNY {market.to_cny(v)} to {a}" for a, v in cash.items()))
    expiry = market.chain_time(runtime.chain) + 14 * 86_400
    lower, upper = market.price_band(runtime.chain, runtime.suite, addresses["AllowanceRegistry"], year.year, 10)
    say(f"allowance {year.year}: reference CNY {market.to_cny(ALLOWANCE_REFERENCE)}, band CNY {market.to_cny(lower)}"
        f"-{market.to_cny(upper)}")
    t = table("order", "asset", "seller", "buyer", "tonnes", "price CNY/t", "paid CNY")
    steps = (
        (seller, "allowance", year.year, to_buy + 500, ALLOWANCE_REFERENCE * 101 // 100, [("trader_a", to_buy + 500)]),
        ("trader_a", "allowance", year.year, to_buy + 500, ALLOWANCE_REFERENCE * 104 // 100,
         [("trader_b", 500), (short, to_buy)]),
        ("forestry", "credit", year.batch_id, credits_to_buy, CREDIT_REFERENCE * 97 // 100, [(short, credits_to_buy)]),
    )
    for seller_actor, asset, token_id, amount, price, buyers in steps:
        if amount <= 0:
            continue
        order_id = _list(runtime, cast, seller_actor, asset, token_id, amount, price, expiry)
        for buyer, bought in buyers:
            if bought <= 0:
                continue
            paid = _fill(runtime, cast, buyer, order_id, bought, price)
            t.add_row(str(order_id), f"{asset} {token_id}", seller_actor, buyer, tonnes(bought), market.to_cny(price),
                      market.to_cny(paid))
    show(t)
    asset = addresses["AllowanceRegistry"]
    high = ALLOWANCE_REFERENCE * 120 // 100
    send(runtime, *market.listing_approvals(runtime.chain, runtime.suite, cast["trader_b"], "AllowanceRegistry"))
    _, revert = attempt(runtime, market.call(cast["trader_b"], "list", asset, year.year, 100, high, expiry))
    assert revert is not None, "an order 20% above the reference price must be refused"
    refused(f"trader_b's order of 100 t at CNY {market.to_cny(high)} (20% above the reference)", revert)


def surrender(runtime: Runtime, cast: Cast, year: Year) -> None:
    """The compliance window opens; the short enterprise surrenders credits up to the cap (one more is refused);
    every enterprise surrenders the allowances it owes."""
    chapter(f"Compliance: surrenders for {year.year}")
    regulator = cast["regulator"]
    send(runtime, Intent("ComplianceLedger", "openComplianceWindow", (year.year,), regulator, requested_by=regulator))
    short = cast[cast.enterprise(year.short)]
    _, revert = attempt(runtime, credits.call(short, "surrender", year.batch_id, year.credit_cap + 1, year.year))
    assert revert is not None, "credits beyond the cap must be refused"
    refused(f"{cast.names[year.short]} surrendering {tonnes(year.credit_cap + 1)} credits (one over the cap)", revert)
    if year.credit_cap:
        send(runtime, credits.call(short, "surrender", year.batch_id, year.credit_cap, year.year))
        say(f"{cast.names[year.short]} surrendered {tonnes(year.credit_cap)} credits of batch {year.batch_id}: the cap")
    for org in cast.enterprises:
        holder = cast[cast.enterprise(org)]
        due = allowances.compliance_status(runtime.chain, runtime.suite, org, year.year).shortfall
        held = allowances.balances(runtime.chain, runtime.suite, holder, [year.year])[year.year]
        if min(held, due):
            send(runtime, Intent("AllowanceRegistry", "surrender", (year.year, [year.year], [min(held, due)]), holder,
                                 requested_by=holder))
    say(f"every enterprise surrendered the {year.year} allowances it owed")


def compliance_table(runtime: Runtime, cast: Cast, year: Year) -> None:
    """The park's compliance as the service's compliance endpoint computes it (GET /compliance/parks/...)."""
    chapter(f"Compliance of {cast.names[PARK]}, {year.year}")
    total, each = allowances.park_status(runtime.chain, runtime.suite, runtime.directory, PARK, year.year)
    t = table("enterprise", "finalized report t", "obligation t", "allowances t", "credits t", "shortfall t",
              "status")
    for s in each:
        report = year.reports.get(s.org_id)
        t.add_row(f"{s.org_id} {cast.names.get(s.org_id, '')}", tonnes(report.obligation_tonnes) if report else "-",
                  tonnes(s.obligation), tonnes(s.allowances_surrendered), tonnes(s.credits_surrendered),
                  tonnes(s.shortfall), "compliant" if s.finalized and s.shortfall == 0 else "OPEN")
    t.add_row(f"{PARK} park total", "", tonnes(total.obligation), tonnes(total.allowances_surrendered),
              tonnes(total.credits_surrendered), tonnes(total.shortfall), "")
    show(t)


def utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")

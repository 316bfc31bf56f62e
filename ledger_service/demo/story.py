"""The compliance year after the meter data: reports, allowances, credits, the market, surrenders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ledger_service import credits, emissions, market
from ledger_service.demo.cast import PARK, Cast, caller, refusal
from ledger_service.demo.printing import chapter, refused, say, show, table, tonnes
from ledger_service.documents import DocumentKind
from ledger_service.runtime import Runtime
from ledger_service.services.credits import Retirement, project_key
from ledger_service.services.emissions import Upload
from ledger_service.services.wiring import build_services

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
    to its anchored windows; the verifier attests it with a sealed statement; the regulator finalizes it: the
    same use cases the emissions API calls."""
    chapter("Reports: committed to the anchors, verified, finalized into obligations")
    use = build_services(runtime).emissions
    regulator, verifier = caller(runtime, cast["regulator"]), caller(runtime, cast["verifier"])
    t = table("enterprise", "report", "anchors", "readings", "reported kgCO2e", "document",
              "obligation t")
    for org in cast.enterprises:
        submitter = caller(runtime, cast[cast.enterprise(org)])
        with runtime.sessions() as session:
            commitment = emissions.anchored_commitment(session, org, year.year)
        reported_kg = (commitment.anchored_mg + 500_000) // 1_000_000
        document = _report_document(cast, org, year.year, commitment, reported_kg)
        submitted = use.submit(submitter, year.year, reported_kg,
                               Upload(document, f"emission-report-{org}-{year.year}.json", "application/json"),
                               commitment).report
        assert submitted is not None, "the demo waits for every transaction"
        report_id = submitted.report_id
        statement = (f"Verification statement: report {report_id} of {cast.names[org]} for {year.year} is "
                     f"verified at {reported_kg} kgCO2e against {len(commitment.anchor_ids)} anchors.").encode()
        use.verify(verifier, report_id, reported_kg, Upload(statement, f"statement-{report_id}.txt", "text/plain"))
        report = use.finalize(regulator, report_id).report
        digest = report.document_hash
        sealed = use.document(submitter, report_id, DocumentKind.REPORT).content == document
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
    build_services(runtime).allowances.allocate(caller(runtime, cast["regulator"]), year.year,
                                                [(cast[cast.enterprise(o)], amount) for o, amount in grants.items()])
    t = table("enterprise", "verified t", "allocated t")
    for org, amount in grants.items():
        t.add_row(f"{org} {cast.names[org]}", tonnes(obligations[org]), tonnes(amount))
    show(t)
    say(f"{cast.names[year.short]} is short: {tonnes(obligations[year.short] - grants[year.short])} t, of which "
        f"offset credits may cover {tonnes(year.credit_cap)} t ({cap_bps / 100:g}% of its obligation).")
    return grants


def offset_credits(runtime: Runtime, cast: Cast, year: Year, data_dir: Path) -> None:
    """A forestry project registered, its 2024 monitoring period verified, a batch issued with serials, and
    part of it retired with a certificate (printed, and saved as the service's printable page): the same use
    cases the credits API calls."""
    chapter("Offset credits: a forestry project verified, issued with serial numbers, partly retired")
    use = build_services(runtime).credits
    regulator, verifier, forestry = (caller(runtime, cast[a]) for a in ("regulator", "verifier", "forestry"))
    amount = -(-(year.credit_cap + 1 + 1_000) // 1_000) * 1_000
    project = use.register_project(regulator, "CCER-GH-2024-AFFORESTATION", forestry.address, "CCER-14-001-V01",
                                   "Green Hills afforestation: project design document", "CN-ZJ").value
    assert project is not None, "the demo waits for every transaction"
    project_id = project_key(project.project_id)
    use.submit_verification(verifier, project_id, *PERIOD_2024, amount, "Green Hills monitoring report 2024")
    batch = use.issue_batch(regulator, project_id, *PERIOD_2024, 2024, amount).value
    assert batch is not None
    year.batch_id = batch.batch_id
    say(f"batch {batch.batch_id}: vintage {batch.vintage}, {batch.amount:,} t to {cast.names[cast.orgs['forestry']]}, "
        f"serials {batch.serial_start:,}-{batch.serial_end:,}")
    retired = use.retire(forestry, Retirement(year.batch_id, 120, "Harbour Logistics Ltd",
                                              "voluntary offset of 2024 business travel", "CN", *PERIOD_2024)).value
    assert retired is not None, "the index holds every retirement once it is at the head"
    year.retirement_id = retired.retirement_id
    page = use.certificate_page(forestry, year.retirement_id)
    cert, matches = page.certificate, page.matches_chain
    year.certificate_path = data_dir / f"retirement-certificate-{cert.retirement_id}.html"
    year.certificate_path.write_text(page.html)
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


def _fill(runtime: Runtime, cast: Cast, buyer: str, order_id: int, amount: int) -> int:
    sent = build_services(runtime).market.fill_order(caller(runtime, cast[buyer]), order_id, amount)
    (filled,) = credits.events(runtime.chain, runtime.suite, str(sent.record.tx_hash), market.MARKET, "OrderFilled")
    return int(filled["payment"])


def _list(runtime: Runtime, cast: Cast, seller: str, asset: str, token_id: int, amount: int, price: int,
          expiry: int) -> int:
    order = build_services(runtime).market.list_order(caller(runtime, cast[seller]), asset, token_id, amount, price,
                                                      datetime.fromtimestamp(expiry, UTC)).value
    assert order is not None, "the demo waits for every transaction"
    return order.order_id


def trade(runtime: Runtime, cast: Cast, year: Year, grants: dict[int, int]) -> None:
    """Reference prices set; allowances flow from the long enterprise through the traders to the short one,
    credits from the forestry owner to the short enterprise; an order outside the band is refused."""
    chapter("Market: escrowed orders within the price band, delivery versus payment")
    use = build_services(runtime).market
    regulator = caller(runtime, cast["regulator"])
    addresses = runtime.deployment.addresses
    use.set_reference_price(regulator, "allowance", year.year, ALLOWANCE_REFERENCE)
    use.set_reference_price(regulator, "credit", year.batch_id, CREDIT_REFERENCE)
    short, seller = cast.enterprise(year.short), cast.enterprise(cast.enterprises[0])
    to_buy = year.reports[year.short].obligation_tonnes - grants[year.short] - year.credit_cap
    credits_to_buy = year.credit_cap + 1
    cash = {"trader_a": (to_buy + 500) * ALLOWANCE_REFERENCE * 2, "trader_b": 500 * ALLOWANCE_REFERENCE * 2,
            short: to_buy * ALLOWANCE_REFERENCE * 2 + credits_to_buy * CREDIT_REFERENCE * 2}
    bank, settlement = caller(runtime, cast["bank"]), build_services(runtime).settlement
    for actor, amount in cash.items():
        settlement.mint(bank, cast[actor], amount)
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
            paid = _fill(runtime, cast, buyer, order_id, bought)
            t.add_row(str(order_id), f"{asset} {token_id}", seller_actor, buyer, tonnes(bought), market.to_cny(price),
                      market.to_cny(paid))
    show(t)
    high = ALLOWANCE_REFERENCE * 120 // 100
    revert = refusal(lambda: use.list_order(caller(runtime, cast["trader_b"]), "allowance", year.year, 100, high,
                                            datetime.fromtimestamp(expiry, UTC)))
    assert revert is not None, "an order 20% above the reference price must be refused"
    refused(f"trader_b's order of 100 t at CNY {market.to_cny(high)} (20% above the reference)", revert)


def surrender(runtime: Runtime, cast: Cast, year: Year) -> None:
    """The compliance window opens; the short enterprise surrenders credits up to the cap (one more is refused);
    every enterprise surrenders the allowances it owes."""
    chapter(f"Compliance: surrenders for {year.year}")
    use = build_services(runtime)
    regulator = caller(runtime, cast["regulator"])
    use.allowances.set_window(regulator, year.year, True)
    short = caller(runtime, cast[cast.enterprise(year.short)])
    revert = refusal(lambda: use.credits.surrender(short, year.batch_id, year.credit_cap + 1, year.year))
    assert revert is not None, "credits beyond the cap must be refused"
    refused(f"{cast.names[year.short]} surrendering {tonnes(year.credit_cap + 1)} credits (one over the cap)", revert)
    if year.credit_cap:
        use.credits.surrender(short, year.batch_id, year.credit_cap, year.year)
        say(f"{cast.names[year.short]} surrendered {tonnes(year.credit_cap)} credits of batch {year.batch_id}: the cap")
    for org in cast.enterprises:
        holder = caller(runtime, cast[cast.enterprise(org)])
        due = use.allowances.enterprise_status(regulator, org, year.year).shortfall
        _, held = use.allowances.balances(holder, holder.address, [year.year])
        if min(held[year.year], due):
            use.allowances.surrender(holder, year.year, [(year.year, min(held[year.year], due))])
    say(f"every enterprise surrendered the {year.year} allowances it owed")


def compliance_table(runtime: Runtime, cast: Cast, year: Year) -> None:
    """The park's compliance as the service's compliance endpoint computes it (GET /compliance/parks/...)."""
    chapter(f"Compliance of {cast.names[PARK]}, {year.year}")
    park = build_services(runtime).allowances.park_status(caller(runtime, cast["regulator"]), PARK, year.year)
    total, each = park.park, park.enterprises
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

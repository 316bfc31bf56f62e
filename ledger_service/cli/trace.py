"""`carbonledger trace`: a report down to readings with proofs, a product footprint down to proved readings and up
its supply chain, an asset hop by hop, a park down to devices."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.tree import Tree

from ledger_core.assets import asset_kind, traced_names
from ledger_service.cli.asset_names import choices, names_enum
from ledger_service.cli.output import DIFFERENCES_EXIT, console, emit, fail
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    OffsetOption,
    UrlOption,
    day,
    service,
    table,
    text,
)

app = typer.Typer(help="Traces: a report to its readings with proofs, a product up its supply chain, an asset hop "
                  "by hop, a park drill-down.",
                  no_args_is_help=True)


if TYPE_CHECKING:
    Asset = StrEnum
else:
    Asset = names_enum("Asset", traced_names())


def kg(mg: int | str) -> str:
    """mgCO2e as exact kgCO2e."""
    value = Decimal(int(mg)) / Decimal(1_000_000)
    return f"{value.normalize():f}"


def mark(ok: bool | None) -> str:
    return {True: "[green]ok[/green]", False: "[red]MISMATCH[/red]", None: "[dim]unknown[/dim]"}[ok]


def _member(address: str, organisation: str | None) -> str:
    return f"{organisation} ({address})" if organisation else address


def _at(at: dict[str, Any]) -> str:
    pending = " [yellow](pending)[/yellow]" if at.get("pending") else ""
    return f"block {at['block_number']}, {at['block_time']}, tx {at['tx_hash']}{pending}"


@app.command()
def report(
    ctx: typer.Context,
    report_id: Annotated[int, typer.Argument(min=1, help="The report.")],
    readings: Annotated[int, typer.Option(min=0, max=50, help="Readings sampled with their proofs, from every "
                                          "anchor (at least one each).")] = 4,
    verify_on_chain: Annotated[bool, typer.Option(help="Also check each proof with MeterAnchor on chain.")] = False,
    seed: Annotated[int | None, typer.Option(min=0, help="The sample's seed (printed), to repeat a check.")] = None,
    all_readings: Annotated[bool, typer.Option("--all", help="Check every reading of every anchor.")] = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """A report: its versions and their verification and finalization, the anchors its commitment covers (each
    window rebuilt from its stored readings), readings sampled from every anchor with their quantities, factors,
    Merkle-sum proofs and subtotals, devices and notarizations; which checks failed, if any."""
    params: dict[str, Any] = {"readings": readings, "verify_on_chain": verify_on_chain, "all": all_readings}
    if seed is not None:
        params["seed"] = seed
    with service(ctx, url, api_key) as api:
        t = api.get(f"/audit/reports/{report_id}/trace", params=params)
    if as_json:
        emit(t, True)
    else:
        _print_report(t)
    if not t["verified"]:
        raise typer.Exit(DIFFERENCES_EXIT)  # as reconcile: scripts and CI see a failed check


def _print_report(t: dict[str, Any]) -> None:
    verdict = "[green]verified[/green]" if t["verified"] else "[red]NOT verified[/red]"
    root = Tree(f"[bold]report {t['report_id']}[/bold]: enterprise {t['org_id']}, {t['year']} - {verdict}")
    versions = root.add("versions")
    for v in t["versions"]:
        node = versions.add(f"version {v['version']} (report {v['report_id']}): {v['status']}, reported "
                            f"{v['reported_kg']} kgCO2e, document {v['document_hash']}")
        for s in v["steps"]:
            extra = [f"{s['verified_kg']} kgCO2e verified" if s.get("verified_kg") is not None else "",
                     f"obligation {s['obligation_tonnes']} t" if s.get("obligation_tonnes") is not None else "",
                     f"statement/reason {s['statement_or_reason']}" if s.get("statement_or_reason") else ""]
            details = "; ".join(e for e in extra if e)
            node.add(f"{s['kind']} by {_member(s['actor'], s.get('actor_organisation'))}"
                     + (f" ({details})" if details else "") + f" - {_at(s['at'])}")
    c = t["commitment"]
    commitment = root.add(f"commitment to the anchors: {mark(c['matches'])}")
    commitment.add(f"committed: root {c['committed_root']}, {kg(c['committed_mg'])} kgCO2e, "
                   f"{c['committed_count']} readings")
    commitment.add(f"from anchors {', '.join(map(str, c['anchor_ids'])) or '-'}: root {c['expected_root']}, "
                   f"{kg(c['expected_mg'])} kgCO2e, {c['expected_count']} readings")
    anchors = root.add(f"anchors ({len(t['anchors'])})")
    for a in t["anchors"]:
        anchors.add(f"anchor {a['anchor_id']}: {day(a['window_start'])} to {day(a['window_end'])}, "
                    f"{kg(a['total_mg'])} kgCO2e, {a['reading_count']} readings, oracle "
                    f"{_member(a['oracle'], a.get('oracle_organisation'))}, stored data {mark(a['sql_matches'])}, "
                    f"readings {mark(a.get('readings_match'))} - {_at(a['at'])}")
    how = (f"every reading checked ({t['readings_checked']}), sample and changed readings shown"
           if t["all_readings"] else f"{len(t['readings'])} sampled from every anchor")
    sampled = root.add(f"readings with proofs ({how}, seed {t['seed']})")
    for r in t["readings"]:
        on_chain = "" if r["verified_on_chain"] is None else f", on chain {mark(r['verified_on_chain'])}"
        factor = (f"{r['factor_kg_per_unit']} kgCO2e/{r['unit']}" if r.get("factor_kg_per_unit") is not None
                  else "no factor")
        node = sampled.add(f"reading {r['reading_id']} of {r['device_id']} at {day(r['timestamp'])}: "
                           f"{r['quantity']} {r['unit']} of {r['carrier']} x {factor} ({r['factor_set']}) = "
                           f"{kg(r['value_mg'])} kgCO2e in anchor {r['anchor_id']}, proof {mark(r['proof_valid'])}"
                           f"{on_chain}")
        if r.get("changed"):
            node.add("[red]its stored fields no longer give its committed digest[/red]")
        for s in r["subtotals"]:
            node.add(f"{s['level']} {s['label']}: {kg(s['sum_mg'])} kgCO2e, {s['count']} readings")
    devices = root.add(f"devices ({len(t['devices'])})")
    for d in t["devices"]:
        devices.add(f"{d['device_id']} (facility {d['facility']}, workshop {d['workshop']}): active on chain "
                    f"{text(d['active_on_chain'])}")
    notarized = root.add(f"notarizations ({len(t['notarizations'])})")
    for n in t["notarizations"]:
        notarized.add(f"{n['document_hash']} by {_member(n['notary'], n.get('notary_organisation'))} - "
                      f"{_at(n['at'])}")
    console.print(root)
    for failed in t["failed_checks"]:
        console.print(f"[red]FAILED[/red] {failed}", highlight=False)
    proofs = [r["proof_valid"] and r["verified_on_chain"] is not False for r in t["readings"]]
    checked = f" ({t['readings_checked']} readings checked)" if t["all_readings"] else ""
    console.print(f"proofs: {sum(proofs)} of {len(proofs)} valid{checked}; seed {t['seed']}; trace {verdict}"
                  + ("" if t["verified"] else f": {len(t['failed_checks'])} checks failed"))


@app.command()
def product(
    ctx: typer.Context,
    epd_id: Annotated[int, typer.Argument(min=1, help="The EPD.")],
    readings: Annotated[int, typer.Option(min=0, max=20, help="Readings of the site proved per anchored "
                                          "window.")] = 1,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """An EPD down through its site's anchored subtotals to readings proved on chain, and up through every EPD it
    cites, tier by tier: each hop's on-chain evidence, the access rule applied to its owner and the checks run."""
    with service(ctx, url, api_key) as api:
        t = api.get(f"/audit/epds/{epd_id}/trace", params={"readings": readings})
    if as_json:
        emit(t, True)
    else:
        print_product_trace(t)
    if not t["verified"]:
        raise typer.Exit(DIFFERENCES_EXIT)


def _check(ok: bool | None) -> str:
    return {True: "[green]ok[/green]", False: "[red]FAILED[/red]", None: "[dim]not checked[/dim]"}[ok]


def _standing(h: dict[str, Any]) -> str:
    e = h["epd"]
    words = [e["status"]]
    if e["status"] == "superseded" and e.get("superseded_by"):
        words[0] += f" by EPD {e['superseded_by']}"
    if e["status"] == "withdrawn" and e.get("withdrawal_reason"):
        words[0] += f" (reason {e['withdrawal_reason']})"
    if e["flagged"]:
        words.append("[red]flagged[/red]: cites " + ", ".join(f"EPD {i}" for i in h["flagged_citations"]))
    words.append(f"valid {day(e['valid_from'])[:10]} to {day(e['valid_until'])[:10]}"
                 + ("" if h["valid_now"] else " [red](not now)[/red]"))
    if h.get("covers_citing_period") is not None:
        words.append(f"covers the citing period {_check(h['covers_citing_period'])}")
    return "; ".join(words)


def _provenance(node: Tree, h: dict[str, Any]) -> None:
    if not h["access"]["shown"]:
        node.add("[dim]provenance, subtotals and proofs not shown[/dim]")
        return
    if not h["provenance_stored"]:
        node.add("provenance: [dim]no record stored (figures given by hand)[/dim]")
        return
    node.add(f"provenance record: commitment {h['stored_commitment']} {_check(h['provenance_matches'])}")
    for s in h["subtotals"]:
        anchor = (f"anchor {s['anchor_id']} {day(s['window_start'])} to {day(s['window_end'])}: {s['label']} "
                  f"{kg(s['mg'])} kgCO2e")
        if not s["anchored"]:
            node.add(f"{anchor} [red]no such anchor of the owner[/red]")
            continue
        branch = node.add(f"{anchor}, stored site node {kg(s['stored_site_mg'] or 0)} kgCO2e "
                          f"{_check(s['sql_matches'])}")
        branch.add(f"anchored root {s['anchor_root']}, tx {s['anchor_at']['tx_hash']}")
        for r in s["readings"]:
            on_path = "-" if r["site_mg_on_path"] is None else kg(r["site_mg_on_path"])
            branch.add(f"reading {r['reading_id']} of {r['device_id']} at {day(r['timestamp'])}: "
                       f"{kg(r['value_mg'])} kgCO2e, proof to the anchored root {_check(r['proof_valid'])}, "
                       f"{s['label']} on its path {on_path} kgCO2e {_check(r['matches'])}")
    for i in h["inputs"]:
        source = f"{i['kind']} {i['reference']}" if i["source_type"] == "supplier" else f"factor {i['reference']}"
        checks = "" if i["cited_on_chain"] is None else (
            f", cited on chain {_check(i['cited_on_chain'])}, hash {_check(i['hash_matches'])}")
        node.add(f"input {i['name']}: {source}{' (cut off)' if i['cut_off'] else ''}{checks}")


def print_product_trace(t: dict[str, Any]) -> None:
    verdict = "[green]verified[/green]" if t["verified"] else "[red]NOT verified[/red]"
    root = Tree(f"[bold]EPD {t['epd_id']}[/bold]: {t['tiers']} tiers, judged at {day(t['at'])} - {verdict}")
    tiers: dict[int, Tree] = {}
    for h in t["hops"]:
        tier = tiers.get(h["tier"])
        if tier is None:
            tier = tiers[h["tier"]] = root.add("tier 0: the product" if h["tier"] == 0
                                               else f"tier {h['tier']}: suppliers")
        cited = "" if h["cited_by"] is None else f", cited by EPD {h['cited_by']}"
        e = h["epd"]
        node = tier.add(f"EPD {e['epd_id']} of {h['owner'] or 'organisation'} ({e['owner_org_id']}){cited}: "
                        f"{kg(e['mg_co2e_per_unit'])} kgCO2e per {e['declared_unit']}, period "
                        f"{day(e['period_start'])[:10]} to {day(e['period_end'])[:10]}, primary data "
                        f"{Decimal(e['primary_data_share_per_mille']) / 10:f} %")
        evidence = node.add(f"on chain: {_standing(h)}")
        evidence.add(f"published in block {e['at']['block_number']}, tx {e['at']['tx_hash']}")
        evidence.add(f"provenance commitment {e['provenance_commitment']}")
        node.add(f"access: {'shown' if h['access']['shown'] else 'hidden'} ({h['access']['rule']})")
        _provenance(node, h)
        if h["not_traced"]:
            node.add(f"[yellow]not traced (depth bound)[/yellow]: EPD {', '.join(map(str, h['not_traced']))}")
    console.print(root)
    for failed in t["failed_checks"]:
        console.print(f"[red]FAILED[/red] {failed}", highlight=False)
    current = sum(1 for h in t["hops"] if h["current"])
    console.print(f"{len(t['hops'])} EPDs in {t['tiers']} tiers, {current} current; trace {verdict}"
                  + ("" if t["verified"] else f": {len(t['failed_checks'])} checks failed"))


@app.command()
def asset(
    ctx: typer.Context,
    kind: Annotated[Asset, typer.Argument(help=f"{choices(traced_names())}.")],
    token_id: Annotated[int, typer.Argument(min=0, help="The vintage year (allowance) or the batch (credit).")],
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Every movement of an allowance vintage or a credit batch, in chain order, and its holders."""
    with service(ctx, url, api_key) as api:
        t = api.get(f"/audit/assets/{kind.value}/{token_id}/trace", params={"offset": offset, "limit": limit})
    if as_json:
        emit(t, True)
        return
    name = f"{kind.value} {asset_kind(kind.value).token_noun} {token_id}"
    console.print(f"[bold]{name}[/bold]: issued {t['issued']}, surrendered {t['surrendered']}, "
                  f"outstanding {t['outstanding']}")
    console.print(table("holders", ("holder", "organisation", "amount"),
                        [(h["holder"], h["org_id"], h["amount"]) for h in t["holders"]]))
    rows = []
    for h in t["hops"]:
        details = {"year": h.get("compliance_year"), "serials": f"{h['serial_start']}-{h['serial_end']}"
                   if h.get("serial_start") is not None else None, "order": h.get("order_id"),
                   "price": h.get("price"), "payment": h.get("payment"), "retirement": h.get("retirement_id")}
        rows.append((h["kind"], h["from_address"], h["to_address"], h["amount"], h["at"]["block_number"],
                     h["at"]["tx_hash"], ", ".join(f"{k} {v}" for k, v in details.items() if v is not None)))
    console.print(table("hops", ("hop", "from", "to", "amount", "block", "transaction", "details"), rows))
    page = t["page"]
    if page.get("total") is not None and page["total"] > page["offset"] + len(t["hops"]):
        console.print(f"[dim]{page['offset'] + 1}-{page['offset'] + len(t['hops'])} of {page['total']} hops "
                      "(--offset/--limit for more)[/dim]")


def _level(tree: Tree, node: dict[str, Any]) -> None:
    anchored = "" if node.get("anchored_mg") is None else f", anchored {kg(node['anchored_mg'])} kgCO2e"
    match = "" if node.get("matches_anchored") is None and not anchored else f" {mark(node.get('matches_anchored'))}"
    branch = tree.add(f"{node['level']} {node['label']}: {kg(node['sum_mg'])} kgCO2e, {node['count']} readings"
                      f"{anchored}{match}")
    for child in node["children"]:
        _level(branch, child)


@app.command()
def drilldown(
    ctx: typer.Context,
    park_id: Annotated[int, typer.Argument(min=1, help="The park.")],
    year: Annotated[int | None, typer.Option(min=1970, max=9999, help="A calendar year (UTC).")] = None,
    start: Annotated[int | None, typer.Option(min=0, help="Window start, Unix seconds (instead of --year).")] = None,
    end: Annotated[int | None, typer.Option(min=0, help="Window end, Unix seconds, exclusive.")] = None,
    verify_roots: Annotated[bool, typer.Option(help="Rebuild each window from its readings; mark mismatches.")] = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """A park's emissions by enterprise, facility, workshop and device, each compared with the anchored sums."""
    if (year is not None and (start is not None or end is not None)) or (year is None and (start is None
                                                                                          or end is None)):
        fail("give either --year, or both --start and --end")
    params: dict[str, Any] = {"verify_roots": verify_roots}
    params |= {"year": year} if year is not None else {"start": start, "end": end}
    with service(ctx, url, api_key) as api:
        d = api.get(f"/audit/parks/{park_id}/drilldown", params=params)
    if as_json:
        emit(d, True)
        return
    root = Tree(f"[bold]park {d['park_id']}[/bold]: {day(d['start'])} to {day(d['end'])} (UTC)")
    _level(root, d["tree"])
    console.print(root)

"""`carbonledger pcr|product|epd`: product category rules (a regulator), products and their output (their
enterprise), EPD drafts attested by a verifier of another organisation, published, withdrawn and flagged."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    NoWaitOption,
    OffsetOption,
    UrlOption,
    seconds,
    service,
    show,
    show_action,
    show_page,
    wait_param,
    whole_tonnes,
)
from ledger_service.epd import Allocation, hex32, pcr_id

pcr_app = typer.Typer(help="Product category rules: register a version (regulator), list.", no_args_is_help=True)
product_app = typer.Typer(help="Products and their production output.", no_args_is_help=True)
epd_app = typer.Typer(help="EPDs: compute or draft, attest, publish, withdraw, show, list, flagged; import.",
                      no_args_is_help=True)

HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
HASH_HELP = "0x-hex 32-byte hash, or a file whose SHA-256 is taken"
Hash = Annotated[str, typer.Option(help=HASH_HELP)]
Time = Annotated[str, typer.Argument(help="Unix seconds or an ISO date/time (UTC).")]
TimeOption = Annotated[str, typer.Option(help="Unix seconds or an ISO date/time (UTC).")]
ProductId = Annotated[str, typer.Argument(help="The product's on-chain id (0x-hex).")]
EpdId = Annotated[int, typer.Argument(min=1, help="The EPD.")]
DraftId = Annotated[int, typer.Argument(min=1, help="The draft.")]
OwnerOption = Annotated[int | None, typer.Option("--owner-org", min=1, help="Only this organisation's.")]
ALLOCATIONS = {a.label.replace("_", "-"): a for a in Allocation}
PCR_KEYS = ["pcr_id", "version", "name", "cpc_code", "declared_unit", "allocation", "cut_off_per_mille",
            "valid_from", "valid_until", "document_hash", "commitment"]
PRODUCT_KEYS = ["product_id", "owner_org_id", "own_product_id", "cpc_code", "declared_unit", "facility", "workshop"]
OUTPUT_KEYS = ["index", "period_start", "period_end", "quantity_milli", "mass_grams", "value_fen", "extract_hash",
               "commitment"]
DRAFT_KEYS = ["draft_id", "status", "owner_org_id", "draft_commitment", "epd_id"]
COMPUTED_KEYS = ["kg_co2e_per_unit", "site_kg_co2e_per_unit", "upstream_kg_co2e_per_unit", "allocation_share",
                 "site_mg_co2e", "primary_data_share_percent", "exempted_percent"]
EPD_KEYS = ["epd_id", "status", "flagged", "owner_org_id", "product_id", "pcr_version", "declared_unit",
            "mg_co2e_per_unit", "period_start", "period_end", "valid_from", "valid_until", "cited_epd_ids",
            "superseded_by", "provenance_commitment"]


def _hash(value: str) -> str:
    """A 0x-hex hash as given, or the SHA-256 of the named file."""
    if HEX32.match(value):
        return value.lower()
    path = Path(value)
    if not path.is_file():
        raise typer.BadParameter(f"{value!r} is neither a 0x-hex 32-byte hash nor a file")
    return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def _page(offset: int, limit: int, **filters: Any) -> dict[str, Any]:
    """Query parameters of a listing: the page and the filters given."""
    return {"offset": offset, "limit": limit, **{k: v for k, v in filters.items() if v is not None}}


# ------------------------------------------------------------------ pcr


@pcr_app.command("register")
def register_pcr(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The rule's code, e.g. PCR-STEEL-HRC.")],
    version: Annotated[int, typer.Argument(min=1, help="Above the code's latest version.")],
    name: Annotated[str, typer.Option(help="The rule's name.")],
    cpc: Annotated[str, typer.Option(help="UN CPC code of the product category.")],
    unit: Annotated[str, typer.Option(help="The declared unit, e.g. t.")],
    allocation: Annotated[str, typer.Option(help=f"Co-product allocation: {', '.join(ALLOCATIONS)}.")],
    valid_from: TimeOption,
    valid_until: TimeOption,
    document: Hash,
    cut_off: Annotated[int, typer.Option(min=0, max=1000, help="Cut-off, per mille.")] = 10,
    data_quality: Annotated[str, typer.Option(help="The required data quality.")] = "",
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Register a PCR version (the program operator: a regulator)."""
    if allocation not in ALLOCATIONS:
        raise typer.BadParameter(f"allocation is one of {', '.join(ALLOCATIONS)}")
    body = {"code": code, "version": version, "name": name, "cpc_code": cpc, "declared_unit": unit,
            "allocation": int(ALLOCATIONS[allocation]), "cut_off_per_mille": cut_off, "data_quality": data_quality,
            "valid_from": seconds(valid_from), "valid_until": seconds(valid_until), "document_hash": _hash(document)}
    with service(ctx, url, api_key) as api:
        answer = api.post("/pcrs", params=wait_param(no_wait), json=body)
    show_action(answer, "pcr", as_json, f"PCR {code} version {version} registered", PCR_KEYS)


@pcr_app.command("list")
def list_pcrs(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Option("--code", help="Only this rule's versions.")] = None,
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Every PCR version."""
    params = _page(offset, limit, pcr=hex32(pcr_id(code)) if code else None)
    with service(ctx, url, api_key) as api:
        show_page(api.get("/pcrs", params=params), as_json, "PCR versions", PCR_KEYS)


# ------------------------------------------------------------------ product


@product_app.command("register")
def register_product(
    ctx: typer.Context,
    own_id: Annotated[str, typer.Argument(help="Your own product id.")],
    cpc: Annotated[str, typer.Option(help="UN CPC code.")],
    unit: Annotated[str, typer.Option(help="The declared unit.")],
    facility: Annotated[str, typer.Option(help="The facility label where it is made.")],
    workshop: Annotated[str, typer.Option(help="The workshop label within the facility.")] = "",
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Register a product of your organisation (enterprise)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/products", params=wait_param(no_wait), json={
            "own_product_id": own_id, "cpc_code": cpc, "declared_unit": unit, "facility": facility,
            "workshop": workshop})
    show_action(answer, "product", as_json, "product registered", PRODUCT_KEYS)


@product_app.command("list")
def list_products(
    ctx: typer.Context, owner_org: OwnerOption = None, offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Registered products."""
    params = _page(offset, limit, owner_org_id=owner_org)
    with service(ctx, url, api_key) as api:
        show_page(api.get("/products", params=params), as_json, "products", PRODUCT_KEYS)


@product_app.command("output")
def output(
    ctx: typer.Context,
    product_id: ProductId,
    period_start: Annotated[str | None, typer.Argument(help="Record: period start (Unix seconds or ISO).")] = None,
    period_end: Annotated[str | None, typer.Argument(help="Record: period end (exclusive).")] = None,
    quantity_milli: Annotated[str | None, typer.Option(help="Declared units x 1000.")] = None,
    mass_grams: Annotated[int, typer.Option(min=0, help="kg x 1000.")] = 0,
    value_fen: Annotated[int, typer.Option(min=0, help="CNY fen.")] = 0,
    extract: Annotated[str | None, typer.Option(help=f"The sealed ERP extract: {HASH_HELP}.")] = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """A product's output records; with a period, record one (an enterprise member of the owner)."""
    with service(ctx, url, api_key) as api:
        if period_start is None:
            answer = api.get(f"/products/{product_id}/output")
            show_page(answer, as_json, f"output of {product_id}", OUTPUT_KEYS)
            return
        if period_end is None or quantity_milli is None or extract is None:
            raise typer.BadParameter("recording output needs the period's end, --quantity-milli and --extract")
        answer = api.post(f"/products/{product_id}/output", params=wait_param(no_wait), json={
            "period_start": seconds(period_start), "period_end": seconds(period_end),
            "quantity_milli": whole_tonnes(quantity_milli, "quantity"), "mass_grams": mass_grams,
            "value_fen": value_fen, "extract_hash": _hash(extract)})
    show_action(answer, "output", as_json, "output recorded", OUTPUT_KEYS)


@product_app.command("counted")
def counted(
    ctx: typer.Context,
    product_id: ProductId,
    period_start: Time,
    period_end: Time,
    counter: Annotated[list[str], typer.Option(help="A production counter of the product (device id; repeat).")],
    value_fen: Annotated[int, typer.Option(min=0, help="The output's value, CNY fen.")],
    mass_grams: Annotated[int | None, typer.Option(min=0, help="kg x 1000 (derived for products in t or kg).")]
    = None,
    no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Record a product's output for a period from its production counters' anchored counts."""
    body: dict[str, Any] = {"period_start": seconds(period_start), "period_end": seconds(period_end),
                            "devices": counter, "value_fen": value_fen}
    if mass_grams is not None:
        body["mass_grams"] = mass_grams
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/products/{product_id}/output/counted", params=wait_param(no_wait), json=body)
    show_action(answer, "output", as_json, f"output counted (evidence {answer.get('evidence_hash')})", OUTPUT_KEYS)


@product_app.command("extract")
def extract_output(
    ctx: typer.Context,
    extract: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The ERP extract (CSV: product, "
                                            "period_start, period_end, quantity, mass_kg, value_cny).")],
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Record the output an ERP extract states for the caller's organisation's products (sealed; each row's
    output commits to the extract's SHA-256)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/products/output/extracts",
                          files={"extract": (extract.name, extract.read_bytes(), "text/csv")})
    if as_json:
        show(answer, True)
        return
    show(answer["outputs"], False, f"output recorded from extract {answer['extract_hash']}", ["product_id",
                                                                                             *OUTPUT_KEYS])


# ------------------------------------------------------------------ epd


@epd_app.command("draft")
def draft(
    ctx: typer.Context,
    product_id: ProductId,
    pcr: Annotated[str, typer.Option(help="The PCR's code.")],
    pcr_version: Annotated[int, typer.Option(min=1, help="The PCR version.")],
    unit: Annotated[str, typer.Option(help="The product's declared unit.")],
    mg_per_unit: Annotated[str, typer.Option(help="The footprint, mgCO2e per declared unit.")],
    period_start: TimeOption,
    period_end: TimeOption,
    valid_from: TimeOption,
    valid_until: TimeOption,
    document: Hash,
    provenance: Annotated[str, typer.Option(help="The provenance commitment the computation gives (0x-hex).")],
    primary_share: Annotated[int, typer.Option(min=0, max=1000, help="Primary data share, per mille.")] = 0,
    cite: Annotated[list[int] | None, typer.Option(min=1, help="A supplier EPD cited (repeat).")] = None,
    supersedes: Annotated[int, typer.Option(min=0, help="The EPD of this product it supersedes.")] = 0,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Keep a draft footprint of one of your products; a verifier attests its commitment."""
    if not HEX32.match(provenance):
        raise typer.BadParameter("the provenance commitment is a 0x-hex 32-byte hash")
    body = {"product_id": product_id, "pcr_id": hex32(pcr_id(pcr)), "pcr_version": pcr_version,
            "declared_unit": unit, "mg_co2e_per_unit": whole_tonnes(mg_per_unit, "mgCO2e"),
            "period_start": seconds(period_start), "period_end": seconds(period_end),
            "valid_from": seconds(valid_from), "valid_until": seconds(valid_until), "document_hash": _hash(document),
            "provenance_commitment": provenance.lower(), "primary_data_share_per_mille": primary_share,
            "cited_epd_ids": cite or [], "supersedes": supersedes}
    with service(ctx, url, api_key) as api:
        show(api.post("/epds/drafts", json=body), as_json, "draft kept", DRAFT_KEYS)


def _inputs(from_epds: list[str] | None, from_imports: list[str] | None,
            from_factors: list[str] | None) -> list[dict[str, Any]]:
    """`NAME,QUANTITY,UNIT,EPD_ID`, `NAME,QUANTITY,UNIT,IMPORT_ID` and
    `NAME,QUANTITY,UNIT,DATABASE,VERSION,FACTOR_ID,KG_PER_UNIT` lines."""
    lines: list[dict[str, Any]] = []
    for text in from_epds or []:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4 or not parts[3].isdigit():
            raise typer.BadParameter(f"{text!r}: NAME,QUANTITY,UNIT,EPD_ID", param_hint="--epd-input")
        lines.append({"name": parts[0], "quantity": parts[1], "unit": parts[2], "epd_id": int(parts[3])})
    for text in from_imports or []:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4 or not parts[3].isdigit():
            raise typer.BadParameter(f"{text!r}: NAME,QUANTITY,UNIT,IMPORT_ID", param_hint="--pact-input")
        lines.append({"name": parts[0], "quantity": parts[1], "unit": parts[2], "pact_import_id": int(parts[3])})
    for text in from_factors or []:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 7:
            raise typer.BadParameter(f"{text!r}: NAME,QUANTITY,UNIT,DATABASE,VERSION,FACTOR_ID,KG_PER_UNIT",
                                     param_hint="--factor-input")
        lines.append({"name": parts[0], "quantity": parts[1], "unit": parts[2], "factor": {
            "database": parts[3], "version": parts[4], "factor_id": parts[5], "kg_per_unit": parts[6]}})
    return lines


@epd_app.command("compute")
def compute(
    ctx: typer.Context,
    product_id: ProductId,
    pcr: Annotated[str, typer.Option(help="The PCR's code.")],
    pcr_version: Annotated[int, typer.Option(min=1, help="The PCR version.")],
    period_start: TimeOption,
    period_end: TimeOption,
    valid_from: TimeOption,
    valid_until: TimeOption,
    document: Hash,
    epd_input: Annotated[list[str] | None, typer.Option(
        help="An input per declared unit from a supplier's EPD: NAME,QUANTITY,UNIT,EPD_ID (repeat).")] = None,
    pact_input: Annotated[list[str] | None, typer.Option(
        help="An input from an imported PACT footprint (`epd import`): NAME,QUANTITY,UNIT,IMPORT_ID (repeat).")] = None,
    factor_input: Annotated[list[str] | None, typer.Option(
        help="An input from a secondary factor: NAME,QUANTITY,UNIT,DATABASE,VERSION,FACTOR_ID,KG_PER_UNIT "
             "(repeat).")] = None,
    supersedes: Annotated[int, typer.Option(min=0, help="The EPD of this product it supersedes.")] = 0,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Compute a footprint of one of your products from its site's anchored meter data, the output records and
    the bill of materials, and keep it as a draft with its provenance; a verifier attests its commitment."""
    body = {"product_id": product_id, "pcr_id": hex32(pcr_id(pcr)), "pcr_version": pcr_version,
            "period_start": seconds(period_start), "period_end": seconds(period_end),
            "valid_from": seconds(valid_from), "valid_until": seconds(valid_until), "document_hash": _hash(document),
            "inputs": _inputs(epd_input, pact_input, factor_input), "supersedes": supersedes}
    with service(ctx, url, api_key) as api:
        answer = api.post("/epds/drafts/computed", json=body)
    draft = answer["draft"]
    figures = {key: answer[key] for key in COMPUTED_KEYS}
    show(answer if as_json else {**draft, **figures, **draft["fields"]}, as_json, "footprint computed, draft kept",
         [*DRAFT_KEYS, *COMPUTED_KEYS, "mg_co2e_per_unit", "cited_epd_ids", "provenance_commitment"])


IMPORT_KEYS = ["id", "footprint_id", "source", "kg_per_unit", "unit", "verified_on_ledger", "sha256", "keccak256",
               "notarization_tx"]


@epd_app.command("import")
def import_footprint(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="The supplier's PACT host (https://..., in CARBONLEDGER_PACT_HOSTS).")],
    footprint_id: Annotated[str, typer.Argument(help="The footprint's PACT id (a UUID).")],
    client_id: Annotated[str, typer.Option(help="Your client id at that host.")],
    client_secret: Annotated[str, typer.Option(envvar="CARBONLEDGER_PACT_CLIENT_SECRET", prompt=True, hide_input=True,
                                               show_default=False, help="Your client secret there (asked for if "
                                               "not in CARBONLEDGER_PACT_CLIENT_SECRET; never given on the command "
                                               "line).")],
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Import a supplier's footprint from another PACT host: notarized, kept as an input (`--pact-input` of compute)."""
    body = {"host": host, "client_id": client_id, "client_secret": client_secret, "footprint_id": footprint_id}
    with service(ctx, url, api_key) as api:
        show(api.post("/footprints/imports", json=body), as_json, "footprint imported", IMPORT_KEYS)


@epd_app.command("drafts")
def drafts(
    ctx: typer.Context, owner_org: OwnerOption = None, offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Drafts you see: your organisation's (any organisation's for verifiers and regulators)."""
    params = _page(offset, limit, owner_org_id=owner_org)
    with service(ctx, url, api_key) as api:
        show_page(api.get("/epds/drafts", params=params), as_json, "EPD drafts", DRAFT_KEYS)


@epd_app.command("attest")
def attest(
    ctx: typer.Context, draft_id: DraftId, statement: Hash, no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Attest a draft with your statement (a verifier of another organisation than the draft's)."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/epds/drafts/{draft_id}/attest", params=wait_param(no_wait),
                          json={"statement_hash": _hash(statement)})
    show_action(answer, "draft", as_json, f"draft {draft_id} attested", DRAFT_KEYS)


@epd_app.command("publish")
def publish(
    ctx: typer.Context, draft_id: DraftId, no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Publish an attested draft of your organisation; a supersession flags the footprints citing the old EPD."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/epds", params=wait_param(no_wait), json={"draft_id": draft_id})
    show_action(answer, "epd", as_json, "EPD published", EPD_KEYS)
    if answer.get("flagged") and not as_json:
        typer.echo(f"flagged citing EPDs: {', '.join(map(str, answer['flagged']))}")


@epd_app.command("withdraw")
def withdraw(
    ctx: typer.Context, epd_id: EpdId, reason: Hash, no_wait: NoWaitOption = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Withdraw one of your organisation's EPDs with a reason; the footprints citing it are flagged."""
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/epds/{epd_id}/withdraw", params=wait_param(no_wait), json={"reason_hash": _hash(reason)})
    show_action(answer, "epd", as_json, f"EPD {epd_id} withdrawn", EPD_KEYS)
    if answer.get("flagged") and not as_json:
        typer.echo(f"flagged citing EPDs: {', '.join(map(str, answer['flagged']))}")


@epd_app.command("show")
def show_epd(ctx: typer.Context, epd_id: EpdId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
             as_json: JsonOption = False) -> None:
    """A published EPD and what became of it."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/epds/{epd_id}"), as_json, f"EPD {epd_id}", EPD_KEYS)


@epd_app.command("list")
def list_epds(
    ctx: typer.Context, owner_org: OwnerOption = None,
    product: Annotated[str | None, typer.Option(help="Only this product's (0x-hex id).")] = None,
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Published EPDs."""
    params = _page(offset, limit, owner_org_id=owner_org, product=product or None)
    with service(ctx, url, api_key) as api:
        show_page(api.get("/epds", params=params), as_json, "EPDs", EPD_KEYS)


@epd_app.command("flagged")
def flagged(
    ctx: typer.Context, owner_org: OwnerOption = None, offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Your organisation's footprints flagged because a cited EPD went stale (a regulator may name any)."""
    params = _page(offset, limit, owner_org_id=owner_org)
    with service(ctx, url, api_key) as api:
        show_page(api.get("/epds/flagged", params=params), as_json, "flagged EPDs", EPD_KEYS)

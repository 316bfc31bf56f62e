"""A published EPD as a printable, self-contained HTML page, with how to check it on chain."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal

from ledger_service.epd import Epd, Pcr, Product

MG_PER_KG = 1_000_000


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def kg_per_unit(epd: Epd) -> str:
    """mgCO2e per declared unit as kgCO2e, exactly (six decimals)."""
    return f"{Decimal(epd.mg_co2e_per_unit) / MG_PER_KG:,.6f}"


def render_epd(epd: Epd, product: Product, pcr: Pcr, owner: str, registry: str, chain_id: int,
               on_chain_matches: bool) -> str:
    """A self-contained HTML page stating the EPD and how to check it on chain."""
    e = html.escape
    cited = ", ".join(f"#{i}" for i in epd.cited_epd_ids) or "none"
    state = epd.status + (" (flagged: a cited EPD is no longer published or valid)" if epd.flagged else "")
    if epd.superseded_by:
        state += f", superseded by #{epd.superseded_by}"
    rows = [
        ("EPD", f"#{epd.epd_id}"),
        ("Status", state),
        ("Owner", f"{owner} (organisation {epd.owner_org_id})"),
        ("Product", f"{product.own_product_id} (CPC {product.cpc_code}), made at "
                    f"{product.workshop or product.facility}"),
        ("Product id", product.product_id),
        ("Declared unit", epd.declared_unit),
        ("Carbon footprint", f"{kg_per_unit(epd)} kgCO2e per {epd.declared_unit} (cradle to gate)"),
        ("Primary data share", f"{Decimal(epd.primary_data_share_per_mille) / 10:.1f} %"),
        ("PCR", f"{pcr.name}, version {pcr.version} ({pcr.pcr_id}); allocation by {pcr.allocation}"),
        ("Reference period", f"{_day(epd.period_start)} to {_day(epd.period_end)} (end excluded)"),
        ("Valid", f"{_day(epd.valid_from)} to {_day(epd.valid_until)} (end excluded)"),
        ("Cites supplier EPDs", cited),
        ("Supersedes", f"#{epd.supersedes}" if epd.supersedes else "none"),
        ("Document hash", epd.document_hash),
        ("Provenance commitment", epd.provenance_commitment),
        ("Draft commitment (attested)", epd.draft_commitment),
        ("Transaction", epd.at.tx_hash),
        ("Block", f"{epd.at.block_number}" + (" (not yet final)" if epd.at.pending else "")),
        ("Published (UTC)", epd.at.block_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Registry", f"EpdRegistry {registry} on chain {chain_id}"),
    ]
    table = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    status_line = ("The registry's record matches this declaration." if on_chain_matches
                   else "WARNING: the registry's record does not match this declaration.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Environmental product declaration #{epd.epd_id}</title>
<style>
body {{ font-family: Georgia, serif; max-width: 52em; margin: 2em auto; color: #111; }}
h1 {{ font-size: 1.6em; border-bottom: 2px solid #2f6b3a; padding-bottom: .3em; }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ text-align: left; width: 14em; vertical-align: top; padding: .3em; color: #2f6b3a; }}
td {{ padding: .3em; font-family: monospace; word-break: break-all; }}
.verify {{ margin-top: 2em; font-size: .9em; border-top: 1px solid #999; padding-top: 1em; }}
@media print {{ body {{ margin: 0; }} }}
</style></head>
<body>
<h1>Environmental product declaration: carbon footprint</h1>
<p><strong>{e(kg_per_unit(epd))} kgCO2e</strong> per {e(epd.declared_unit)} of {e(product.own_product_id)} made by
<strong>{e(owner)}</strong>, cradle to gate, under {e(pcr.name)} version {pcr.version}, verified by a third party.</p>
<table>
{table}
</table>
<p><strong>{e(status_line)}</strong></p>
<div class="verify">
<h2>How to verify this declaration on chain</h2>
<ol>
<li>On chain {chain_id}, call <code>epd({epd.epd_id})</code> on the EpdRegistry at <code>{e(registry)}</code>: it
returns the owner organisation {epd.owner_org_id}, the validity, the status (1 published, 2 superseded, 3
withdrawn), whether it is flagged, the product id and the commitment to the EPDs it cites
(<code>citationsCommitment([{e(", ".join(str(i) for i in epd.cited_epd_ids))}])</code>).</li>
<li>Fetch the receipt of transaction <code>{e(epd.at.tx_hash)}</code> (block {epd.at.block_number}): its
<code>EpdPublished</code> event carries the figures stated here; <code>draftCommitment</code> of those fields
equals <code>{e(epd.draft_commitment)}</code>, which the <code>DraftAttested</code> event shows a verifier of
another organisation attested.</li>
<li>Ask the owner for the provenance record: the keccak-256 of its canonical JSON equals
<code>{e(epd.provenance_commitment)}</code>, and each site subtotal it names is proved against its anchor on
MeterAnchor, down to the readings.</li>
</ol>
</div>
</body></html>
"""

"""The retirement certificate as a printable, self-contained HTML page, with how to check it on chain."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from ledger_service.credits import Certificate


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d") if seconds else "-"


def render_certificate(cert: Certificate, on_chain_matches: bool) -> str:
    """A self-contained HTML page stating the retirement and how to check it on chain."""
    e = html.escape
    period = (f"{_day(cert.consumption_start)} to {_day(cert.consumption_end)}"
              if cert.consumption_start or cert.consumption_end else "not stated")
    rows = [
        ("Retirement", f"#{cert.retirement_id}"),
        ("Beneficiary", cert.beneficiary),
        ("Purpose", cert.purpose),
        ("Jurisdiction", cert.jurisdiction),
        ("Quantity", f"{cert.amount:,} tCO2e"),
        ("Serial numbers", f"{cert.serial_start} to {cert.serial_end}"),
        ("Project", cert.project_id),
        ("Methodology", cert.methodology),
        ("Project location", cert.location),
        ("Vintage", str(cert.vintage)),
        ("Credit batch", f"#{cert.batch_id}"),
        ("Consumption period", period),
        ("Retired by", cert.holder),
        ("Transaction", cert.tx_hash),
        ("Block", f"{cert.block_number}" + (" (not yet final)" if cert.pending else "")),
        ("Time (UTC)", cert.block_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Registry", f"CreditRegistry {cert.registry} on chain {cert.chain_id}"),
    ]
    table = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    status_line = ("The registry's record matches this certificate." if on_chain_matches
                   else "WARNING: the registry's record does not match this certificate.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Retirement certificate #{cert.retirement_id}</title>
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
<h1>Carbon credit retirement certificate</h1>
<p>{e(f"{cert.amount:,}")} tonnes of CO2e of verified emission reductions were retired on behalf of
<strong>{e(cert.beneficiary)}</strong> and can never be used again.</p>
<table>
{table}
</table>
<p><strong>{e(status_line)}</strong></p>
<div class="verify">
<h2>How to verify this certificate on chain</h2>
<ol>
<li>On chain {cert.chain_id}, call <code>retirement({cert.retirement_id})</code> on the CreditRegistry at
<code>{e(cert.registry)}</code>: it returns the registry's commitment to this retirement.</li>
<li>Fetch the receipt of transaction <code>{e(cert.tx_hash)}</code> (block {cert.block_number}): it holds the
<code>CreditsRetired</code> event with retirement id {cert.retirement_id} and the batch, holder, quantity, serial
range, beneficiary, purpose, jurisdiction and consumption period stated here; <code>retirementHash</code> of
that record on the CreditRegistry (keccak256 of its ABI encoding) equals the commitment.</li>
<li>Call <code>batch({cert.batch_id})</code>: serials {cert.serial_start} to {cert.serial_end} lie within the batch's
range, and are counted in its <code>retired</code> total, so they cannot be retired, surrendered or cancelled
again.</li>
</ol>
</div>
</body></html>
"""

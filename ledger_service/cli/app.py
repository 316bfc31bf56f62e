"""The `carbonledger` command and its subcommands."""

from __future__ import annotations

import typer

from ledger_service.cli import abi, admin, allowance, besu, chain, credit, gec, market, member, report, trace, tx
from ledger_service.cli.demo import demo
from ledger_service.cli.deploy import deploy
from ledger_service.cli.footprints import epd_app, pcr_app, product_app
from ledger_service.cli.reconcile import reconcile
from ledger_service.cli.serve import serve
from oracles.cli import app as oracle_app

app = typer.Typer(
    help="CarbonLedger: a permissioned blockchain ledger for carbon assets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(chain.app, name="chain")
app.command()(deploy)
app.command()(serve)
app.add_typer(oracle_app, name="oracle", help="Meter data: simulate, ingest, anchor, prove, serve.")
app.add_typer(besu.app, name="besu")
app.add_typer(member.app, name="member")
app.add_typer(allowance.app, name="allowance")
app.add_typer(report.app, name="report")
app.add_typer(credit.app, name="credit")
app.add_typer(market.app, name="market")
app.add_typer(gec.app, name="gec")
app.add_typer(pcr_app, name="pcr")
app.add_typer(product_app, name="product")
app.add_typer(epd_app, name="epd")
app.add_typer(trace.app, name="trace")
app.command()(reconcile)
app.add_typer(tx.app, name="tx")
app.command()(demo)
app.add_typer(admin.app, name="admin")
app.add_typer(abi.app, name="abi")


@app.command()
def version() -> None:
    """Print the package version."""
    from importlib.metadata import version as pkg_version

    typer.echo(pkg_version("carbonledger"))


def main() -> None:
    app()

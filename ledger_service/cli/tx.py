"""`carbonledger tx`: transactions in the service's outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger_core.db.models.outbox import OutboxStatus
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    OffsetOption,
    UrlOption,
    service,
    show,
    show_page,
)

app = typer.Typer(help="Outbox transactions: show one, list them.", no_args_is_help=True)
TX_KEYS = ["id", "status", "final", "confirmations", "contract", "function", "signer", "nonce", "tx_hash",
           "block_number", "gas_used", "error", "last_error", "replaces_id", "replaced_by", "origin", "args",
           "created_at", "updated_at"]
LIST_KEYS = ["id", "status", "contract", "function", "signer", "tx_hash", "block_number", "created_at"]
STATUSES = tuple(s.value for s in OutboxStatus)


@app.command("show")
def show_tx(ctx: typer.Context, outbox_id: Annotated[int, typer.Argument(min=1, help="The outbox id.")],
            url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """A transaction: status, hash, block, gas, and the decoded error if the chain refused it."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/transactions/{outbox_id}")
    if answer.get("error") and not as_json:
        answer = {**answer, "error": f"{answer['error']['name']}: {answer['error']['message']}"}
    show(answer, as_json, f"transaction {outbox_id}", TX_KEYS)


@app.command("list")
def list_txs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=f"Only this status: {', '.join(STATUSES)}.")] = None,
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """The caller's transactions, newest first (every transaction for a regulator)."""
    params: dict[str, object] = {"offset": offset, "limit": limit}
    if status:
        params["status"] = status
    with service(ctx, url, api_key) as api:
        answer = api.get("/transactions", params=params)
    show_page(answer, as_json, "transactions", LIST_KEYS)

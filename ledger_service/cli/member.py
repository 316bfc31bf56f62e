"""`carbonledger member`: admission, sanctions and look-ups of members; organisations and their hierarchy."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.tree import Tree

from ledger_service.cli.output import console, emit, fail
from ledger_service.cli.remote import (
    DEFAULT,
    JsonOption,
    KeyOption,
    LimitOption,
    OffsetOption,
    UrlOption,
    service,
    show,
    show_action,
    show_page,
)

app = typer.Typer(help="Members: admit, look up, suspend, reinstate, revoke, freeze, unfreeze; organisations; "
                  "API keys.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations: register, show, hierarchy, members.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of members (regulator): issue, list, rotate, revoke.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(key_app, name="key")

Address = Annotated[str, typer.Argument(help="The member's address (0x...).")]
Reason = Annotated[str, typer.Option(help="The decision (its keccak256 goes on chain).")]
MEMBER_KEYS = ["address", "org_id", "status", "frozen", "roles", "custodial"]


@app.command()
def admit(
    ctx: typer.Context,
    org_id: Annotated[int, typer.Argument(help="The member's organisation.")],
    role: Annotated[list[str], typer.Option("--role", help="REGULATOR, VERIFIER, ORACLE, ENTERPRISE, TRADER or "
                                            "SETTLEMENT_BANK (repeatable).")],
    address: Annotated[str | None, typer.Option(help="The member's own address (it keeps its key).")] = None,
    custodial: Annotated[bool, typer.Option(help="The service creates and keeps the member's key.")] = False,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Admit a member to an organisation with roles (regulator)."""
    if custodial == (address is not None):
        fail("give either --address or --custodial", "a custodial member's key is created and kept by the service")
    body: dict[str, Any] = {"org_id": org_id, "roles": [r.upper() for r in role], "custodial": custodial}
    if address is not None:
        body["address"] = address
    with service(ctx, url, api_key) as api:
        answer = api.post("/members", json=body)
    show_action(answer, "member", as_json, "member admitted", MEMBER_KEYS)


@app.command("show")
def show_member(ctx: typer.Context, address: Address, url: UrlOption = DEFAULT, api_key: KeyOption = None,
                as_json: JsonOption = False) -> None:
    """A member as the chain records it: organisation, status, roles, frozen."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/members/{address}"), as_json, "member", MEMBER_KEYS)


def _sanction(ctx: typer.Context, address: str, action: str, reason: str | None, url: str, api_key: str | None,
              as_json: bool) -> None:
    with service(ctx, url, api_key) as api:
        answer = api.post(f"/members/{address}/{action}", json={"reason": reason} if reason is not None else None)
    show_action(answer, "member", as_json, f"member: {action}", MEMBER_KEYS)


@app.command()
def suspend(ctx: typer.Context, address: Address, reason: Reason, url: UrlOption = DEFAULT,
            api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Suspend a member: it keeps its roles but cannot use them (regulator)."""
    _sanction(ctx, address, "suspend", reason, url, api_key, as_json)


@app.command()
def reinstate(ctx: typer.Context, address: Address, url: UrlOption = DEFAULT, api_key: KeyOption = None,
              as_json: JsonOption = False) -> None:
    """Reinstate a suspended member (regulator)."""
    _sanction(ctx, address, "reinstate", None, url, api_key, as_json)


@app.command()
def revoke(ctx: typer.Context, address: Address, reason: Reason, url: UrlOption = DEFAULT,
           api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Revoke a member: it loses its roles (regulator)."""
    _sanction(ctx, address, "revoke", reason, url, api_key, as_json)


@app.command()
def freeze(ctx: typer.Context, address: Address, reason: Reason, url: UrlOption = DEFAULT,
           api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Freeze an account: its assets can neither leave nor arrive (regulator)."""
    _sanction(ctx, address, "freeze", reason, url, api_key, as_json)


@app.command()
def unfreeze(ctx: typer.Context, address: Address, url: UrlOption = DEFAULT, api_key: KeyOption = None,
             as_json: JsonOption = False) -> None:
    """Unfreeze an account (regulator)."""
    _sanction(ctx, address, "unfreeze", None, url, api_key, as_json)


# ------------------------------------------------------------------ organisations

OrgId = Annotated[int, typer.Argument(help="The organisation's id.")]


@org_app.command("register")
def register_org(
    ctx: typer.Context,
    org_id: OrgId,
    kind: Annotated[str, typer.Option(help="authority, park, enterprise, verification_body, "
                                      "trading_firm, bank or operator.")],
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    parent: Annotated[int, typer.Option(help="The parent organisation (a park for an enterprise); 0 for none.")] = 0,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Register an organisation (regulator)."""
    with service(ctx, url, api_key) as api:
        answer = api.post("/organisations", json={"org_id": org_id, "parent_id": parent, "kind": kind.lower(),
                                                  "name": name})
    show_action(answer, "organisation", as_json, "organisation registered")


@org_app.command("show")
def show_org(ctx: typer.Context, org_id: OrgId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
             as_json: JsonOption = False) -> None:
    """An organisation: kind, name, parent."""
    with service(ctx, url, api_key) as api:
        show(api.get(f"/organisations/{org_id}"), as_json, "organisation")


def _label(org: dict[str, Any]) -> str:
    return f"[bold]{org['org_id']}[/bold] {org['name']} [dim]({org['kind']})[/dim]"


def _branch(tree: Tree, nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        _branch(tree.add(_label(node["organisation"])), node["children"])


@org_app.command()
def hierarchy(
    ctx: typer.Context, org_id: OrgId,
    depth: Annotated[int, typer.Option(min=0, max=5, help="Levels of descendants.")] = 3,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """An organisation with its ancestors and descendants."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/organisations/{org_id}/hierarchy", params={"depth": depth})
    if as_json:
        emit(answer, True)
        return
    ancestors = answer["ancestors"]
    top = Tree(_label(ancestors[-1])) if ancestors else None
    parent = top
    for org in reversed(ancestors[:-1]):
        assert parent is not None
        parent = parent.add(_label(org))
    me = parent.add(_label(answer["organisation"])) if parent is not None else Tree(_label(answer["organisation"]))
    _branch(me, answer["descendants"])
    console.print(top if top is not None else me)


@org_app.command("members")
def org_members(ctx: typer.Context, org_id: OrgId, offset: OffsetOption = 0, limit: LimitOption = 100,
                url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The members of an organisation."""
    with service(ctx, url, api_key) as api:
        answer = api.get(f"/organisations/{org_id}/members", params={"offset": offset, "limit": limit})
    show_page(answer, as_json, f"members of organisation {org_id}", MEMBER_KEYS[:5])


# ------------------------------------------------------------------ API keys

KeyId = Annotated[str, typer.Argument(help="The key's id (as `member key list` shows it).")]
Days = Annotated[int | None, typer.Option("--days", min=1, max=3650, show_default=False,
                                          help="Lifetime in days (default: the service's CARBONLEDGER_API_KEY_DAYS).")]
KEY_COLUMNS = ["key_id", "member", "label", "created_at", "expires_at", "revoked_at", "replaced_by"]
ISSUED_COLUMNS = ["key_id", "member", "expires_at", "token"]


@key_app.command("issue")
def issue_key(
    ctx: typer.Context, address: Address,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    days: Days = None, url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Issue an API key for a member (regulator). The token is shown once: hand it to the member."""
    body: dict[str, Any] = {"member": address, "label": label}
    if days is not None:
        body["expires_in_days"] = days
    with service(ctx, url, api_key) as api:
        show(api.post("/api-keys", json=body), as_json, "API key issued (the token is shown only once)",
             ISSUED_COLUMNS)


@key_app.command("list")
def list_keys(
    ctx: typer.Context,
    member: Annotated[str | None, typer.Option(help="Only this member's keys.")] = None,
    offset: OffsetOption = 0, limit: LimitOption = 100,
    url: UrlOption = DEFAULT, api_key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """API keys, newest first, without their tokens (regulator)."""
    params: dict[str, Any] = {"offset": offset, "limit": limit}
    if member is not None:
        params["member"] = member
    with service(ctx, url, api_key) as api:
        answer = api.get("/api-keys", params=params)
    show_page(answer, as_json, "API keys", KEY_COLUMNS)


@key_app.command("rotate")
def rotate_key(ctx: typer.Context, key_id: KeyId, days: Days = None, url: UrlOption = DEFAULT,
               api_key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Replace a key by a new one for the same member (regulator); the old one stops working."""
    body = {"expires_in_days": days} if days is not None else None
    with service(ctx, url, api_key) as api:
        show(api.post(f"/api-keys/{key_id}/rotate", json=body), as_json,
             "API key rotated (the new token is shown only once)", ISSUED_COLUMNS)


@key_app.command("revoke")
def revoke_key(ctx: typer.Context, key_id: KeyId, url: UrlOption = DEFAULT, api_key: KeyOption = None,
               as_json: JsonOption = False) -> None:
    """Revoke a key at once (regulator)."""
    with service(ctx, url, api_key) as api:
        show(api.post(f"/api-keys/{key_id}/revoke"), as_json, "API key revoked", KEY_COLUMNS)

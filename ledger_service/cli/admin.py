"""`carbonledger admin`: commands run on the server itself, against the database and the key secret, never through
the HTTP API: moving to a new key secret, and an API key for a regulator who has none left."""

from __future__ import annotations

import getpass
import socket
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_utils import is_address
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from ledger_core.chain.addresses import to_checksum_address
from ledger_core.config import get_settings
from ledger_core.db.locks import DatabaseInUse, SingleProcess
from ledger_core.key_secret import (
    KeySecretError,
    check_strength,
    read_secret_file,
    resolve_key_secret,
    store_secret,
)
from ledger_service.cli import upgrade
from ledger_service.cli.output import console, emit, explained, fail
from ledger_service.documents import DocumentUnsealError
from ledger_service.identity.keystore import KeyUnsealError

app = typer.Typer(help="On the server: rotate the key secret, issue a regulator's API key (no HTTP); upgrade a "
                       "contract.", no_args_is_help=True)
app.add_typer(upgrade.app, name="upgrade")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SECRET_HINTS: dict[type[BaseException], Any] = {
    KeySecretError: lambda exc: exc.hint,
    DatabaseInUse: "stop the service first (`admin rotate-secret` re-seals what the running service holds open)",
    KeyUnsealError: "a custodial key does not open with the current secret; nothing was changed",
    DocumentUnsealError: "a stored document does not open with the current secret; nothing was changed",
}


def _database(url: str) -> Engine:
    """The service's database (which must exist: these commands never create one), at the latest schema."""
    from ledger_core.db.migrate import upgrade_to_head
    from ledger_core.db.session import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
        fail(f"no database at {parsed.database or url}",
             "run on the server, with the service's CARBONLEDGER_DATA_DIR or CARBONLEDGER_DATABASE_URL")
    engine = make_engine(url)
    upgrade_to_head(engine)
    return engine


def _local_actor(command: str) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown user"
    return f"local: carbonledger admin {command} by {user}@{socket.gethostname()}"


@app.command("rotate-secret")
def rotate_secret(
    new_secret_file: Annotated[Path, typer.Option(
        help="File holding the new secret (its first line; mode 0600).", exists=True, dir_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """Re-seal every custodial key and document under a new key secret, in one database transaction (all or
    nothing), then write the new secret where the service reads it. Stop every service process first."""
    from ledger_core.db.session import session_factory
    from ledger_service.identity.rotation import reseal_everything
    from ledger_service.runtime import verify_key_secret

    settings = get_settings()
    url = settings.resolved_database_url()
    with explained(SECRET_HINTS):
        current = resolve_key_secret(settings, legacy_ok=True)  # the old development default may be moved off
        new_value = read_secret_file(new_secret_file)
        check_strength(new_value)
        if new_value == current.value:
            fail("the new secret is the current one",
                 f"put a new secret in another file; the current one is read from {current.describe()}")
        single = SingleProcess(url)
        single.acquire()  # a SQLite database: refused while the service serves it
        try:
            engine = _database(url)
            try:
                sessions = session_factory(engine)
                verify_key_secret(sessions, current)
                resealed = reseal_everything(sessions, current.value, new_value)
            finally:
                engine.dispose()
        finally:
            single.release()
    written = store_secret(current, new_value)
    where = (f"written to {written}" if written is not None else
             f"set CARBONLEDGER_KEY_SECRET_FILE={new_secret_file} (and unset CARBONLEDGER_KEY_SECRET) before "
             "starting the service")
    if as_json:
        emit({"custodial_keys": resealed.keys, "documents": resealed.documents,
              "secret_file": str(written) if written is not None else None}, True)
        return
    console.print(f"re-sealed {resealed.keys} custodial keys and {resealed.documents} documents under the new "
                  f"secret; the new secret: {where}")


@app.command("issue-key")
def issue_key(
    regulator: Annotated[str | None, typer.Option(
        help="The regulator's address (default: the first active regulator admitted).")] = None,
    org: Annotated[int | None, typer.Option(help="Or: the first active regulator of this organisation.")] = None,
    label: Annotated[str, typer.Option(help="The key's label.")] = "recovery (admin issue-key)",
    days: Annotated[int | None, typer.Option(min=1, help="Lifetime in days (default: settings).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue an API key for an active regulator straight into the database (for when no regulator holds a live
    key); printed once, recorded in the API keys' audit log. Needs the data directory or database URL and the
    key secret: run it on the server."""
    from ledger_core.db.models import ChainMember
    from ledger_core.db.session import session_factory
    from ledger_service.identity.api_keys import ApiKeys
    from ledger_service.runtime import verify_key_secret

    settings = get_settings()
    with explained(SECRET_HINTS):
        secret = resolve_key_secret(settings)
        engine = _database(settings.resolved_database_url())
    try:
        sessions = session_factory(engine)
        with explained(SECRET_HINTS):
            verify_key_secret(sessions, secret)  # whoever issues holds the service's secret, not just a copy
        with sessions() as session:
            members = session.scalars(select(ChainMember).where(ChainMember.status == "active")
                                      .order_by(ChainMember.admitted_block, ChainMember.account)).all()
        regulators = [m for m in members if "REGULATOR" in (m.roles or [])]
        if org is not None:
            regulators = [m for m in regulators if m.org_id == org]
        if regulator is not None:
            if not is_address(regulator):
                fail(f"{regulator} is not an address", "give the regulator's 0x address")
            wanted = to_checksum_address(regulator)
            regulators = [m for m in regulators if to_checksum_address(m.account) == wanted]
        if not regulators:
            known = ", ".join(m.account for m in members if "REGULATOR" in (m.roles or [])) or "none indexed"
            fail("no active regulator matches" if regulator or org is not None else "no active regulator is indexed",
                 f"active regulators in the index: {known} (start the service once so its index is up to date)")
        chosen = to_checksum_address(regulators[0].account)
        issued = ApiKeys(sessions).issue(chosen, timedelta(days=days or settings.api_key_days), label=label,
                                         actor=_local_actor("issue-key"))
    finally:
        engine.dispose()
    if as_json:
        emit({"member": issued.member, "key_id": issued.key_id, "api_key": issued.token,
              "expires_at": issued.expires_at.isoformat()}, True)
        return
    console.print(f"regulator {issued.member}\nAPI key (shown once): {issued.token}\n"
                  f"key id {issued.key_id}, expires {issued.expires_at:%Y-%m-%d %H:%M} UTC")

"""The key secret, which seals custodial keys and documents: resolved here, the same way for every process that
needs it (the service, the demo, `carbonledger admin`).

Where it comes from, in this order:

1. the setting `CARBONLEDGER_KEY_SECRET`;
2. the file named by `CARBONLEDGER_KEY_SECRET_FILE` (its first line);
3. on the embedded chain only, `<data_dir>/key-secret`: a random secret generated on first use (mode 0600).

On a node or network with neither setting, the service refuses to start: there is no default secret, so a copied
database opens with nobody's secret but its owner's.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ledger_core.chain.connect import EMBEDDED
from ledger_core.config import Settings
from ledger_core.private_files import check_private, private_dir, write_private

log = logging.getLogger(__name__)

GENERATED_NAME = "key-secret"
MIN_LENGTH = 16
# What earlier versions fell back on when no secret was set; a database sealed under it opens for anyone who
# reads this repository. Refused, except as the current secret of `admin rotate-secret`, which moves off it.
LEGACY_DEFAULT = "carbonledger-development-secret"
MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE; chmod 600 FILE"


class KeySecretError(RuntimeError):
    """No usable key secret; `hint` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class KeySecret:
    value: str = field(repr=False)
    source: str  # "setting", "file" or "generated"
    path: Path | None = None  # the file it was read from

    def describe(self) -> str:
        return "CARBONLEDGER_KEY_SECRET" if self.path is None else str(self.path)


def generated_path(settings: Settings) -> Path:
    return settings.data_dir / GENERATED_NAME


def resolve_key_secret(settings: Settings, *, legacy_ok: bool = False) -> KeySecret:
    """The key secret these settings name (see the module's docstring); raises KeySecretError when there is none
    or it is too weak."""
    if settings.key_secret is not None and settings.key_secret_file is not None:
        raise KeySecretError("both CARBONLEDGER_KEY_SECRET and CARBONLEDGER_KEY_SECRET_FILE are set",
                             "keep one of them")
    if settings.key_secret is not None:
        found = KeySecret(settings.key_secret.get_secret_value(), "setting")
    elif settings.key_secret_file is not None:
        check_private(settings.key_secret_file, ours=False)
        found = KeySecret(read_secret_file(settings.key_secret_file), "file", settings.key_secret_file)
    elif settings.chain == EMBEDDED:
        path = generated_path(settings)
        found = KeySecret(generated_secret(path), "generated", path)
    else:
        raise KeySecretError(
            f"no key secret: on a node ({settings.chain}) the service needs a secret of its own to seal custodial "
            "keys and documents",
            f"set CARBONLEDGER_KEY_SECRET_FILE to a file holding a long random secret, made with: {MAKE_ONE}")
    check_strength(found.value, legacy_ok=legacy_ok)
    return found


def check_strength(value: str, *, legacy_ok: bool = False) -> None:
    if value == LEGACY_DEFAULT and not legacy_ok:
        raise KeySecretError(
            "the key secret is the development default of earlier versions, which anyone can read",
            "stop the service and move the database to a secret of its own: CARBONLEDGER_KEY_SECRET="
            f"{LEGACY_DEFAULT} carbonledger admin rotate-secret --new-secret-file FILE (make FILE with: {MAKE_ONE})")
    if len(value) < MIN_LENGTH:
        raise KeySecretError(f"the key secret is shorter than {MIN_LENGTH} characters",
                             f"use a long random secret, made with: {MAKE_ONE}")


def read_secret_file(path: Path) -> str:
    """The secret in `path`: its first line, without surrounding whitespace."""
    try:
        lines = path.read_text().strip().splitlines()
    except FileNotFoundError:
        raise KeySecretError(f"the key secret file {path} does not exist",
                             f"create it with: {MAKE_ONE}") from None
    except OSError as exc:
        raise KeySecretError(f"the key secret file {path} cannot be read ({type(exc).__name__})",
                             "make it readable by the service's user (mode 0600)") from None
    if not lines or not lines[0].strip():
        raise KeySecretError(f"the key secret file {path} is empty", f"fill it with: {MAKE_ONE}")
    return lines[0].strip()


def generated_secret(path: Path) -> str:
    """The secret kept in `path`, generated (random, mode 0600, in a 0700 directory) if there is none yet; of
    processes racing to generate it, one wins and all read the same."""
    private_dir(path.parent)
    if path.exists():
        check_private(path)
    elif write_private(path, secrets.token_urlsafe(32) + "\n", exclusive=True):
        log.info("generated a key secret in %s", path)
    return read_secret_file(path)


def store_secret(secret: KeySecret, new_value: str) -> Path | None:
    """Write `new_value` where `secret` was read from, if that was a file (atomically, mode 0600); the file
    written, or None when the secret came from the environment (the caller tells the user what to set)."""
    if secret.path is None:
        return None
    write_private(secret.path, new_value + "\n")
    return secret.path

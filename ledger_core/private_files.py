"""Files only their owner may read: the data directory (0700), the database, key and secret files (0600).

What the service creates is created with these modes from the start (never written first and narrowed after).
At start the service checks them: a file or directory of its own that group or others can read is logged as a
warning and narrowed; a file it was only told about (a secret file named by a setting) is only warned about.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_private(path: Path, *, ours: bool = True) -> None:
    """Warn when group or others have access to `path` (if it exists); narrow it when it is `ours`."""
    try:
        mode = mode_of(path)
    except FileNotFoundError:
        return
    if not mode & OPEN_TO_OTHERS:
        return
    wanted = PRIVATE_DIR if path.is_dir() else PRIVATE_FILE
    if not ours:
        log.warning("%s is mode %o: group or others can read it; it should be %o (chmod %o %s)", path, mode,
                    wanted, wanted, path)
        return
    try:
        path.chmod(wanted)
    except OSError as exc:
        log.warning("%s is mode %o: group or others can read it, and it could not be set to %o (%s)", path, mode,
                    wanted, type(exc).__name__)
        return
    log.warning("%s was mode %o (group or others could read it); set to %o", path, mode, wanted)


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner may enter: created 0700, or an existing one checked (and narrowed)."""
    if path.is_dir():
        check_private(path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    path.chmod(PRIVATE_DIR)  # whatever the umask
    return path


def write_private(path: Path, content: str, *, exclusive: bool = False) -> bool:
    """Write `content` to `path` with mode 0600 from the first byte, atomically (a reader sees the old content or
    the new, never a part). `exclusive`: only if `path` does not exist yet (of racing writers, exactly one wins);
    returns whether this call wrote it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if not exclusive:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def protect_sqlite_file(url: str) -> None:
    """For a SQLite database file: its directory created 0700 and the file created 0600 before SQLite opens it
    (SQLite gives its -wal and -shm files the database's mode); an existing one open to others is narrowed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    database = Path(parsed.database)
    if not database.parent.exists():
        private_dir(database.parent)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            check_private(path)

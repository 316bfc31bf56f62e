"""Write the report trace answers of an indexed history, to compare two versions of the code byte for byte.

    python bench/trace_answers.py --keep /tmp/h OUT                       # the SQLite database kept in /tmp/h
    python bench/trace_answers.py --db-url postgresql+psycopg://... OUT
    cmp OUT-before OUT-after

Every report of the database is traced once (each window's verdict is then kept, as in a serving process), then
answered with several samples (reading counts and seeds, an explicit seed each, and the largest one an API caller
may give), every reading of two reports, and a report that does not exist: one line per request, the JSON bytes
`GET /api/v1/audit/reports/{id}/trace` writes (the endpoint's function over the use case, as a regulator sees
it; authentication and the index's head check are left out: nothing is indexed meanwhile). Nothing is timed. The
last line printed is one JSON object: the number of answers and the SHA-256 of the file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from ledger_core.db.models import ChainReport
from ledger_core.db.session import make_engine, session_factory
from ledger_service.api.routers import audit as router
from ledger_service.services.audit import AuditService
from ledger_service.services.errors import Refusal
from ledger_service.services.visibility import IndexedViews

SAMPLES = ((4, 7), (9, 12345), (0, 99), (50, 3), (1, 2**63 - 1))  # (readings, seed)


class _Indexed:
    """The index as the answers need it: already at the head (nothing is indexed while they are written)."""

    def index_up_to_date(self) -> int:
        return 0


def answers(url: str) -> list[str]:
    engine = make_engine(url)
    sessions = session_factory(engine)
    audit = AuditService(None, None, engine, None, None, IndexedViews(_Indexed(), sessions), None)  # type: ignore[arg-type]
    services: Any = SimpleNamespace(audit=audit)
    regulator: Any = SimpleNamespace(address="0x0", member=SimpleNamespace(org_id=1, roles=("REGULATOR",)))

    def answer(report_id: int, readings: int = 4, seed: int | None = None, every: bool = False) -> str:
        try:
            body = router.report_trace(report_id, regulator, services, readings, False, seed, every).body
            return bytes(body).decode()
        except Refusal as exc:
            return f"refused {exc.status} {exc.code} {exc.message}"

    with sessions() as session:
        ids = sorted(session.scalars(select(ChainReport.report_id)))
    for report_id in ids:
        answer(report_id)  # rebuilds each window once; its verdict is kept from then on
    lines = [f"{i} readings={n} seed={seed} {answer(i, n, seed)}" for i in ids for n, seed in SAMPLES]
    lines += [f"{i} all {answer(i, 4, 5, every=True)}" for i in ids[:2]]
    lines.append(f"missing {answer(10**12)}")
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--keep", type=Path, help="a directory `bench/trace_latency.py --keep` built (its SQLite file)")
    where.add_argument("--db-url", help="a database URL (SQLite or PostgreSQL) holding an indexed history")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    url = args.db_url or f"sqlite:///{args.keep.resolve() / 'trace.db'}"
    text = "\n".join(answers(url)) + "\n"
    args.out.write_text(text)
    print(json.dumps({"answers": text.count("\n"), "sha256": hashlib.sha256(text.encode()).hexdigest()}))


if __name__ == "__main__":
    main()

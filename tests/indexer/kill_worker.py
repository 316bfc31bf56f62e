"""A separate indexer process for the kill tests: indexes a node's suite and, at the N-th
`after_fetch` or `after_table` point, writes a marker file and waits to be killed.

    python -m tests.indexer.kill_worker RPC_URL DATABASE_URL DEPLOYMENT_JSON POINT N MARKER RANGE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ledger_core.chain.compiler import build
from ledger_core.chain.deploy import Deployment
from ledger_core.db.session import make_engine
from ledger_service.indexer.catalog import EventCatalog
from ledger_service.indexer.indexer import EventIndexer, IndexHooks
from ledger_service.indexer.source import RpcSource


def main() -> None:
    url, database, deployment_file, point, n, marker, range_size = sys.argv[1:]
    deployment = Deployment.from_json(json.loads(Path(deployment_file).read_text()))
    calls = {"n": 0}

    def stop_here(*_args: object) -> None:
        calls["n"] += 1
        if calls["n"] == int(n):
            Path(marker).write_text(point)
            time.sleep(600)

    hooks = IndexHooks(**{point: stop_here})
    indexer = EventIndexer(make_engine(database), RpcSource(url), EventCatalog(build(), deployment.addresses),
                           confirmations=0, range_size=int(range_size), start_block=deployment.block, hooks=hooks)
    indexer.sync()


if __name__ == "__main__":
    main()

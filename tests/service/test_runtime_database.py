"""Which database a runtime opens: the embedded chain's default database lives and dies with its run."""

from __future__ import annotations

from pathlib import Path

from ledger_core.config import Settings
from ledger_service.runtime import _database_url


def test_an_embedded_run_without_a_configured_database_gets_a_fresh_one_in_the_data_dir(tmp_path: Path):
    url = _database_url(Settings(chain="embedded", data_dir=tmp_path, database_url=None))
    assert url.startswith(f"sqlite:///{tmp_path / 'embedded'}/") and url.endswith("/carbonledger.db")
    assert url != f"sqlite:///{tmp_path / 'carbonledger.db'}"


def test_a_configured_database_or_a_node_keeps_its_database(tmp_path: Path):
    assert _database_url(Settings(chain="embedded", database_url="sqlite:///x.db")) == "sqlite:///x.db"
    node = Settings(chain="http://127.0.0.1:8545", data_dir=tmp_path, database_url=None)
    assert _database_url(node) == f"sqlite:///{tmp_path / 'carbonledger.db'}"

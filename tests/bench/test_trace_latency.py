"""The trace benchmark's kept history: built once into a directory, served again only for the same sizes, and only
over a database that outlives the run."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bench.trace_latency import SIZES, add_history_arguments, kept_history, main


def sizes(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_history_arguments(parser)
    return parser.parse_args(list(argv))


def test_a_kept_history_of_other_sizes_is_refused_before_any_node_starts(tmp_path: Path):
    kept = sizes("--readings", "200000", "--transfers", "20000")
    (tmp_path / "history.json").write_text(json.dumps({
        "sizes": {k: getattr(kept, k) for k in SIZES}, "events": 1, "head": 1, "transfers_mined": 1}))
    engine = create_engine(f"sqlite:///{tmp_path / 'trace.db'}")
    with pytest.raises(SystemExit, match="holds a history of"):
        kept_history(engine, sizes("--readings", "1000000", "--transfers", "20000"), random.Random(1), tmp_path)
    assert not (tmp_path / "anvil-state.serving.json").exists()


def test_a_throwaway_postgresql_cannot_keep_a_history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(sys, "argv", ["trace_latency.py", "--pg", "--keep", str(tmp_path)])
    with pytest.raises(SystemExit) as refused:
        main()
    assert refused.value.code == 2

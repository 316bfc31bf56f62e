"""The story on the test ledger, indexed into a database that also holds its meter data."""

from __future__ import annotations

import pytest

from tests.indexer.conftest import index_engine, indexer_for, make_indexer, session  # noqa: F401
from tests.support.story import Story, tell_story


@pytest.fixture
def story(ledger, session, index_engine) -> Story:  # noqa: F811
    told = tell_story(ledger, session)
    indexer_for(ledger, index_engine).sync()
    return told

"""Factor sets chosen by the reading's time: dated sets, the override, no valid set, Nm3, the file's checks."""

from __future__ import annotations

import copy
import json
from itertools import pairwise

import pytest
from sqlalchemy import select

from ledger_core.db.models import MeterBatch, QuarantinedReading, Reading
from oracles.batches import build_closed_batches
from oracles.canonical import factor_set_hash
from oracles.emissions import value_reading
from oracles.factors import FACTOR_SETS_FILE, FactorChoice, factor_choice, load_factor_sets, parse_factor_sets
from oracles.ingest import ingest_messages
from oracles.proofs import prove_reading
from oracles.quarantine import QuarantineReason
from tests.oracles.helpers import device, kwh, signed

HOUR, WEEK = 3600, 7 * 86400
NEW_YEAR_2023 = 1_672_531_200  # 2023-01-01T00:00:00Z
NOW = 1_700_000_000  # November 2023: every reading below is in the past


def _ingest(session, messages, choice, window=HOUR):
    summary = ingest_messages(session, messages, factor_set=choice, window_seconds=window, now=NOW)
    session.commit()
    return summary


def _readings(session):
    return session.scalars(select(Reading).order_by(Reading.id)).all()


def test_readings_either_side_of_new_year_are_valued_with_their_own_years_set(session, registered):
    """100 kWh at 23:59 on 31 Dec 2022 x 0.5366 = 53.66 kg; at 00:00 on 1 Jan 2023 x 0.5306 = 53.06 kg."""
    dev = device(registered, carrier="electricity")
    message = signed(registered, dev, kwh(1, NEW_YEAR_2023 - 60, "100"), kwh(2, NEW_YEAR_2023, "100"))
    summary = _ingest(session, [message], factor_choice())
    assert summary.accepted == 2 and summary.quarantined_total == 0
    before, after = _readings(session)
    assert (before.factor_set, before.value_mg) == ("CN-2022-v1", 53_660_000)
    assert (after.factor_set, after.value_mg) == ("CN-2023-v1", 53_060_000)
    batches = session.scalars(select(MeterBatch).order_by(MeterBatch.window_start)).all()
    assert [b.factor_set for b in batches] == ["CN-2022-v1", "CN-2023-v1"]  # each anchor's factorSetId
    build_closed_batches(session, NEW_YEAR_2023 + HOUR)
    for reading, set_id in ((before, "CN-2022-v1"), (after, "CN-2023-v1")):
        proof = prove_reading(session, reading.id)
        assert proof.record.factor_set_hash == factor_set_hash(set_id)  # the record commits the reading's set
        assert proof.verify() is not None


def test_a_weekly_window_across_new_year_commits_each_readings_own_set(session, registered):
    """The week from Thursday 29 Dec 2022 holds readings of both years: each record carries its own set,
    the anchor's factorSetId is the set at the window's start, and the SQL row lists both."""
    dev = device(registered, carrier="electricity")
    message = signed(registered, dev, kwh(1, NEW_YEAR_2023 - 86400, "100"), kwh(2, NEW_YEAR_2023 + 86400, "100"))
    _ingest(session, [message], factor_choice(), window=WEEK)
    batch = session.scalars(select(MeterBatch)).one()
    assert batch.window_start == NEW_YEAR_2023 - 3 * 86400 and batch.factor_set == "CN-2022-v1"
    (built,) = build_closed_batches(session, batch.window_end)
    assert built.factor_sets == ("CN-2022-v1", "CN-2023-v1")
    assert session.get(MeterBatch, batch.id).factor_sets == "CN-2022-v1,CN-2023-v1"
    first, second = _readings(session)
    assert [first.value_mg, second.value_mg] == [53_660_000, 53_060_000]
    proof = prove_reading(session, second.id)
    assert proof.record.factor_set_hash == factor_set_hash("CN-2023-v1")
    assert proof.verify() is not None


def test_the_configured_set_overrides_the_choice_by_date(session, registered):
    dev = device(registered, carrier="electricity")
    message = signed(registered, dev, kwh(1, NEW_YEAR_2023 - 60, "100"), kwh(2, NEW_YEAR_2023, "100"))
    _ingest(session, [message], factor_choice("CN-2023-v1"))
    assert [(r.factor_set, r.value_mg) for r in _readings(session)] == [("CN-2023-v1", 53_060_000)] * 2


def test_a_reading_no_dated_set_covers_is_quarantined_with_the_reason(session, registered):
    dev = device(registered, carrier="electricity")
    june_2020 = 1_590_969_600  # 2020-06-01T00:00:00Z, before the first dated set
    summary = _ingest(session, [signed(registered, dev, kwh(1, june_2020), kwh(2, NEW_YEAR_2023))], factor_choice())
    assert summary.accepted == 1
    assert summary.quarantined == {QuarantineReason.NO_VALID_FACTOR_SET: 1}
    (row,) = session.scalars(select(QuarantinedReading)).all()
    assert row.reason == "no_valid_factor_set" and row.timestamp == june_2020
    assert "no factor set is valid at 2020-06-01T00:00:00Z" in row.detail
    assert "CN-2021-v1 [2021-01-01T00:00:00Z, 2022-01-01T00:00:00Z)" in row.detail


def test_the_choice_ends_where_the_last_dated_set_ends():
    choice = factor_choice()
    last = max(choice.dated, key=lambda f: f.valid_from or 0)
    assert last.valid_until is not None
    assert choice.at(last.valid_until - 1) is last and choice.at(last.valid_until) is None
    assert FactorChoice.of(last).at(0) is last  # an override values every time


def test_nm3_and_m3_give_the_same_value_and_the_same_committed_unit(session, registered):
    sets = load_factor_sets()
    fs = sets["CN-2023-v1"]
    assert value_reading("100", "Nm3", "natural_gas", fs) == value_reading("100", "m3", "natural_gas", fs)
    assert value_reading("100", "Nm3", "natural_gas", fs).value_mg == 216_218_881
    gas = device(registered, carrier="natural_gas")
    message = signed(registered, gas, kwh(1, NEW_YEAR_2023, "100", "m3", "natural_gas"),
                     kwh(2, NEW_YEAR_2023 + 60, "100", "Nm3", "natural_gas"))
    summary = _ingest(session, [message], factor_choice())
    assert summary.accepted == 2
    first, second = _readings(session)
    assert first.unit == second.unit == "Nm3"  # `m3` is committed as its canonical spelling
    assert first.value_mg == second.value_mg == 216_218_881


def _file():
    return json.loads(FACTOR_SETS_FILE.read_text())


def test_the_shipped_file_dates_every_chosen_set_without_overlap_and_marks_its_placeholders():
    sets = parse_factor_sets(_file())
    dated = sorted((f for f in sets.values() if f.dated), key=lambda f: f.valid_from or 0)
    assert [f.id for f in dated] == ["CN-2021-v1", "CN-2022-v1", "CN-2023-v1", "CN-2024-v1"]
    assert all(f.source for f in dated)
    for earlier, later in pairwise(dated):
        assert earlier.valid_until == later.valid_from  # contiguous years, no gap, no overlap
    placeholders = {c for f in sets.values() for c, factor in f.factors.items() if factor.placeholder}
    assert placeholders == {"heat", "natural_gas"}
    assert sets["CN-2023-v1"].factors["natural_gas"].unit == "kgCO2/Nm3"


def _with(edit):
    data = copy.deepcopy(_file())
    edit({s["id"]: s for s in data["factor_sets"]})
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s["CN-2022-v1"].update(valid_until="2023-01-01T00:00:01Z"), "overlap"),
        (lambda s: s["CN-2023-AR6-v1"].update(valid_from="2023-06-01T00:00:00Z",
                                              valid_until="2023-07-01T00:00:00Z"), "overlap"),
        (lambda s: s["CN-2022-v1"].pop("valid_until"), "both valid_from and valid_until"),
        (lambda s: s["CN-2022-v1"].update(valid_from="2022-01-01T08:00:00+08:00"), "must be UTC"),
        (lambda s: s["CN-2022-v1"].update(valid_from="2022-01-01T00:00:00"), "must be UTC"),
        (lambda s: s["CN-2022-v1"].update(valid_from="1 Jan 2022"), "not an ISO 8601 instant"),
        (lambda s: s["CN-2022-v1"].update(valid_until="2021-06-01T00:00:00Z"), "not after valid_from"),
        (lambda s: s["CN-2022-v1"].pop("source"), "names its source"),
    ],
)
def test_the_file_is_refused_when_its_validity_periods_are_wrong(edit, message):
    with pytest.raises(ValueError, match=message):
        parse_factor_sets(_with(edit))


def test_overlapping_periods_are_allowed_only_across_regions():
    def other_region(sets):
        sets["CN-2023-AR6-v1"].update(region="CN-GD", valid_from="2023-01-01T00:00:00Z",
                                      valid_until="2024-01-01T00:00:00Z")

    parsed = parse_factor_sets(_with(other_region))
    choice = FactorChoice.by_date(parsed, region="CN-GD")
    assert choice.at(NEW_YEAR_2023).id == "CN-2023-AR6-v1"  # type: ignore[union-attr]
    assert FactorChoice.by_date(parsed).at(NEW_YEAR_2023).id == "CN-2023-v1"  # type: ignore[union-attr]

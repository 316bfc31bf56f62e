"""The console's catalogues and code: both languages have every message with the same fields, every message a
template or page asks for exists, and the pages hold no SQL, no commit and no chain call (they call use cases)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from ledger_core.assets import tradeable_names
from ledger_service.console.i18n import LANGUAGES, Locale, catalogue
from ledger_service.console.trading import DONE
from ledger_service.emissions import ReportStatus
from ledger_service.market import ORDER_STATUS
from ledger_service.membership import MemberStatus, OrgKind
from ledger_service.services.members import SANCTIONS
from tests.test_layering import importing, python_files, router_findings

CONSOLE = Path(__file__).resolve().parents[2] / "ledger_service" / "console"
TEMPLATES = sorted((CONSOLE / "templates").glob("*.html"))
STATIC_KEY = re.compile(r"""\bt\(\s*["']([a-zA-Z0-9_.-]+)["']\s*[,)]""")
DYNAMIC_KEY = re.compile(r"""\bt\(\s*["']([a-zA-Z0-9_.-]+)["']\s*~""")
# Every key a template builds from a value, by its prefix: the values it can take.
DYNAMIC: dict[str, list[str]] = {
    "language.": list(LANGUAGES),
    "error.": ["403", "404", "409", "422", "429"],
    "level.": ["park", "park_facilities", "enterprise", "facility", "workshop", "device", "period"],
    "report.": [s.name.lower() for s in ReportStatus],
    "member.": [s.name.lower() for s in MemberStatus],
    "org.kind_": [k.name.lower() for k in OrgKind],
    "members.do_": list(SANCTIONS),
    "market.asset.": list(tradeable_names()),
    "market.token.": list(tradeable_names()),
    "market.status.": list(ORDER_STATUS.values()),
    "market.done.": list(DONE),
}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_have_the_same_keys_and_fields():
    english, chinese = catalogue("en"), catalogue("zh-CN")
    assert set(english) == set(chinese)
    for key in english:
        assert english[key].strip() and chinese[key].strip(), key
        if not key.startswith("format."):  # a date's layout picks the fields its language writes
            assert fields(english[key]) == fields(chinese[key]), key


def used_keys() -> tuple[set[str], set[str]]:
    static: set[str] = set()
    dynamic: set[str] = set()
    for path in [*TEMPLATES, *python_files(CONSOLE)]:
        text = path.read_text(encoding="utf-8")
        static |= set(STATIC_KEY.findall(text))
        dynamic |= set(DYNAMIC_KEY.findall(text))
    return static, dynamic


def test_every_message_a_page_asks_for_is_in_the_catalogues():
    static, dynamic = used_keys()
    assert len(static) > 100  # the pattern finds the pages' messages
    assert dynamic <= set(DYNAMIC), f"describe the values of {dynamic - set(DYNAMIC)} in DYNAMIC"
    wanted = static | {prefix + value for prefix, values in DYNAMIC.items() for value in values}
    wanted |= {f"month.{m}" for m in range(1, 13)} | {"status.open", "status.shortfall", "status.compliant"}
    for language in LANGUAGES:
        missing = wanted - set(catalogue(language))
        assert not missing, f"{language} lacks {sorted(missing)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_quantities_carry_their_units_and_dates_their_locale(language: str):
    loc = Locale(language)
    assert loc.tonnes(1_234_567) == "1,234,567 tCO2e"
    assert loc.tonnes_mg(1_500_000_000_500) == "1,500.000 tCO2e"  # half-even, once, for display
    assert loc.kg_mg(936_322_000) == "936.322 kgCO2e"
    assert loc.committed(765, "generation_meter") == "765 Wh"
    assert loc.quantity("48.076", "Nm3") == "48.076 Nm3"
    expected = {"en": "29 Jan 2025, 23:00 UTC", "zh-CN": "2025年1月29日 23:00 UTC"}[language]
    assert loc.when(1_738_191_600) == expected


def test_the_console_calls_use_cases_and_holds_no_sql_commit_or_chain_call():
    # The application's wiring hands the session store its database, as the API's app does for idempotency keys.
    found = [f for path in python_files(CONSOLE) for f in router_findings(path)
             if not (f.startswith("ledger_service/console/app.py:") and f.endswith("uses runtime.sessions (a use case "
                                                                                   "receives it)"))]
    assert not found, "a page calls a use case, as a router does:\n" + "\n".join(found)
    assert not importing([CONSOLE], "ledger_service.api.routers")


def test_each_explained_refusal_is_a_code_the_ledger_gives():
    # A contract's custom error (decoded by name) or a code a use case, the API or the console refuses with.
    sources = [*Path(CONSOLE.parents[1], "contracts").rglob("*.sol"), *python_files(CONSOLE.parent)]
    openzeppelin = Path(CONSOLE.parents[1], "node_modules", "@openzeppelin", "contracts", "interfaces",
                        "draft-IERC6093.sol")
    text = "\n".join(p.read_text(encoding="utf-8") for p in [*sources, openzeppelin] if p.exists())
    codes = [key.removeprefix("refusal.") for key in catalogue("en") if key.startswith("refusal.")
             and key not in ("refusal.explained", "refusal.detail")]
    assert len(codes) >= 20
    unknown = [c for c in codes if f"error {c}(" not in text and f'"{c}"' not in text]
    assert not unknown, f"no contract error or refusal is called {unknown}"
    assert Locale("zh-CN").explain("NotYourData") == catalogue("zh-CN")["refusal.NotYourData"]
    assert Locale("en").explain("SomethingUnexplained") is None


def test_every_table_header_names_its_scope():
    headers = [(path.name, tag) for path in TEMPLATES
               for tag in re.findall(r"<th[ >][^>]*>", path.read_text(encoding="utf-8"))]
    assert len(headers) > 20
    assert [h for h in headers if "scope=" not in h[1]] == []

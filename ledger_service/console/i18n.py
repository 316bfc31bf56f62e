"""The console's languages: every string from a message catalogue (`messages/<language>.json`), numbers and dates
formatted per locale, and units always written beside their quantity.

Catalogue values are `str.format` templates (`{name}` fields). Quantities are ints or Decimal, never floats:
mgCO2e become tCO2e (10^9) or kgCO2e (10^6) exactly, then round half-even once, for display only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path

from oracles.measures import DeviceKind

MESSAGES = Path(__file__).parent / "messages"
LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
MG_PER_TONNE = 10**9
MG_PER_KG = 10**6


@cache
def catalogue(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES / f"{language}.json").read_text(encoding="utf-8"))
    return data


def choose(*candidates: str | None, accept: str = "") -> str:
    """The first supported language among `candidates`, else the browser's (`Accept-Language`), else English."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Locale:
    language: str

    @property
    def html_lang(self) -> str:
        return self.language

    def t(self, key: str, **fields: object) -> str:
        """The message `key` in this language (a missing key shows itself, and a test keeps the catalogues
        complete)."""
        text = catalogue(self.language).get(key, key)
        return text.format(**fields) if fields else text

    def explain(self, code: str) -> str | None:
        """What a refusal's code means, in this language, where the catalogue explains it (`refusal.<code>`): the
        use case's own message, in English, is shown beside it."""
        return catalogue(self.language).get(f"refusal.{code}")

    def number(self, value: int | Decimal, places: int = 0) -> str:
        """Grouped digits; both catalogued locales group by thousands with ',' and use '.' for decimals (CLDR)."""
        if places:
            exact = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
            return f"{exact:,.{places}f}"
        return f"{int(value):,}"

    def tonnes(self, whole: int) -> str:
        return self.t("unit.tco2e", value=self.number(whole))

    def tonnes_mg(self, mg: int) -> str:
        return self.t("unit.tco2e", value=self.number(Decimal(mg) / MG_PER_TONNE, 3))

    def kg_mg(self, mg: int) -> str:
        return self.t("unit.kgco2e", value=self.number(Decimal(mg) / MG_PER_KG, 3))

    def committed(self, value: int, device_kind: str) -> str:
        """What a reading commits: mgCO2e for an emission meter, whole Wh produced for a generation meter."""
        if device_kind == DeviceKind.GENERATION_METER:
            return self.t("unit.wh", value=self.number(value))
        return self.kg_mg(value)

    def quantity(self, canonical: str, unit: str) -> str:
        """A reading's quantity as recorded (a canonical decimal) with its unit."""
        return f"{self.number(Decimal(canonical), max(0, -Decimal(canonical).as_tuple().exponent))} {unit}"  # type: ignore[operator]

    def when(self, moment: datetime | int | None) -> str:
        """A UTC instant, written the locale's way."""
        if moment is None:
            return "—"
        at = datetime.fromtimestamp(moment, UTC) if isinstance(moment, int) else moment.astimezone(UTC)
        return self.t("format.datetime", year=at.year, month=at.month, day=at.day, hour=f"{at.hour:02d}",
                      minute=f"{at.minute:02d}", month_name=self.t(f"month.{at.month}"))

    def month(self, year: int, month: int) -> str:
        return self.t("format.month", year=year, month=month, month_name=self.t(f"month.{month}"))

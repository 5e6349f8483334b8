"""Exact figures: points, totals and rates as fractions, rounded once, at publication.

Every figure a decision uses (an item's points combined over assessors, a category
subtotal, a total, a rate, a mean over several totals) is a :class:`fractions.Fraction`
computed without rounding. A figure is written down in two forms (docs/rules.md §1):

- **exact**: the canonical fraction, ``numerator/denominator`` in lowest terms with a
  positive denominator, or the integer alone when the denominator is 1 (``481/6``, ``80``,
  ``-3/4``);
- **published**: the figure as the rubric's publication rule prints it, a decimal with a
  fixed number of places (``80.17``), rounded once from the exact value.

Comparisons against a line use the exact value unless the rubric's publication rule says
that comparisons use the published figure.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: the arithmetic a derivation was made with; recorded in every decision since exact figures
ARITHMETIC = "exact-1"
#: decisions recorded without an ``arithmetic`` mark were made with item means rounded to
#: 4 decimals (half up) before adding up, and rates rounded the same way
LEGACY_ARITHMETIC = "decimal-4"

_FRACTION = re.compile(r"^-?(0|[1-9][0-9]*)(/[1-9][0-9]*)?$")


class Publication(BaseModel):
    """How a rubric publishes its figures (公布口径): decimal places, the rounding rule and
    whether comparisons against a line use the exact value or the published figure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    places: int = Field(default=2, ge=0, le=6, description="Decimal places of published figures")
    rounding: Literal["half_up", "half_even", "down"] = Field(
        default="half_up", description="half_up: 四舍五入; half_even: banker's rounding; down: truncation toward zero"
    )
    compare: Literal["exact", "published"] = Field(
        default="exact", description="exact: lines compare the exact value; published: the published figure"
    )


#: the publication rule of a rubric that declares none
DEFAULT_PUBLICATION = Publication()


def exact(value: Any) -> Fraction:
    """``value`` as an exact fraction: an int, Fraction, Decimal, or a string in canonical
    fraction or plain decimal spelling (``"481/6"``, ``"79.5"``). Floats are refused."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{value!r} is not an exact number")
    if isinstance(value, (int, Decimal)):
        return Fraction(value)
    if isinstance(value, str):
        return _parsed(value)
    raise TypeError(f"{value!r} is not an exact number")


@lru_cache(maxsize=8192)
def _parsed(text: str) -> Fraction:
    # recorded points repeat a few spellings ("0", "0.5", … "3"): each is parsed once
    return Fraction(Decimal(text)) if "/" not in text else Fraction(text)


def canonical(value: Fraction | int) -> str:
    """The canonical fraction spelling: ``481/6``; ``80`` when the denominator is 1."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def is_canonical(text: str) -> bool:
    """Whether ``text`` is a canonical fraction spelling (lowest terms, no sign on the
    denominator, no leading zeros)."""
    return bool(_FRACTION.match(text)) and canonical(Fraction(text)) == text


def published(value: Fraction | int, rule: Publication = DEFAULT_PUBLICATION) -> str:
    """``value`` rounded once by ``rule``: a decimal with exactly ``rule.places`` places.

    Rounding works on the exact value (no intermediate decimal): half_up rounds a tie away
    from zero, half_even to the even last digit, down toward zero."""
    value = Fraction(value)
    scaled = abs(value) * 10**rule.places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if rule.rounding == "half_up" and twice >= scaled.denominator and rest:
        whole += 1
    elif rule.rounding == "half_even" and (twice > scaled.denominator or (twice == scaled.denominator and whole % 2)):
        whole += 1
    digits = str(whole).rjust(rule.places + 1, "0")
    text = f"{digits[: len(digits) - rule.places]}.{digits[len(digits) - rule.places:]}" if rule.places else digits
    return f"-{text}" if value < 0 and whole else text


def compared(value: Fraction, rule: Publication = DEFAULT_PUBLICATION) -> Fraction:
    """The value a line is compared with: the exact value, or the published figure when the
    rubric's publication rule says so."""
    return value if rule.compare == "exact" else Fraction(Decimal(published(value, rule)))


def figure(value: Fraction | int | None, rule: Publication = DEFAULT_PUBLICATION) -> dict[str, str] | None:
    """A figure as a derivation records it: ``{"exact": "481/6", "published": "80.17"}``."""
    if value is None:
        return None
    return {"exact": canonical(value), "published": published(value, rule)}


def rate_figure(value: Fraction | None, rule: Publication = DEFAULT_PUBLICATION) -> dict[str, str] | None:
    """A rate (a fraction of 1) as a derivation records it: exact as a fraction of 1,
    published as a percentage with the rule's places: ``{"exact": "17/19", "published": "89.47%"}``."""
    if value is None:
        return None
    return {"exact": canonical(value), "published": published(Fraction(value) * 100, rule) + "%"}


def shown(recorded: Any) -> str | None:
    """A figure as a derivation recorded it, as every interface shows it: the published
    figure; a decision recorded before exact arithmetic shows its decimal as recorded."""
    if recorded is None:
        return None
    if isinstance(recorded, dict):
        return recorded.get("published")
    return str(recorded)


def number(value: Fraction | int) -> str:
    """A line or parameter as written in the rubric (a decimal, without trailing zeros when
    it terminates; the canonical fraction otherwise): ``80``, ``0.9``, ``2/3``."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return canonical(value)
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- aggregations over assessors (docs/rules.md §2) -----------------------------------------


def mean(points: list[Fraction]) -> Fraction:
    """Arithmetic mean: the sum divided by the count (points given as Decimals or ints are
    taken exactly)."""
    return sum((exact(p) for p in points), Fraction(0)) / len(points)


def median(points: list[Fraction]) -> Fraction:
    """The middle value of the sorted points; for an even count, the mean of the two middle ones."""
    ordered = sorted(exact(p) for p in points)
    n = len(ordered)
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def trimmed_mean(points: list[Fraction], drop: int, min_count: int) -> Fraction:
    """With at least ``min_count`` points: the mean after dropping the ``drop`` highest and
    the ``drop`` lowest; with fewer, the plain mean."""
    if len(points) < min_count or drop == 0:
        return mean(points)
    ordered = sorted(exact(p) for p in points)
    return mean(ordered[drop : len(ordered) - drop])

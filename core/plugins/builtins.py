"""What the core provides to every rubric, registered like any plugin under the name
``core``: the aggregations ``mean`` and ``median`` and the decision styles ``threshold``,
``checklist-by-type`` and ``quota-ranking`` (:mod:`core.styles`)."""

from __future__ import annotations

from decimal import Decimal
from statistics import median

from core.plugins import hookimpl
from core.plugins.types import Aggregation, DecisionStyle


def _mean(points: list[Decimal]) -> Decimal:
    return sum(points, Decimal(0)) / len(points)


def _median(points: list[Decimal]) -> Decimal:
    return Decimal(median(points))


@hookimpl
def civic_aggregations() -> list[Aggregation]:
    return [
        Aggregation("mean", _mean, "arithmetic mean of the assessors' points (平均分)"),
        Aggregation("median", _median, "median of the assessors' points (中位数)"),
    ]


@hookimpl
def civic_decision_styles() -> list[DecisionStyle]:
    # imported here, not at the top: core.styles needs core.plugins.types, and importing
    # core.plugins loads this module
    from core.styles import BUILTIN_STYLES

    return list(BUILTIN_STYLES)

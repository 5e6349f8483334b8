"""Aggregations every rubric can use; registered like any plugin under the name ``core``."""

from __future__ import annotations

from decimal import Decimal
from statistics import median


from core.plugins.types import Aggregation

from core.plugins import hookimpl


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

"""What the core provides to every rubric, registered like any plugin under the name
``core``: the aggregations ``mean``, ``median`` and ``trimmed_mean`` (exact, docs/rules.md
§2) and the decision styles ``threshold``, ``checklist-by-type`` and ``quota-ranking``
(:mod:`core.styles`)."""

from __future__ import annotations

from core.exact import mean, median, trimmed_mean
from core.plugins import hookimpl
from core.plugins.types import Aggregation, DecisionStyle

#: the aggregations built into the core; their definitions are docs/rules.md §2
BUILT_IN_AGGREGATIONS = {
    "mean": Aggregation("mean", mean, "arithmetic mean of the assessors' points, exact (平均分)"),
    "median": Aggregation("median", median, "median of the assessors' points; of an even count, the mean of the two middle ones (中位数)"),
    "trimmed_mean": Aggregation(
        "trimmed_mean", trimmed_mean,
        "with at least min_count points, the mean after dropping the drop highest and drop lowest (去掉最高分、最低分后取平均)",
    ),
}


@hookimpl
def civic_aggregations() -> list[Aggregation]:
    return list(BUILT_IN_AGGREGATIONS.values())


@hookimpl
def civic_decision_styles() -> list[DecisionStyle]:
    # imported here, not at the top: core.styles needs core.plugins.types, and importing
    # core.plugins loads this module
    from core.styles import BUILTIN_STYLES

    return list(BUILTIN_STYLES)

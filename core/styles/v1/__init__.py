"""The decision styles and evidence as they were before exact arithmetic (style version
``1``, arithmetic ``decimal-4``), kept unchanged so that decisions recorded with them are
recomputed exactly as they were made (docs/rules.md §7).

Under this arithmetic each item's points were combined over assessors and rounded to 4
decimal places (half up) before the subtotals and the total were added up, and the
satisfaction and participation rates were rounded the same way. Nothing here is used for
new decisions: :mod:`core.styles` holds the styles in force.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Any

from core.plugins.types import CandidateEvidence
from core.rubric import Rubric
from core.styles.v1.checklist import ChecklistByTypeStyle
from core.styles.v1.quota import QuotaRankingStyle
from core.styles.v1.threshold import ThresholdStyle

PLACES = Decimal("0.0001")

#: the styles of version 1 by name
STYLES = {style.name: style for style in (ThresholdStyle(), ChecklistByTypeStyle(), QuotaRankingStyle())}


def _q(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def _mean(points: list[Decimal]) -> Decimal:
    return sum(points, Decimal(0)) / len(points)


def _median(points: list[Decimal]) -> Decimal:
    return Decimal(median(points))


#: the aggregations of the core under this arithmetic; another name is a plugin's
AGGREGATIONS = {"mean": _mean, "median": _median}


def _subtotals(rubric: Rubric, item_points: dict[str, Decimal]) -> tuple[dict[str, Decimal], Decimal]:
    per_category = {
        cat.id: sum((item_points.get(i.id, Decimal(0)) for i in cat.items), Decimal(0)) for cat in rubric.categories
    }
    return per_category, sum(per_category.values(), Decimal(0))


def _combined(rubric: Rubric, sheets: dict[str, dict[str, str]], combine: Any) -> tuple[dict[str, Decimal], list[str]]:
    ordered = [sheet for _, sheet in sorted(sheets.items())]
    points: dict[str, Decimal] = {}
    missing = []
    for item in rubric.items():
        given = [Decimal(sheet[item.id]) for sheet in ordered if item.id in sheet]
        if given:
            points[item.id] = _q(Decimal(combine(given)))
        else:
            missing.append(item.id)
    return points, missing


def evidence(rubric: Rubric, candidacy: Any, community: Any, combine: Any) -> CandidateEvidence:
    """A candidacy's evidence as version 1 built it; ``combine`` is the rubric's
    aggregation over Decimals. Raises ``ValueError`` when an item has no official points
    (version 1 could not decide such a candidacy)."""
    if not isinstance(rubric.aggregation, str) or rubric.aggregation == "trimmed_mean":
        raise ValueError("a decision made before exact arithmetic cannot have used a trimmed mean (记录与评分标准不符)")
    official, missing = _combined(rubric, candidacy.scores["official"], combine)
    if missing:
        raise ValueError(f"{community.name}: official assessment incomplete; no official score for item(s) {', '.join(missing)}")
    per_category, total = _subtotals(rubric, official)
    application = {k: Decimal(v) for k, v in candidacy.application_scores.items()}
    self_sheet = _combined(rubric, candidacy.scores["self"], combine)[0] if candidacy.scores["self"] else application
    mock = _combined(rubric, candidacy.scores["mock"], combine)[0] if candidacy.scores["mock"] else None
    survey = None
    if candidacy.survey is not None:
        s = candidacy.survey
        survey = {
            **s,
            "satisfaction_rate": _q(Decimal(s["satisfied"] + s["basically_satisfied"]) / s["respondents"]),
            "participation_rate": _q(Decimal(s["households"]) / community.households) if community.households else None,
        }
    return CandidateEvidence(
        candidacy_id=str(candidacy.id),
        community_id=str(community.id),
        community_name=community.name,
        level=candidacy.level,
        item_points=official,
        subtotals=per_category,
        total=total,
        assessors=sorted(candidacy.scores["official"]),
        self_total=_subtotals(rubric, self_sheet)[1],
        mock_total=_subtotals(rubric, mock)[1] if mock is not None else None,
        application_total=_subtotals(rubric, application)[1],
        vetoes=sorted(candidacy.vetoes),
        survey=survey,
        objections=candidacy.objection_counts(),
        titles_held=community.held_levels(),
        facts=dict(candidacy.facts),
    )


def summary(evidence: CandidateEvidence) -> dict[str, Any]:
    """The plain summary version 1 recorded for a candidacy that was not on the notice."""
    from core.services.decisions import plain

    return plain(
        {
            "subtotals": evidence.subtotals,
            "total": evidence.total,
            "self_total": evidence.self_total,
            "mock_total": evidence.mock_total,
            "vetoes": evidence.vetoes,
            "survey": evidence.survey,
            "objections": evidence.objections,
            "titles_held": evidence.titles_held,
        }
    )

"""The rule kinds every built-in decision style shares (docs/rules.md §4), and the
judgement that records each check with exact figures.

A style's level rules (the rubric's ``rules`` overridden by the level's own) may carry any
of :class:`CommonRules`' fields; the style adds its own (a pass line, a checklist, a quota).
Each rule gives one check in the derivation: ``rule`` (its name), ``required``, ``actual``,
``passed`` and, when it failed, ``reason`` in Chinese and English.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.exact import canonical, compared, figure, number, published, rate_figure
from core.plugins.types import CandidateEvidence, Outcome
from core.rubric import Rubric


#: how a reason saying that a level's standard is provisional begins
PROVISIONAL_MARK = "暂行标准"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryFloor(_Strict):
    """A category's subtotal must reach ``min_points``, or ``min_share`` of the category's
    maximum (分项最低分); exactly one of the two."""

    category: str = Field(min_length=1)
    min_points: Decimal | None = Field(default=None, ge=0)
    min_share: Decimal | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_of(self) -> CategoryFloor:
        if (self.min_points is None) == (self.min_share is None):
            raise ValueError(f"category floor {self.category!r}: give exactly one of min_points and min_share")
        return self


class RequiredItem(_Strict):
    """An item whose official points must reach ``min_points`` (default: its maximum)."""

    item: str = Field(min_length=1)
    min_points: Decimal | None = Field(default=None, ge=0)


class CommonRules(_Strict):
    """Rules any built-in style accepts."""

    category_floors: list[CategoryFloor] = Field(default_factory=list, description="Per-category floors")
    required_items: list[str | RequiredItem] = Field(
        default_factory=list, description="Items that must reach a score: an id (its maximum) or {item, min_points}"
    )
    require_survey: bool = Field(default=True, description="A satisfaction survey must be recorded")
    min_satisfaction_rate: Decimal | None = Field(default=None, ge=0, le=1)
    exclusive_levels: list[list[str]] = Field(
        default_factory=list,
        description="Sets of levels, lowest first: a community is awarded at most one level of a set in one decision, the highest",
    )


def required_item_rules(rules: CommonRules) -> list[RequiredItem]:
    return [RequiredItem(item=r) if isinstance(r, str) else r for r in rules.required_items]


def validate_common(rubric: Rubric, level: str, rules: CommonRules, own: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the level and field when a common rule does not fit the rubric."""
    categories = {c.id: c for c in rubric.categories}
    for floor in rules.category_floors:
        if floor.category not in categories:
            raise ValueError(f"level {level!r}: rules.category_floors names {floor.category!r}; categories are {sorted(categories)}")
        if floor.min_points is not None and floor.min_points > categories[floor.category].max_points:
            raise ValueError(
                f"level {level!r}: rules.category_floors {floor.category!r}: min_points {floor.min_points} exceeds "
                f"the category's {categories[floor.category].max_points} points"
            )
    for req in required_item_rules(rules):
        try:
            item = rubric.item(req.item)
        except KeyError:
            raise ValueError(f"level {level!r}: rules.required_items names {req.item!r}, which is no item of the rubric") from None
        if req.min_points is not None and req.min_points > item.max_points:
            raise ValueError(f"level {level!r}: rules.required_items {req.item!r}: min_points {req.min_points} exceeds its {item.max_points} points")
    if "exclusive_levels" in own:
        raise ValueError(f"level {level!r}: exclusive_levels is a rubric-wide rule (rules.exclusive_levels), not a level's own")
    level_ids = [lv.id for lv in rubric.levels]
    seen: set[str] = set()
    for group in rules.exclusive_levels:
        if len(group) < 2 or len(set(group)) != len(group) or any(g not in level_ids for g in group):
            raise ValueError(f"rules.exclusive_levels: {group} must name two or more distinct levels of {level_ids}")
        if seen & set(group):
            raise ValueError(f"rules.exclusive_levels: level(s) {sorted(seen & set(group))} are in more than one set")
        seen |= set(group)


class Judgement:
    """The checks of one candidate at one level, with figures as the rubric publishes them."""

    def __init__(self, rubric: Rubric, c: CandidateEvidence, *, final: bool) -> None:
        self.rubric, self.c, self.final = rubric, c, final
        self.rule = rubric.published_as
        self.checks: list[dict[str, Any]] = []

    # -- recording ------------------------------------------------------------------------

    def add(self, rule: str, required: Any, actual: Any, passed: bool, reason: str, **extra: Any) -> bool:
        self.checks.append({"rule": rule, **extra, "required": required, "actual": actual, "passed": passed,
                            "reason": None if passed else reason})
        return passed

    def at_least(
        self, rule: str, zh: str, en: str, actual: Fraction | None, line: Decimal | Fraction, *, rate: bool = False,
        **extra: Any,
    ) -> bool:
        """``actual`` reaches ``line``, compared exactly or by the published figure as the
        rubric declares; the reason shows the published figure (and the exact value when
        the published figure alone would seem to reach the line)."""
        line = Fraction(line)
        scale = 100 if rate else 1
        unit = "%" if rate else ""
        if actual is None:
            return self.add(rule, number(line), None, False, f"无{zh} (no {en} recorded)", **extra, compared=self.rule.compare)
        passed = compared(actual * scale, self.rule) >= line * scale
        shown = published(actual * scale, self.rule) + unit
        wanted = number(line * scale) + unit
        exactly = canonical(actual)  # a rate exactly as a fraction of 1
        # the published figure alone would seem to reach the line: show the exact value too
        hidden = not passed and Fraction(Decimal(published(actual * scale, self.rule))) >= line * scale
        points = "" if rate else " 分"
        reason = (f"{zh} {shown}（精确值 {exactly}）低于 {wanted}{points} ({en} {shown}, exactly {exactly}, is below {wanted})"
                  if hidden else f"{zh} {shown} 低于 {wanted}{points} ({en} {shown} is below {wanted})")
        return self.add(rule, number(line), self.figure(actual, rate=rate), passed, reason,
                        **extra, compared=self.rule.compare)

    def figure(self, value: Fraction | None, *, rate: bool = False) -> dict[str, str] | None:
        if value is None:
            return None
        return rate_figure(value, self.rule) if rate else figure(value, self.rule)

    # -- the shared rules -----------------------------------------------------------------

    def evidence_complete(self) -> None:
        c = self.c
        self.add("assessment_complete", "complete", "complete" if not c.incomplete else "; ".join(c.incomplete),
                 not c.incomplete, "；".join(c.incomplete))

    def no_veto(self) -> None:
        vetoes = list(self.c.vetoes)
        self.add("no_veto", [], vetoes, not vetoes, f"一票否决项 {', '.join(vetoes)} (veto item(s) apply)")

    def common(self, rules: CommonRules) -> None:
        """Category floors, required items, survey and satisfaction rate, and (final) upheld objections."""
        c, rubric = self.c, self.rubric
        for floor in rules.category_floors:
            category = next(cat for cat in rubric.categories if cat.id == floor.category)
            line = Fraction(floor.min_points) if floor.min_points is not None else Fraction(floor.min_share) * Fraction(category.max_points)
            self.at_least(
                f"category_floor:{floor.category}", f"“{category.title}”得分", f"category {floor.category} subtotal",
                c.subtotals.get(floor.category), line,
                **({"share": number(floor.min_share)} if floor.min_share is not None else {}),
            )
        for req in required_item_rules(rules):
            item = rubric.item(req.item)
            line = req.min_points if req.min_points is not None else item.max_points
            self.at_least(f"item:{item.id}", f"第{item.id}项“{item.text}”得分", f"item {item.id}",
                          c.item_points.get(item.id), line, text=item.text, category=rubric.category_of(item.id).id)
        if rules.require_survey:
            self.add("survey_recorded", True, c.survey is not None, c.survey is not None,
                     "未进行满意度测评 (no satisfaction survey recorded)")
        if rules.min_satisfaction_rate is not None:
            rate = (c.survey or {}).get("satisfaction_rate")
            self.at_least("min_satisfaction_rate", "满意率", "satisfaction rate", rate, rules.min_satisfaction_rate, rate=True)
        if self.final:
            upheld = c.objections.get("upheld", 0)
            self.add("no_upheld_objection", 0, upheld, upheld == 0, f"公示期异议成立 {upheld} 项 ({upheld} objection(s) upheld)")

    # -- the verdict ----------------------------------------------------------------------

    @property
    def passed(self) -> bool:
        return all(ch["passed"] for ch in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [ch["reason"] for ch in self.checks if not ch["passed"]]


def evidence_figures(rubric: Rubric, c: CandidateEvidence) -> dict[str, Any]:
    """The evidence part every built-in style's derivation records, figures exact and published
    (and what the core records for a candidacy decided without being on the notice)."""
    rule = rubric.published_as
    survey = None
    if c.survey:
        survey = {k: v for k, v in c.survey.items() if k not in ("satisfaction_rate", "participation_rate")}
        survey["satisfaction_rate"] = rate_figure(c.survey.get("satisfaction_rate"), rule)
        survey["participation_rate"] = rate_figure(c.survey.get("participation_rate"), rule)
    return {
        "subtotals": {k: figure(v, rule) for k, v in c.subtotals.items()},
        "total": figure(c.total, rule),
        "max_total": number(rubric.max_total),
        "assessors": list(c.assessors),
        "self_total": figure(c.self_total, rule),
        "mock_total": figure(c.mock_total, rule),
        "vetoes": list(c.vetoes),
        "survey": survey,
        "objections": dict(c.objections),
        "titles_held": list(c.titles_held),
        "incomplete": list(c.incomplete),
        "publication": rule.model_dump(mode="json"),
    }


def exclusive(
    rubric: Rubric, sets: list[list[str]], candidates: list[CandidateEvidence], outcomes: dict[str, Outcome],
) -> dict[str, Outcome]:
    """Levels that exclude each other (docs/rules.md §4.6): of a community's candidacies
    named at levels of one set in this decision, only the highest level's stays named; the
    others fail the check ``exclusive_levels``."""
    for group in sets:
        by_community: dict[str, list[CandidateEvidence]] = {}
        for c in candidates:
            if c.level in group and outcomes[c.candidacy_id].named:
                by_community.setdefault(c.community_id, []).append(c)
        for named in by_community.values():
            if len(named) < 2:
                continue
            top = max(named, key=lambda c: group.index(c.level))
            label = rubric.level(top.level).label
            for c in named:
                if c is top:
                    continue
                reason = (f"同时获评同组更高级别{label}，一个社区同组只授予最高一级 "
                          f"(awarded the higher level {top.level} of the same set in this decision; one level per set)")
                check = {"rule": "exclusive_levels", "required": group, "actual": top.level, "passed": False, "reason": reason}
                before = outcomes[c.candidacy_id]
                derivation = {**before.derivation, "checks": [*before.derivation["checks"], check]}
                kept = [r for r in before.reasons if r.startswith(PROVISIONAL_MARK)]
                outcomes[c.candidacy_id] = dataclasses.replace(before, named=False, reasons=[reason, *kept], derivation=derivation)
    return outcomes

"""The checklist-by-type decision style (``checklist-by-type``, docs/rules.md §5.2): each level of the rubric is
a type (for instance a demonstration type, 示范类型), and a community is awarded a type
when assessors found every checklist item that type requires met, the quantitative facts
the type asks for still hold, and nothing vetoes it (no veto item; in the final decision,
no upheld objection).

Checklist items are scored 0 (not met) or 1 (met); an item counts as met when the official
points (the rubric's aggregation over assessors) reach its maximum. Each candidacy stands
for one type; types are judged independently, so a community may be awarded several.

Everything it checks comes from the rubric's ``rules`` and each level's own (see
:class:`LevelRules`); the Bazhong 示范 rubric of ``plugins/bazhong_demo`` is one example.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric
from core.styles.rules import PROVISIONAL_MARK, CommonRules, Judgement, evidence_figures, exclusive, validate_common

FACT_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactCondition(_Strict):
    """``fact`` (a count the application reports) is at least ``min``."""

    fact: str = Field(pattern=FACT_NAME)
    min: int = Field(ge=0)


class FactRequirement(_Strict):
    """A quantitative requirement met when any of its conditions holds."""

    id: str = Field(min_length=1)
    text: str = Field(min_length=1, description="The requirement as published (Chinese)")
    any_of: list[FactCondition] = Field(min_length=1)


class LevelRules(CommonRules):
    """What one type (level) requires. Rubric-wide ``rules`` are defaults."""

    required_categories: list[str] = Field(default_factory=list)
    facts: list[FactRequirement] = Field(default_factory=list)
    require_survey: bool = Field(default=False, description="A satisfaction survey must be recorded")


def _fact_value(facts: dict[str, Any], name: str) -> int | None:
    """A count from the application's facts; None when missing or not a whole number >= 0."""
    value = facts.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value < 0 or value != int(value):
        return None
    return int(value)


def evaluate_fact(requirement: FactRequirement, facts: dict[str, Any]) -> dict[str, Any]:
    """One fact requirement against an application's facts, as a derivation check."""
    required = " 或 ".join(f"{c.fact} >= {c.min}" for c in requirement.any_of)
    actual = {c.fact: facts.get(c.fact) for c in requirement.any_of}
    passed = any((v := _fact_value(facts, c.fact)) is not None and v >= c.min for c in requirement.any_of)
    if passed:
        reason = None
    else:
        problems = []
        for c in requirement.any_of:
            raw = facts.get(c.fact)
            if c.fact not in facts:
                problems.append(f"未填报 {c.fact} (fact {c.fact} is missing)")
            elif _fact_value(facts, c.fact) is None:
                problems.append(f"{c.fact} = {raw!r} 不是非负整数 (not a whole number >= 0)")
            else:
                problems.append(f"{c.fact} = {raw}，要求不少于 {c.min} (needs >= {c.min})")
        reason = f"未达到“{requirement.text}”：" + "；".join(problems)
    return {
        "rule": f"fact:{requirement.id}",
        "text": requirement.text,
        "required": required,
        "actual": ", ".join(f"{k} = {v}" for k, v in actual.items()),
        "passed": passed,
        "reason": reason,
    }


class ChecklistByTypeStyle:
    name = "checklist-by-type"
    version = "2"

    def rules(self, rubric: Rubric, level: str) -> LevelRules:
        return rubric.level_rules(level, LevelRules)

    def required_items(self, rubric: Rubric, level: str) -> list[str]:
        """The checklist items ``level`` requires, in rubric order."""
        rules = self.rules(rubric, level)
        categories = set(rules.required_categories)
        extra = {r if isinstance(r, str) else r.item for r in rules.required_items}
        return [i.id for c in rubric.categories for i in c.items if c.id in categories or i.id in extra]

    def validate_rules(self, rubric: Rubric) -> None:
        category_ids = [c.id for c in rubric.categories]
        item_ids = {i.id for i in rubric.items()}
        for level in rubric.levels:
            rules = self.rules(rubric, level.id)
            validate_common(rubric, level.id, rules, level.rules)
            for cat in rules.required_categories:
                if cat not in category_ids:
                    raise ValueError(f"level {level.id!r}: rules.required_categories names {cat!r}; categories are {category_ids}")
            if not self.required_items(rubric, level.id):
                raise ValueError(f"level {level.id!r}: rules require no checklist item; name required_categories or required_items")
            fact_ids = [f.id for f in rules.facts]
            if len(set(fact_ids)) != len(fact_ids):
                raise ValueError(f"level {level.id!r}: rules.facts ids must be unique, got {fact_ids}")
        for item in rubric.items():
            if item.max_points != 1:
                raise ValueError(f"item {item.id!r}: checklist items are met (1) or not (0); max_points is {item.max_points}")

    def check_application(self, rubric: Rubric, level: str, self_total: Fraction, facts: dict[str, Any]) -> list[str]:
        """The type's quantitative requirements, checked against the facts the application reports."""
        return [check["reason"] for r in self.rules(rubric, level).facts if not (check := evaluate_fact(r, facts))["passed"]]

    def preliminary(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return self._judge_all(context.rubric, candidates, final=False)

    def decide(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return self._judge_all(context.rubric, candidates, final=True)

    # -- the rule ---------------------------------------------------------------

    def _judge_all(self, rubric: Rubric, candidates: list[CandidateEvidence], *, final: bool) -> list[Outcome]:
        outcomes = {c.candidacy_id: self._judge(rubric, c, final=final) for c in candidates}
        sets = self.rules(rubric, rubric.levels[0].id).exclusive_levels
        if final and sets:
            outcomes = exclusive(rubric, sets, candidates, outcomes)
        return [outcomes[c.candidacy_id] for c in candidates]

    def _judge(self, rubric: Rubric, c: CandidateEvidence, *, final: bool) -> Outcome:
        rules = self.rules(rubric, c.level)
        j = Judgement(rubric, c, final=final)
        j.evidence_complete()
        j.no_veto()
        lines = {r.item: r.min_points for r in rules.required_items if not isinstance(r, str)}
        checklist = self.required_items(rubric, c.level)
        for item_id in checklist:
            item = rubric.item(item_id)
            line = lines.get(item_id)
            j.at_least(f"item:{item_id}", f"第{item_id}项“{item.text}”得分", f"item {item_id}",
                       c.item_points.get(item_id), item.max_points if line is None else line,
                       text=item.text, category=rubric.category_of(item_id).id)
        for requirement in rules.facts:
            check = evaluate_fact(requirement, c.facts)
            j.add(check.pop("rule"), check.pop("required"), check.pop("actual"), check.pop("passed"),
                  check.pop("reason") or "", **check)
        # the checklist's items are checked above; the shared kinds add floors, survey, objections
        j.common(rules.model_copy(update={"required_items": []}))
        level_def = rubric.level(c.level)
        label = level_def.label
        reasons = [f"达到{label}全部要求 (meets every requirement of {c.level})"] if j.passed else j.reasons
        if level_def.provisional:
            reasons.append(f"{PROVISIONAL_MARK}，非官方 (provisional standard: {level_def.note or 'not official'})")
        derivation = {
            "stage": "final" if final else "preliminary",
            "type": c.level,
            "label": label,
            **evidence_figures(rubric, c),
            "required_items": len(checklist),
            "met_items": sum(1 for ch in j.checks if ch["rule"].startswith("item:") and ch["passed"]),
            "facts": dict(sorted(c.facts.items())),
            "rules": rules.model_dump(mode="json"),
            "provisional": level_def.provisional,
            "checks": j.checks,
        }
        return Outcome(c.candidacy_id, j.passed, reasons, derivation)


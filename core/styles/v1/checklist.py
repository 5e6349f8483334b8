"""The checklist-by-type decision style (``checklist-by-type``): each level of the rubric is
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

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric

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


class LevelRules(_Strict):
    """What one type (level) requires. Rubric-wide ``rules`` are defaults."""

    required_categories: list[str] = Field(default_factory=list)
    required_items: list[str] = Field(default_factory=list)
    facts: list[FactRequirement] = Field(default_factory=list)


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
    version = "1"

    def rules(self, rubric: Rubric, level: str) -> LevelRules:
        return rubric.level_rules(level, LevelRules)

    def required_items(self, rubric: Rubric, level: str) -> list[str]:
        """The checklist items ``level`` requires, in rubric order."""
        rules = self.rules(rubric, level)
        categories, extra = set(rules.required_categories), set(rules.required_items)
        return [i.id for c in rubric.categories for i in c.items if c.id in categories or i.id in extra]

    def validate_rules(self, rubric: Rubric) -> None:
        category_ids = [c.id for c in rubric.categories]
        item_ids = {i.id for i in rubric.items()}
        for level in rubric.levels:
            rules = self.rules(rubric, level.id)
            for cat in rules.required_categories:
                if cat not in category_ids:
                    raise ValueError(f"level {level.id!r}: rules.required_categories names {cat!r}; categories are {category_ids}")
            for item in rules.required_items:
                if item not in item_ids:
                    raise ValueError(f"level {level.id!r}: rules.required_items names {item!r}, which is no item of the rubric")
            if not self.required_items(rubric, level.id):
                raise ValueError(f"level {level.id!r}: rules require no checklist item; name required_categories or required_items")
            fact_ids = [f.id for f in rules.facts]
            if len(set(fact_ids)) != len(fact_ids):
                raise ValueError(f"level {level.id!r}: rules.facts ids must be unique, got {fact_ids}")
        for item in rubric.items():
            if item.max_points != 1:
                raise ValueError(f"item {item.id!r}: checklist items are met (1) or not (0); max_points is {item.max_points}")

    def check_application(self, rubric: Rubric, level: str, self_total: Decimal, facts: dict[str, Any]) -> list[str]:
        """The type's quantitative requirements, checked against the facts the application reports."""
        return [check["reason"] for r in self.rules(rubric, level).facts if not (check := evaluate_fact(r, facts))["passed"]]

    def preliminary(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return [self._judge(context.rubric, c, final=False) for c in candidates]

    def decide(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return [self._judge(context.rubric, c, final=True) for c in candidates]

    # -- the rule ---------------------------------------------------------------

    def _judge(self, rubric: Rubric, c: CandidateEvidence, *, final: bool) -> Outcome:
        rules = self.rules(rubric, c.level)
        checks: list[dict[str, Any]] = [
            {
                "rule": "no_veto", "required": "[]", "actual": str(list(c.vetoes)), "passed": not c.vetoes,
                "reason": None if not c.vetoes else f"一票否决项 {', '.join(c.vetoes)} (veto item(s) apply)",
            }
        ]
        for item_id in self.required_items(rubric, c.level):
            item = rubric.item(item_id)
            points = c.item_points.get(item_id)
            passed = points is not None and points >= item.max_points
            checks.append({
                "rule": f"item:{item_id}", "text": item.text, "category": rubric.category_of(item_id).id,
                "required": str(item.max_points), "actual": None if points is None else str(points), "passed": passed,
                "reason": None if passed else f"{item_id}“{item.text}”评估未达到 (item {item_id} not met: {points})",
            })
        checks.extend(evaluate_fact(r, c.facts) for r in rules.facts)
        if final:
            upheld = c.objections.get("upheld", 0)
            checks.append({
                "rule": "no_upheld_objection", "required": "0", "actual": str(upheld), "passed": upheld == 0,
                "reason": None if upheld == 0 else f"公示期异议成立 {upheld} 项 ({upheld} objection(s) upheld)",
            })
        named = all(ch["passed"] for ch in checks)
        label = rubric.level(c.level).label
        reasons = [f"达到{label}全部要求 (meets every requirement of {c.level})"] if named else [
            ch["reason"] for ch in checks if not ch["passed"]
        ]
        derivation = {
            "type": c.level,
            "label": label,
            "required_items": len(self.required_items(rubric, c.level)),
            "met_items": sum(1 for ch in checks if ch["rule"].startswith("item:") and ch["passed"]),
            "assessors": list(c.assessors),
            "facts": dict(sorted(c.facts.items())),
            "vetoes": list(c.vetoes),
            "survey": {k: str(v) for k, v in c.survey.items()} if c.survey else None,
            "objections": dict(c.objections),
            "rules": rules.model_dump(mode="json"),
            "checks": checks,
            "stage": "final" if final else "preliminary",
        }
        return Outcome(c.candidacy_id, named, reasons, derivation)

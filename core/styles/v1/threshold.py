"""The threshold decision style (``threshold``): a level is awarded at a minimum official
total, with vetoes, upheld objections and (optionally) the satisfaction rate as further
conditions, and optionally only to communities that hold, or are awarded at the same time,
another level of the rubric.

Everything it checks comes from the rubric's ``rules`` (defaults for every level) and each
level's own ``rules`` (see :class:`LevelRules`), so any rubric can use it; the Tianjin
美丽社区 rubric of ``plugins/tianjin_meili`` is one example.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric


class LevelRules(BaseModel):
    """Rules of one level; rubric-wide ``rules`` are defaults that a level's own override."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_total: Decimal = Field(gt=0, description="Official total needed (累计得分)")
    min_self_total: Decimal | None = Field(default=None, description="Self-assessed total needed to apply")
    require_survey: bool = Field(default=True, description="A satisfaction survey must be recorded")
    min_satisfaction_rate: Decimal | None = Field(default=None, ge=0, le=1)
    requires_level: str | None = Field(
        default=None, description="Another level the community must hold or concurrently qualify for"
    )


def _fmt(value: Any) -> str | None:
    return None if value is None else str(value)


class ThresholdStyle:
    name = "threshold"
    version = "1"

    def rules(self, rubric: Rubric, level: str) -> LevelRules:
        return rubric.level_rules(level, LevelRules)

    def validate_rules(self, rubric: Rubric) -> None:
        level_ids = {lv.id for lv in rubric.levels}
        for level in rubric.levels:
            rules = self.rules(rubric, level.id)
            if rules.min_total > rubric.max_total:
                raise ValueError(f"level {level.id!r}: min_total {rules.min_total} exceeds the rubric's {rubric.max_total} points")
            if rules.requires_level is not None and (
                rules.requires_level not in level_ids or rules.requires_level == level.id
            ):
                raise ValueError(
                    f"level {level.id!r}: requires_level {rules.requires_level!r} must be another level: {sorted(level_ids - {level.id})}"
                )
        for level in rubric.levels:
            chain = [level.id]
            while (required := self.rules(rubric, chain[-1]).requires_level) is not None:
                if required in chain:
                    raise ValueError(f"levels require each other in a circle: {' -> '.join([*chain, required])}")
                chain.append(required)

    def check_application(self, rubric: Rubric, level: str, self_total: Decimal, facts: dict[str, Any]) -> list[str]:
        rules = self.rules(rubric, level)
        if rules.min_self_total is not None and self_total < rules.min_self_total:
            return [
                f"自评总分 {self_total} 未达到申报门槛 {rules.min_self_total} 分 "
                f"(self-assessed total {self_total} is below the application threshold {rules.min_self_total})"
            ]
        return []

    def preliminary(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return self._judge_all(context.rubric, candidates, final=False)

    def decide(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return self._judge_all(context.rubric, candidates, final=True)

    # -- the rule ---------------------------------------------------------------

    def _level_order(self, rubric: Rubric) -> list[str]:
        """Levels with the ones others require first (validate_rules excludes cycles)."""
        order: list[str] = []

        def visit(level: str) -> None:
            if level in order:
                return
            required = self.rules(rubric, level).requires_level
            if required is not None:
                visit(required)
            order.append(level)

        for level in rubric.levels:
            visit(level.id)
        return order

    def _judge_all(self, rubric: Rubric, candidates: list[CandidateEvidence], *, final: bool) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        # community -> level -> named?, for the levels already judged in this decision
        judged: dict[str, dict[str, bool]] = {}
        for level in self._level_order(rubric):
            for c in candidates:
                if c.level == level:
                    outcome = self._judge(rubric, level, c, final=final, judged=judged.get(c.community_id, {}))
                    outcomes[c.candidacy_id] = outcome
                    judged.setdefault(c.community_id, {})[level] = outcome.named
        return [outcomes[c.candidacy_id] for c in candidates]

    def _judge(
        self, rubric: Rubric, level: str, c: CandidateEvidence, *, final: bool, judged: dict[str, bool]
    ) -> Outcome:
        rules = self.rules(rubric, level)
        checks: list[dict[str, Any]] = []

        def check(rule: str, required: Any, actual: Any, passed: bool, reason: str) -> None:
            checks.append({"rule": rule, "required": _fmt(required), "actual": _fmt(actual), "passed": passed, "reason": None if passed else reason})

        check("no_veto", "[]", c.vetoes, not c.vetoes, f"一票否决项 {', '.join(c.vetoes)} (veto item(s) apply)")
        check(
            "min_total", rules.min_total, c.total, c.total >= rules.min_total,
            f"综合得分 {c.total} 低于 {rules.min_total} 分 (official total {c.total} is below {rules.min_total})",
        )
        if rules.requires_level is not None:
            required = rules.requires_level
            label = rubric.level(required).label
            if required in c.titles_held:
                state, passed = "held", True
            elif required in judged:
                # the community stands for the required level in this campaign: its outcome counts
                passed = judged[required]
                state = "awarded in this decision" if passed else "refused in this decision"
            else:
                passed = self._judge(rubric, required, c, final=final, judged={}).named
                state = "qualifies" if passed else "does not qualify"
            check(
                "requires_level", required, state, passed,
                f"未获得且未同时获评{label} (does not hold and is not awarded {required}: {state})",
            )
        if final:
            upheld = c.objections.get("upheld", 0)
            check("no_upheld_objection", 0, upheld, upheld == 0, f"公示期异议成立 {upheld} 项 ({upheld} objection(s) upheld)")
            rate = (c.survey or {}).get("satisfaction_rate")
            if rules.require_survey:
                check("survey_recorded", True, c.survey is not None, c.survey is not None, "未进行满意度测评 (no satisfaction survey recorded)")
            if rules.min_satisfaction_rate is not None:
                passed = rate is not None and Decimal(str(rate)) >= rules.min_satisfaction_rate
                check(
                    "min_satisfaction_rate", rules.min_satisfaction_rate, rate, passed,
                    f"满意率 {rate} 低于 {rules.min_satisfaction_rate} (satisfaction rate below {rules.min_satisfaction_rate})",
                )
        named = all(ch["passed"] for ch in checks)
        reasons = [ch["reason"] for ch in checks if not ch["passed"]]
        level_def = rubric.level(level)
        if named:
            reasons = [f"达到{level_def.label}标准 (meets every rule of {level})"]
        if level_def.provisional:
            reasons.append(f"暂行标准，非官方 (provisional standard: {level_def.note or 'not official'})")
        derivation = {
            "subtotals": {k: str(v) for k, v in c.subtotals.items()},
            "total": str(c.total),
            "max_total": str(rubric.max_total),
            "assessors": list(c.assessors),
            "self_total": _fmt(c.self_total),
            "mock_total": _fmt(c.mock_total),
            "application_gate": {"min_self_total": _fmt(rules.min_self_total), "application_total": _fmt(c.application_total)},
            "vetoes": list(c.vetoes),
            "survey": {k: _fmt(v) if not isinstance(v, int) else v for k, v in c.survey.items()} if c.survey else None,
            "objections": dict(c.objections),
            "titles_held": list(c.titles_held),
            "rules": rules.model_dump(mode="json"),
            "provisional": level_def.provisional,
            "checks": checks,
            "stage": "final" if final else "preliminary",
        }
        return Outcome(c.candidacy_id, named, reasons, derivation)

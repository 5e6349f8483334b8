"""The threshold decision style: a level is awarded at a minimum official total, with
vetoes, upheld objections and (optionally) the satisfaction rate as further conditions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.plugins.types import CandidateEvidence, Outcome
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
        merged = {**rubric.rules, **rubric.level(level).rules}
        try:
            return LevelRules.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"level {level!r}: rules.{where}: {err['msg']} (got {err.get('input')!r})") from None

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

    def check_application(self, rubric: Rubric, level: str, self_total: Decimal, facts: dict[str, Any]) -> list[str]:
        rules = self.rules(rubric, level)
        if rules.min_self_total is not None and self_total < rules.min_self_total:
            return [
                f"自评总分 {self_total} 未达到申报门槛 {rules.min_self_total} 分 "
                f"(self-assessed total {self_total} is below the application threshold {rules.min_self_total})"
            ]
        return []

    def preliminary(self, rubric: Rubric, level: str, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return [self._judge(rubric, level, c, final=False) for c in candidates]

    def decide(self, rubric: Rubric, level: str, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return [self._judge(rubric, level, c, final=True) for c in candidates]

    # -- the rule ---------------------------------------------------------------

    def _meets_score(self, rubric: Rubric, level: str, c: CandidateEvidence) -> bool:
        return c.total >= self.rules(rubric, level).min_total and not c.vetoes

    def _judge(self, rubric: Rubric, level: str, c: CandidateEvidence, *, final: bool) -> Outcome:
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
            held = rules.requires_level in c.titles_held
            qualifies = self._meets_score(rubric, rules.requires_level, c)
            label = rubric.level(rules.requires_level).label
            check(
                "requires_level", rules.requires_level,
                "held" if held else ("qualifies" if qualifies else "neither"), held or qualifies,
                f"既未获得也未同时达到{label}标准 (neither holds nor qualifies for {rules.requires_level})",
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

"""The threshold decision style (``threshold``, docs/rules.md §5.1): a level is awarded at a
minimum official total, with vetoes, category floors, required items, the survey and its
satisfaction rate, and upheld objections as further conditions; a level may require
another (held, or awarded in the same decision), and levels may form a ladder of which a
community is awarded only the highest (``exclusive_levels``).

Everything it checks comes from the rubric's ``rules`` (defaults for every level) and each
level's own ``rules`` (see :class:`LevelRules`), so any rubric can use it; the Tianjin
美丽社区 rubric of ``plugins/tianjin_meili`` is one example.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import Field

from core.exact import number
from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric
from core.styles.rules import CommonRules, Judgement, evidence_figures, exclusive, validate_common


class LevelRules(CommonRules):
    """Rules of one level; rubric-wide ``rules`` are defaults that a level's own override."""

    min_total: Decimal = Field(gt=0, description="Official total needed (累计得分)")
    min_self_total: Decimal | None = Field(default=None, description="Self-assessed total needed to apply")
    requires_level: str | None = Field(
        default=None, description="Another level the community must hold or be awarded in the same decision"
    )


class ThresholdStyle:
    name = "threshold"
    version = "2"

    def rules(self, rubric: Rubric, level: str) -> LevelRules:
        return rubric.level_rules(level, LevelRules)

    def validate_rules(self, rubric: Rubric) -> None:
        level_ids = {lv.id for lv in rubric.levels}
        for level in rubric.levels:
            rules = self.rules(rubric, level.id)
            validate_common(rubric, level.id, rules, level.rules)
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

    def check_application(self, rubric: Rubric, level: str, self_total: Fraction, facts: dict[str, Any]) -> list[str]:
        rules = self.rules(rubric, level)
        if rules.min_self_total is not None and Fraction(self_total) < Fraction(rules.min_self_total):
            shown, line = number(Fraction(self_total)), number(Fraction(rules.min_self_total))
            return [f"自评总分 {shown} 未达到申报门槛 {line} 分 (self-assessed total {shown} is below the application threshold {line})"]
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
        sets = self.rules(rubric, rubric.levels[0].id).exclusive_levels
        if final and sets:
            outcomes = exclusive(rubric, sets, candidates, outcomes)
        return [outcomes[c.candidacy_id] for c in candidates]

    def _judge(
        self, rubric: Rubric, level: str, c: CandidateEvidence, *, final: bool, judged: dict[str, bool]
    ) -> Outcome:
        rules = self.rules(rubric, level)
        j = Judgement(rubric, c, final=final)
        j.evidence_complete()
        j.no_veto()
        j.at_least("min_total", "综合得分", "official total", c.total, rules.min_total)
        j.common(rules)
        if rules.requires_level is not None:
            required = rules.requires_level
            label = rubric.level(required).label
            if required in c.titles_held:
                state, passed = "held", True
            elif required in judged:
                # the community stands for the required level in this campaign: its outcome counts
                passed = judged[required]
                laddered = any(required in group and level in group for group in rules.exclusive_levels)
                # on a ladder the lower level qualifies but gives way to this one (docs/rules.md §4.6)
                state = ("qualifies in this decision" if laddered else "awarded in this decision") if passed else "refused in this decision"
            else:
                passed = self._judge(rubric, required, c, final=final, judged={}).named
                state = "qualifies" if passed else "does not qualify"
            j.add("requires_level", required, state, passed,
                  f"未获得且未同时获评{label} (does not hold and is not awarded {required}: {state})")
        level_def = rubric.level(level)
        reasons = [f"达到{level_def.label}标准 (meets every rule of {level})"] if j.passed else j.reasons
        if level_def.provisional:
            reasons.append(f"暂行标准，非官方 (provisional standard: {level_def.note or 'not official'})")
        derivation = {
            "stage": "final" if final else "preliminary",
            "level": level,
            "label": level_def.label,
            **evidence_figures(rubric, c),
            "application_gate": {
                "min_self_total": None if rules.min_self_total is None else number(rules.min_self_total),
                "application_total": j.figure(c.application_total),
            },
            "rules": rules.model_dump(mode="json"),
            "provisional": level_def.provisional,
            "checks": j.checks,
        }
        return Outcome(c.candidacy_id, j.passed, reasons, derivation)


"""The quota-ranking decision style (``quota-ranking``, 名额制评选, docs/rules.md §5.3): the
top N candidates by official total.

For campaigns that select by quota rather than by a pass mark (the brand-community rubric
of ``plugins/brand_community`` is one example: 13 places for 52 communities). N is the
campaign's quota (``DecisionContext.quota``), applied to each level of the campaign
separately. The other parameters come from the rubric's ``rules`` and each level's own
(see :class:`QuotaRules`).

**Ranking.** Candidates of a level are ordered by these keys; each key only separates
candidates that every key before it left tied:

1. higher official total (综合得分; exact, or the published figure when the rubric's
   publication rule compares published figures);
2. higher satisfaction rate ((satisfied + basically satisfied) / respondents, compared the
   same way; a candidate without a recorded survey ranks after every one with a survey);
3. fewer upheld objections (异议成立数);
4. higher self-assessment total (自评总分; none recorded ranks last);
5. candidacy id, ascending: the last resort, arbitrary but fixed, so that the same
   evidence always gives the same ranking. The derivation says where it decided.

Every derivation records the whole ranking of the level: rank, candidacy id, community,
declared type, the tie-break keys, the key that placed each candidate below the one ranked
just above it (``separated_by``) and its status.

**Preliminary list (公示名单).** Candidates that fail a rule the notice period cannot
change are not listed: an incomplete official assessment, a veto (一票否决), a category
floor or required item (:mod:`core.styles.rules`), no survey with ``require_survey``. The first N of
the others are listed as proposed (拟入选); the rest are listed as reserves (候补) in rank
order, at most ``reserve_places`` of them (default: all). Reserves are listed because the
core decides only candidates that were on public notice: a reserve can move up only if
residents could object to it too.

**Decision (命名).** The noticed candidates are ranked again on the final evidence. A
candidate is excluded when any check fails: the rules of the notice list above, the
satisfaction rate (``min_satisfaction_rate``), or an objection against it was upheld. The others fill the N places in
rank order; a reserve that moves up because a candidate ranked above it was excluded says
which ones freed the place. Levels are ranked separately (``exclusive_levels`` is refused:
a place is a place of one level).

**No quota.** A campaign created without a quota cannot be ranked: drawing its preliminary
list (and deciding it) raises :class:`core.errors.RuleViolation` naming the missing quota,
so opening the public notice records nothing. The application gate cannot refuse earlier:
``check_application`` is not told the campaign.

**Gate.** An application must declare one of the rubric's types (``rules.types``, such as
the five types 五型 of brand communities) as the fact named by ``rules.type_fact`` (default
``type``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pydantic import Field, field_validator

from core.errors import RuleViolation
from core.exact import DEFAULT_PUBLICATION, Publication, compared, figure, rate_figure
from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric
from core.styles.rules import CommonRules, Judgement, evidence_figures, validate_common

#: The ranking keys in order, with what each means (recorded in every derivation).
TIE_BREAKS = (
    ("total", "综合得分高者在前 (higher official total)"),
    ("satisfaction_rate", "满意率高者在前，未测评者在后 (higher satisfaction rate; none recorded last)"),
    ("upheld_objections", "异议成立数少者在前 (fewer upheld objections)"),
    ("self_total", "自评总分高者在前 (higher self-assessment total; none recorded last)"),
    ("candidacy_id", "申报编号在前者在前，仅作最后手段 (candidacy id ascending, last resort)"),
)
KEY_NAMES = [name for name, _ in TIE_BREAKS]
KEY_LABELS = {
    "total": "综合得分", "satisfaction_rate": "满意率", "upheld_objections": "异议成立数",
    "self_total": "自评总分", "candidacy_id": "申报编号",
}
PROVISIONAL_REASON = "暂行标准，非官方 (provisional standard: items and weights are the platform's placeholder, see the level's note)"
_LOWEST = Fraction(-1)  # below every real rate or total


class QuotaRules(CommonRules):
    """The style's parameters: rubric-wide ``rules``, overridden by a level's own."""

    types: list[str] = Field(min_length=1, description="The types an application may declare (e.g. 五型)")
    type_fact: str = Field(default="type", min_length=1, description="The application fact naming the type")
    reserve_places: int | None = Field(default=None, ge=0, description="Reserves on the notice list (None: all)")

    @field_validator("types")
    @classmethod
    def _distinct_names(cls, types: list[str]) -> list[str]:
        if any(not isinstance(t, str) or not t.strip() for t in types):
            raise ValueError(f"every type must be a non-empty name, got {types}")
        if len(set(types)) != len(types):
            raise ValueError(f"type names must be unique, got {types}")
        return types


@dataclass(frozen=True)
class Ranked:
    """One candidate's place in a level's ranking."""

    rank: int
    evidence: CandidateEvidence
    separated_by: str | None  # the key that placed it below the one ranked just above

    @property
    def rate(self) -> Fraction | None:
        return satisfaction_rate(self.evidence)


def satisfaction_rate(c: CandidateEvidence) -> Fraction | None:
    return (c.survey or {}).get("satisfaction_rate")


def sort_key(c: CandidateEvidence, rule: Publication = DEFAULT_PUBLICATION) -> tuple[Any, ...]:
    """The ranking keys of :data:`TIE_BREAKS`, arranged so that ascending order ranks first;
    totals and rates as the publication rule compares them."""
    rate = satisfaction_rate(c)
    return (
        -compared(c.total, rule),
        -(compared(rate * 100, rule) if rate is not None else _LOWEST),
        c.objections.get("upheld", 0),
        -(compared(c.self_total, rule) if c.self_total is not None else _LOWEST),
        c.candidacy_id,
    )


def rank(candidates: list[CandidateEvidence], rule: Publication = DEFAULT_PUBLICATION) -> list[Ranked]:
    """Candidates in rank order (1 first); the order does not depend on the input order."""
    keys = {c.candidacy_id: sort_key(c, rule) for c in candidates}
    ordered = sorted(candidates, key=lambda c: keys[c.candidacy_id])
    ranked: list[Ranked] = []
    for n, c in enumerate(ordered):
        separated_by = None
        if n:
            above, mine = keys[ordered[n - 1].candidacy_id], keys[c.candidacy_id]
            separated_by = next(KEY_NAMES[i] for i, (a, b) in enumerate(zip(above, mine)) if a != b)
        ranked.append(Ranked(n + 1, c, separated_by))
    return ranked


class QuotaRankingStyle:
    name = "quota-ranking"
    version = "2"

    def rules(self, rubric: Rubric, level: str) -> QuotaRules:
        return rubric.level_rules(level, QuotaRules)

    def validate_rules(self, rubric: Rubric) -> None:
        for level in rubric.levels:
            rules = self.rules(rubric, level.id)
            validate_common(rubric, level.id, rules, level.rules)
            if rules.exclusive_levels:
                raise ValueError("rules.exclusive_levels: quota-ranking ranks each level for its own places; levels cannot exclude each other")

    def check_application(self, rubric: Rubric, level: str, self_total: Fraction, facts: dict[str, Any]) -> list[str]:
        rules = self.rules(rubric, level)
        declared = facts.get(rules.type_fact)
        allowed = "、".join(rules.types)
        if declared is None:
            return [f"未申报创建类型：facts.{rules.type_fact} 须为 {allowed} 之一 "
                    f"(facts.{rules.type_fact} is missing; declare one of: {', '.join(rules.types)})"]
        if declared not in rules.types:
            return [f"创建类型 {declared!r} 不在 {allowed} 之内 "
                    f"(facts.{rules.type_fact} {declared!r} is not one of: {', '.join(rules.types)})"]
        return []

    def preliminary(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return self._judge_all(context, candidates, final=False)

    def decide(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        return self._judge_all(context, candidates, final=True)

    # -- the rule ---------------------------------------------------------------------

    @staticmethod
    def _quota(context: DecisionContext) -> int:
        if context.quota is None:
            raise RuleViolation(
                f"campaign has no quota: rubric {context.rubric.ref} selects by quota (style quota-ranking: "
                "the top N by official total, N being the campaign's quota, e.g. 13 of 52); "
                "create the campaign with a quota (活动未设名额，名额制评选无法排名)"
            )
        return context.quota

    @staticmethod
    def _judgement(rubric: Rubric, c: CandidateEvidence, rules: QuotaRules, *, final: bool) -> Judgement:
        """The rules that exclude a candidate from the ranking's places (reasons when failed)."""
        j = Judgement(rubric, c, final=final)
        j.evidence_complete()
        j.no_veto()
        j.common(rules)
        return j

    def _judge_all(self, context: DecisionContext, candidates: list[CandidateEvidence], *, final: bool) -> list[Outcome]:
        quota = self._quota(context)
        rubric = context.rubric
        outcomes: dict[str, Outcome] = {}
        levels = [lv.id for lv in rubric.levels if any(c.level == lv.id for c in candidates)]
        for level in levels:
            group = [c for c in candidates if c.level == level]
            outcomes.update(self._judge_level(rubric, level, quota, group, final=final))
        return [outcomes[c.candidacy_id] for c in candidates]

    def _judge_level(
        self, rubric: Rubric, level: str, quota: int, group: list[CandidateEvidence], *, final: bool
    ) -> dict[str, Outcome]:
        rules = self.rules(rubric, level)
        publication = rubric.published_as
        ranking = rank(group, publication)
        status: dict[str, str] = {}
        excluded: dict[str, list[str]] = {}
        judgements: dict[str, Judgement] = {}
        places = reserves = 0
        for r in ranking:
            cid = r.evidence.candidacy_id
            judgements[cid] = self._judgement(rubric, r.evidence, rules, final=final)
            excluded[cid] = judgements[cid].reasons
            if excluded[cid]:
                status[cid] = "excluded"
            elif places < quota:
                places += 1
                status[cid] = "selected" if final else "proposed"
            elif final:
                status[cid] = "quota_full"
            elif rules.reserve_places is None or reserves < rules.reserve_places:
                reserves += 1
                status[cid] = "reserve"
            else:
                status[cid] = "not_listed"
        rows = [self._row(r, status, excluded, rules.type_fact, publication) for r in ranking]
        level_def = rubric.level(level)
        outcomes = {}
        for r in ranking:
            c = r.evidence
            reasons = self._reasons(r, ranking, status, excluded, quota, final=final)
            if level_def.provisional:
                reasons.append(PROVISIONAL_REASON)
            # preliminary: "named" means "on the notice list" (proposed or reserve)
            named = status[c.candidacy_id] in (("selected",) if final else ("proposed", "reserve"))
            derivation = {
                "stage": "final" if final else "preliminary",
                "level": level,
                "quota": quota,
                "rank": r.rank,
                "of": len(ranking),
                "status": status[c.candidacy_id],
                "type": c.facts.get(rules.type_fact),
                **evidence_figures(rubric, c),
                "checks": judgements[c.candidacy_id].checks,
                "excluded_because": excluded[c.candidacy_id],
                "tie_breaks": [{"key": k, "rule": text} for k, text in TIE_BREAKS],
                "rules": rules.model_dump(mode="json"),
                "provisional": level_def.provisional,
                "ranking": rows,
            }
            outcomes[c.candidacy_id] = Outcome(c.candidacy_id, named, reasons, derivation)
        return outcomes

    @staticmethod
    def _row(
        r: Ranked, status: dict[str, str], excluded: dict[str, list[str]], type_fact: str, publication: Publication
    ) -> dict[str, Any]:
        c = r.evidence
        return {
            "rank": r.rank,
            "candidacy_id": c.candidacy_id,
            "community": c.community_name,
            "type": c.facts.get(type_fact),
            "total": figure(c.total, publication),
            "satisfaction_rate": rate_figure(r.rate, publication),
            "upheld_objections": c.objections.get("upheld", 0),
            "self_total": figure(c.self_total, publication),
            "separated_by": r.separated_by,
            "status": status[c.candidacy_id],
            "excluded_because": excluded[c.candidacy_id],
        }

    @staticmethod
    def _reasons(
        r: Ranked, ranking: list[Ranked], status: dict[str, str], excluded: dict[str, list[str]], quota: int,
        *, final: bool,
    ) -> list[str]:
        c = r.evidence
        mine = status[c.candidacy_id]
        where = f"排名第{r.rank}位（共{len(ranking)}个，名额{quota}个）(rank {r.rank} of {len(ranking)}, quota {quota})"
        if mine == "excluded":
            reasons = [*excluded[c.candidacy_id], where]
        elif mine in ("selected", "proposed"):
            verb = "入选" if final else "拟入选，列入公示"
            reasons = [f"{where}，{verb} ({'selected' if final else 'proposed, on public notice'})"]
            freed = [x.evidence.community_name for x in ranking[: r.rank - 1] if status[x.evidence.candidacy_id] == "excluded"]
            if r.rank > quota and freed:
                reasons.append(
                    f"因排名在前的{'、'.join(freed)}被排除而递补 (moves up because {', '.join(freed)} ranked above were excluded)"
                )
        elif mine == "reserve":
            reasons = [f"{where}，名额已满，列为候补 (beyond the quota: listed as a reserve)"]
        elif mine == "quota_full":
            reasons = [f"{where}，名额已满 (the {quota} places are filled by candidates ranked above)"]
        else:
            reasons = [f"{where}，名额与候补已满，未列入公示 (beyond the quota and the reserve places)"]
        if r.separated_by not in (None, "total"):
            label = KEY_LABELS[r.separated_by]
            reasons.append(
                f"与第{r.rank - 1}位综合得分相同，按{label}排在其后 "
                f"(tied on total with rank {r.rank - 1}; placed after it by {r.separated_by})"
            )
        return reasons

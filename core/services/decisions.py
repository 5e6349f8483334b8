"""Public notice (公示) with objections (异议), decisions (命名), putting named candidacies
forward to a higher-level selection (推荐) and revocation (摘牌).

Decisions are computed once by the rubric's decision style and recorded with their whole
derivation and the stream positions they read; they are never recomputed on read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from core.actors import Actor
from core.domain import Campaign, Candidacy, Community
from core.domain.candidacy import APPLIED, APPROVED, NAMED, RETURNED
from core.errors import InvalidInput, RuleViolation
from core.exact import ARITHMETIC, LEGACY_ARITHMETIC, canonical, exact
from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric, item_ids_text, subtotals
from core.services.inspections import InspectionCommands
from core.styles import v1

#: the first reason of a candidacy decided without being on the public notice
NOT_LISTED = "未列入公示名单 (not on the public notice list)"


def plain(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """Derivations are stored as plain JSON: fractions become canonical fraction strings
    (``481/6``), decimals their strings.

    With ``memo`` (kept by the caller while the values live), a list or dict shared by
    several derivations, such as a quota style's ranking of the whole level, is converted
    once and its plain form shared.
    """
    if isinstance(value, Fraction):
        return canonical(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        if memo is not None:
            done = memo.get(id(value))
            if done is not None:
                return done
        if isinstance(value, dict):
            out: Any = {str(k): plain(v, memo) for k, v in value.items()}
        else:
            out = [plain(v, memo) for v in value]
        if memo is not None:
            memo[id(value)] = out
        return out
    return value


def combined(
    rubric: Rubric, sheets: dict[str, dict[str, str]], combine: Callable[[list[Fraction]], Fraction]
) -> tuple[dict[str, Fraction], dict[str, int]]:
    """Each item's points combined over the assessors who scored it (exact), and how many
    did; an item nobody scored is in neither."""
    ordered = [sheet for _, sheet in sorted(sheets.items())]
    points: dict[str, Fraction] = {}
    counts: dict[str, int] = {}
    for item in rubric.items():
        item_id = item.id
        given = [exact(sheet[item_id]) for sheet in ordered if item_id in sheet]
        if given:
            points[item_id] = exact(combine(given))
            counts[item_id] = len(given)
    return points, counts


def incomplete(rubric: Rubric, sheets: dict[str, dict[str, str]], counts: dict[str, int]) -> list[str]:
    """Why an official assessment cannot support a decision (docs/rules.md §3), in Chinese
    and English; empty when it can."""
    if not sheets:
        return ["未进行综合评估 (no official assessment recorded)"]
    problems = []
    needed = rubric.assessors_needed
    short = [i.id for i in rubric.items() if counts.get(i.id, 0) < needed]
    if short:
        ids = item_ids_text(short)
        problems.append(
            f"第 {ids} 项未评分 (no official points for item(s) {ids})" if needed == 1 else
            f"第 {ids} 项的评分人数少于 {needed} 人 (item(s) {ids} scored by fewer than {needed} official assessors)"
        )
    if not rubric.partial_sheets:
        every = {i.id for i in rubric.items()}
        for assessor, sheet in sorted(sheets.items()):
            lacking = every - set(sheet)
            if lacking:
                ids = item_ids_text(sorted(lacking))
                problems.append(f"评估人 {assessor} 的评分表缺第 {ids} 项 (assessor {assessor}'s sheet lacks item(s) {ids})")
    return problems


def _rate(part: int, whole: int | None) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def not_listed(rubric: Rubric, evidence: CandidateEvidence, preliminary: dict[str, Any] | None) -> Outcome:
    """The outcome of a candidacy decided without being on the public notice: not named,
    for the reasons its preliminary outcome recorded (the decisive ones first)."""
    from core.styles.rules import evidence_figures

    reasons = [r for r in (preliminary or {}).get("reasons", []) if not r.startswith("暂行标准")]
    return Outcome(
        evidence.candidacy_id, False, [*reasons, NOT_LISTED],
        {**evidence_figures(rubric, evidence), "preliminary": preliminary},
    )


class DecisionCommands(InspectionCommands):
    # -- evidence -----------------------------------------------------------------------

    def evidence(
        self, rubric: Rubric, candidacy: Candidacy, community: Community, arithmetic: str = ARITHMETIC
    ) -> CandidateEvidence:
        """What the decision style sees of one candidacy, built from its recorded events with
        exact figures (docs/rules.md §1-3); ``arithmetic`` ``decimal-4`` builds it as
        decisions recorded before exact arithmetic did (:mod:`core.styles.v1`)."""
        if arithmetic == LEGACY_ARITHMETIC:
            name = rubric.aggregation_name
            combine = v1.AGGREGATIONS.get(name) or self.plugins.aggregation(name).combine
            try:
                return v1.evidence(rubric, candidacy, community, combine)
            except ValueError as exc:
                raise RuleViolation(str(exc)) from None
        combine = self.plugins.combiner(rubric)
        scores = candidacy.scores
        official, counts = combined(rubric, scores["official"], combine)
        per_category, total = subtotals(rubric, official)
        application = {k: exact(v) for k, v in candidacy.application_scores.items()}
        self_sheet = combined(rubric, scores["self"], combine)[0] if scores["self"] else application
        mock = combined(rubric, scores["mock"], combine)[0] if scores["mock"] else None
        survey = None
        if candidacy.survey is not None:
            s = candidacy.survey
            survey = {
                **s,
                "satisfaction_rate": _rate(s["satisfied"] + s["basically_satisfied"], s["respondents"]),
                "participation_rate": _rate(s["households"], community.households),
            }
        return CandidateEvidence(
            candidacy_id=str(candidacy.id),
            community_id=str(community.id),
            community_name=community.name,
            level=candidacy.level,
            item_points=official,
            subtotals=per_category,
            total=total,
            assessors=sorted(scores["official"]),
            self_total=subtotals(rubric, self_sheet)[1],
            mock_total=subtotals(rubric, mock)[1] if mock is not None else None,
            application_total=subtotals(rubric, application)[1],
            vetoes=sorted(candidacy.vetoes),
            survey=survey,
            objections=candidacy.objection_counts(),
            titles_held=community.held_levels(),
            facts=dict(candidacy.facts),
            incomplete=incomplete(rubric, scores["official"], counts),
        )

    def _gather(
        self, actor: Actor, campaign: Campaign, rubric: Rubric, ids: list[str]
    ) -> tuple[list[tuple[Candidacy, Community]], dict[str, CandidateEvidence], dict[str, dict[str, list[Any]]]]:
        """Candidacies with their communities (each community loaded once: it may stand for
        several levels and must be saved as one object), the evidence of each, and the
        stream positions the evidence was read at, all taken before anything changes."""
        pairs: list[tuple[Candidacy, Community]] = []
        communities: dict[str, Community] = {}
        for cid in ids:
            candidacy = self.candidacy(actor, cid)
            if candidacy.community_id not in communities:
                communities[candidacy.community_id] = self.community(actor, candidacy.community_id)
            pairs.append((candidacy, communities[candidacy.community_id]))
        evidence = {str(c.id): self.evidence(rubric, c, com) for c, com in pairs}
        positions = {
            str(c.id): {
                "candidacy": [str(c.id), c.version],
                "community": [str(com.id), com.version],
                "campaign": [str(campaign.id), campaign.version],
            }
            for c, com in pairs
        }
        return pairs, evidence, positions

    def notice_left_off(self, actor: Actor, campaign_id: str) -> list[dict[str, Any]]:
        """The approved candidacies the public notice left off, each with the rules that
        kept it off (the reasons its preliminary outcome recorded)."""
        campaign = self.campaign(actor, campaign_id)
        notice = campaign.notice
        if notice is None:
            return []
        listed = set(notice["candidacy_ids"])
        rows = []
        for cid, entry in notice["preliminary"].items():
            if cid in listed:
                continue
            candidacy = self.candidacy(actor, cid)
            rows.append({
                "candidacy_id": cid,
                "community_id": candidacy.community_id,
                "community": self.community(actor, candidacy.community_id).name,
                "level": candidacy.level,
                "reasons": list(entry.get("reasons", [])),
            })
        return rows

    def _context(self, campaign: Campaign, rubric: Rubric) -> DecisionContext:
        return DecisionContext(rubric=rubric, levels=list(campaign.levels), quota=campaign.quota)

    # -- public notice --------------------------------------------------------------------

    def open_public_notice(
        self, actor: Actor, campaign_id: str, start: str, end: str, on: str | None = None
    ) -> list[str]:
        """Put the preliminary list (初选名单) drawn by the decision style on public notice
        for the window ``start`` to ``end``. Every application must have been reviewed;
        from now on scores are fixed. Returns the candidacies on the list.
        """
        campaign = self._campaign_for(actor, campaign_id, "open_public_notice")
        self.require_open(campaign)
        if campaign.notice is not None:
            raise RuleViolation(f"campaign {campaign.code} has already had its public notice")
        start, end = self.check_date("start", start), self.check_date("end", end)
        if end < start:
            raise InvalidInput("end", end, f"a date on or after start {start}")
        statuses = {cid: self.candidacy(actor, cid).status for cid in campaign.candidacies}
        pending = [cid for cid, status in statuses.items() if status in (APPLIED, RETURNED)]
        if pending:
            raise RuleViolation(f"{len(pending)} application(s) still await the district's review: {', '.join(pending)}")
        approved = [cid for cid, status in statuses.items() if status == APPROVED]
        rubric = self.rubric_of(campaign)
        style = self.plugins.style(rubric.style)
        _, evidence, _ = self._gather(actor, campaign, rubric, approved)
        candidates = list(evidence.values())
        outcomes = self._checked(style.preliminary(self._context(campaign, rubric), candidates), candidates)
        preliminary = {o.candidacy_id: {"listed": o.named, "reasons": o.reasons} for o in outcomes}
        on_list = [o.candidacy_id for o in outcomes if o.named]
        campaign.open_notice(
            meta=self.campaign_meta(actor, campaign, on=on), start=start, end=end,
            candidacy_ids=on_list, preliminary=plain(preliminary),
        )
        self.save_all(campaign)
        return on_list

    @staticmethod
    def _checked(outcomes: list[Outcome], evidence: list[CandidateEvidence]) -> list[Outcome]:
        expected = [e.candidacy_id for e in evidence]
        if sorted(o.candidacy_id for o in outcomes) != sorted(expected):
            raise RuleViolation("the decision style did not return exactly one outcome per candidate")
        return outcomes

    def close_public_notice(self, actor: Actor, campaign_id: str, on: str | None = None) -> None:
        campaign = self._campaign_for(actor, campaign_id, "close_public_notice")
        if campaign.notice is None or campaign.notice["closed"]:
            raise RuleViolation(f"campaign {campaign.code} has no open public notice")
        meta = self.campaign_meta(actor, campaign, on=on)
        if meta["effective"] < campaign.notice["end"]:
            raise RuleViolation(f"the public notice runs until {campaign.notice['end']}; it cannot close on {meta['effective']}")
        campaign.close_notice(meta=meta)
        self.save_all(campaign)

    def file_objection(
        self, actor: Actor, candidacy_id: str, text: str, items: list[str] | None = None, on: str | None = None
    ) -> str:
        """A resident objects to a candidate on public notice, optionally naming rubric items."""
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "file_objection")
        notice = campaign.notice
        meta = self.campaign_meta(actor, campaign, on=on)
        if notice is None or notice["closed"] or not notice["start"] <= meta["effective"] <= notice["end"]:
            window = f"{notice['start']} to {notice['end']}" if notice else "not opened"
            raise RuleViolation(f"objections are accepted during the public notice only ({window})")
        if str(candidacy.id) not in notice["candidacy_ids"]:
            raise RuleViolation("this candidacy is not on the public notice list")
        rubric = self.rubric_of(campaign)
        if items is not None and not isinstance(items, list):
            raise InvalidInput("items", items, "a list of item ids")
        items = [str(i) for i in (items or [])]
        for item in items:
            try:
                rubric.item(item)
            except KeyError:
                raise InvalidInput("items", item, f"item ids of rubric {rubric.ref}") from None
        objection_id = uuid.uuid4().hex[:12]
        candidacy.file_objection(meta=meta, objection_id=objection_id, text=self.check_text("text", text), items=items)
        self.save_all(candidacy)
        return objection_id

    def resolve_objection(
        self, actor: Actor, candidacy_id: str, objection_id: str, upheld: bool, reason: str, on: str | None = None
    ) -> None:
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "resolve_objection")
        self.check_key("objection_id", objection_id, list(candidacy.objections))
        if candidacy.objections[objection_id]["status"] != "open":
            raise RuleViolation(f"objection {objection_id} is already {candidacy.objections[objection_id]['status']}")
        if not isinstance(upheld, bool):
            raise InvalidInput("upheld", upheld, "true or false")
        candidacy.resolve_objection(
            meta=self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason)),
            objection_id=objection_id, upheld=upheld,
        )
        self.save_all(candidacy)

    # -- decisions -------------------------------------------------------------------------

    def decide(self, actor: Actor, campaign_id: str, on: str | None = None, expected_version: int | None = None) -> dict[str, bool]:
        """Decide every approved candidacy after the public notice closed, in one write.

        Candidates on the notice list are decided by the rubric's style, all levels at once;
        the others are recorded as not named with their preliminary reasons. Named ones get
        the title on their community. Returns candidacy id -> named.
        """
        campaign = self._campaign_for(actor, campaign_id, "decide", expected_version)
        self.require_open(campaign)
        if campaign.decided:
            raise RuleViolation(f"campaign {campaign.code} is already decided")
        if campaign.notice is None or not campaign.notice["closed"]:
            raise RuleViolation(f"campaign {campaign.code}: decisions follow the closed public notice")
        rubric = self.rubric_of(campaign)
        style = self.plugins.style(rubric.style)
        meta = self.campaign_meta(actor, campaign, on=on)
        approved = [cid for cid in campaign.candidacies if self.candidacy(actor, cid).status == APPROVED]
        pairs, evidence, positions = self._gather(actor, campaign, rubric, approved)
        still_open = [com.name for c, com in pairs if c.objection_counts()["open"]]
        if still_open:
            raise RuleViolation(f"objections still open for: {', '.join(still_open)}")
        listed = set(campaign.notice["candidacy_ids"])
        on_notice = [e for cid, e in evidence.items() if cid in listed]
        outcomes = {
            o.candidacy_id: o
            for o in self._checked(style.decide(self._context(campaign, rubric), on_notice), on_notice)
        }
        changed: list[Any] = []
        results: dict[str, bool] = {}
        for candidacy, community in pairs:
            cid = str(candidacy.id)
            outcome = outcomes.get(cid) or not_listed(rubric, evidence[cid], campaign.notice["preliminary"].get(cid))
            derivation = {
                "arithmetic": ARITHMETIC,
                "style": {"name": style.name, "version": style.version},
                "rubric": dict(campaign.rubric),
                "level": candidacy.level,
                "named": outcome.named,
                "reasons": list(outcome.reasons),
                "outcome": plain(outcome.derivation),
                "positions": positions[cid],
            }
            candidacy.decide(meta=meta, named=outcome.named, derivation=derivation)
            changed.append(candidacy)
            if outcome.named:
                community.award_title(
                    meta=meta, candidacy_id=cid, campaign_id=str(campaign.id), level=candidacy.level,
                    label=rubric.level(candidacy.level).label, rubric=campaign.rubric["hash"],
                    decision=[cid, candidacy.version],
                )
                if community not in changed:
                    changed.append(community)
            results[cid] = outcome.named
        campaign.record_decisions(meta=meta, outcomes={cid: {"named": named} for cid, named in results.items()})
        self.save_all(campaign, *changed)
        return results

    def put_forward(self, actor: Actor, candidacy_id: str, to: str, reason: str, on: str | None = None) -> None:
        """Put a named candidacy forward to a higher-level selection (推荐), e.g. a city's
        titled community as a province-level candidate. ``to`` names that selection in free
        text ("省级示范社区候选"); a candidacy is put forward to the same selection once.
        """
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "put_forward", readonly_campaign=True)
        if candidacy.status != NAMED:
            raise RuleViolation(f"candidacy is {candidacy.status}; only a named candidacy can be put forward")
        to = self.check_text("to", to, max_length=200)
        if any(entry["to"] == to for entry in candidacy.put_forward):
            raise RuleViolation(f"candidacy has already been put forward to {to!r}")
        meta = self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason))
        candidacy.record_put_forward(meta=meta, to=to)
        self.save_all(candidacy)

    def revoke(
        self, actor: Actor, candidacy_id: str, reason: str, findings: list[str], on: str | None = None
    ) -> None:
        """Revoke a title (摘牌) after failed rectification found by supervision.

        ``findings`` name ``INSPECTION_ID/FINDING_ID`` of supervision inspections of this
        candidacy whose rectification was rejected or is overdue.
        """
        candidacy, campaign = self._candidacy_for(actor, candidacy_id, "revoke")
        if candidacy.status != NAMED:
            raise RuleViolation(f"candidacy is {candidacy.status}; only a titled community can lose its title")
        meta = self.campaign_meta(actor, campaign, on=on, reason=self.check_text("reason", reason))
        if not isinstance(findings, list) or not findings:
            raise InvalidInput("findings", findings, "at least one INSPECTION_ID/FINDING_ID whose rectification failed")
        for ref in findings:
            inspection_id, _, finding_id = str(ref).partition("/")
            inspection = self.inspection(actor, inspection_id)
            if inspection.candidacy_id != str(candidacy.id) or inspection.purpose != "supervision":
                raise InvalidInput("findings", ref, "findings of supervision inspections of this candidacy")
            self._finding(inspection, finding_id)
            if not inspection.is_failed(finding_id, meta["effective"]):
                raise RuleViolation(
                    f"finding {ref} is {inspection.findings[finding_id]['status']} and not overdue on "
                    f"{meta['effective']}; revocation needs failed rectification"
                )
        community = self.community(actor, candidacy.community_id)
        candidacy.revoke(meta=meta, findings=[str(f) for f in findings])
        community.revoke_title(meta=meta, candidacy_id=str(candidacy.id), revocation=[str(candidacy.id), candidacy.version])
        self.save_all(candidacy, community)

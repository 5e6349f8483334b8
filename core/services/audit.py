"""Auditing recorded decisions: recompute them from the events they name, and answer what
a community's titles were on any date. Read-only: nothing here records anything."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import TopicError

from core import meaning
from core.actors import Actor
from core.domain import Campaign, Candidacy, Community
from core.errors import CivicError, InvalidInput, NotFound, PluginError, RuleViolation
from core.plugins.types import CandidateEvidence, DecisionContext, Outcome
from core.rubric import Rubric, item_ids_text
from core.services.base import project_events, unreadable
from core.services.decisions import NOT_LISTED, not_listed, plain
from core.exact import LEGACY_ARITHMETIC, published, shown
from core.styles import v1
from core.services.selections import SelectionCommands


@dataclass
class DecisionInputs:
    """A campaign's decisions with the evidence rebuilt at the stream positions they recorded."""

    context: DecisionContext
    decisions: dict[str, dict[str, Any]]
    evidence: dict[str, CandidateEvidence]
    on_notice: list[str]
    #: the preliminary listing the notice recorded, per candidacy ({"listed", "reasons"})
    preliminary: dict[str, Any] = field(default_factory=dict)
    #: per decision, the candidacy, community and campaign as it read them
    states: dict[str, dict[str, Any]] = field(default_factory=dict)


#: a campaign with, per decided candidacy, its decision and the candidacy as the decision read it
Recorded = tuple[Campaign, dict[str, tuple[dict[str, Any], Candidacy]]]


@dataclass
class Verdict:
    candidacy_id: str
    community: str
    level: str
    status: str  # "confirmed" | "mismatched" | "unverifiable"
    differences: list[str] = field(default_factory=list)


class AuditQueries(SelectionCommands):
    def decision_inputs(self, actor: Actor, campaign_id: str, recorded: Recorded | None = None) -> DecisionInputs:
        """Rebuild, from the events alone, everything the campaign's decision style was given
        (``recorded``: what :meth:`recorded_decisions` returned for it, if already read)."""
        campaign, decided = recorded or self.recorded_decisions(actor, campaign_id)
        if not decided:
            raise NotFound("decision of campaign", campaign_id)
        decisions: dict[str, dict[str, Any]] = {}
        evidence: dict[str, CandidateEvidence] = {}
        states: dict[str, dict[str, Any]] = {}
        notice_campaign: Campaign | None = None
        seen: dict[tuple[str, int], Any] = {}
        for cid, (decision, candidacy) in decided.items():
            at: dict[str, Any] = {"candidacy": candidacy}
            for kind, (stream, version) in decision["derivation"]["positions"].items():
                if kind == "candidacy":
                    continue
                # one decision's campaign (and often community) position is every decision's
                key = (stream, version)
                if key not in seen:
                    cls = {"community": Community, "campaign": Campaign}[kind]
                    seen[key] = self.load(cls, stream, actor, kind, version=version, readonly=True)
                at[kind] = seen[key]
            notice_campaign = at["campaign"]
            rubric = self._named_rubric(decision["derivation"]["rubric"]["hash"])
            decisions[cid] = decision
            states[cid] = at
            evidence[cid] = self.evidence(rubric, at["candidacy"], at["community"], arithmetic_of(decision))
        assert notice_campaign is not None
        rubric = self._named_rubric(notice_campaign.rubric["hash"])
        listed = set(notice_campaign.notice["candidacy_ids"]) if notice_campaign.notice else set()
        return DecisionInputs(
            context=DecisionContext(rubric=rubric, levels=list(notice_campaign.levels), quota=notice_campaign.quota),
            decisions=decisions,
            evidence=evidence,
            on_notice=[cid for cid in evidence if cid in listed],
            preliminary=dict(notice_campaign.notice["preliminary"]) if notice_campaign.notice else {},
            states=states,
        )

    def recorded_decisions(self, actor: Actor, campaign_id: str) -> Recorded:
        """The campaign and, per decided candidacy, its latest recorded decision with the
        candidacy as that decision read it (at the position it recorded).

        Each candidacy's events are read and decoded once: the decision comes from its last
        ``Decided`` event and the state at the recorded position is folded from the same
        events, rather than replaying the stream twice (once whole, once to the position).
        """
        campaign = self.load(Campaign, campaign_id, actor, "campaign", readonly=True)
        decided: dict[str, tuple[dict[str, Any], Candidacy]] = {}
        for cid in campaign.candidacies:
            uid = UUID(cid)
            try:
                events = list(self.events.get(uid))
            except TopicError as exc:
                raise unreadable(self.store, exc) from exc
            created = project_events(None, events[:1]) if events else None
            if not isinstance(created, Candidacy) or not self.can_see(actor, created.tenant):
                raise NotFound("candidacy", uid)
            last = next((e for e in reversed(events) if isinstance(e, Candidacy.Decided)), None)
            if last is None:
                continue
            decision = {"named": last.named, "derivation": last.derivation, "effective": last.meta.get("effective")}
            stream, version = decision["derivation"]["positions"]["candidacy"]
            if stream == cid and isinstance(version, int) and 1 <= version <= len(events):
                candidacy = project_events(None, (e for e in events if e.originator_version <= version))
            else:  # a position elsewhere is read as recorded: recomputing then shows what it changes
                candidacy = self.load(Candidacy, stream, actor, "candidacy", version=version, readonly=True)
            decided[cid] = (decision, candidacy)
        return campaign, decided

    def _named_rubric(self, content_hash: str) -> Any:
        try:
            return self.rubric_by_hash(content_hash)
        except NotFound:
            raise MissingRubric(f"rubric version {content_hash} named by the decision is not in the store") from None

    def verify_decisions(self, actor: Actor, campaign_id: str, recorded: Recorded | None = None) -> list[Verdict]:
        """Recompute every recorded decision of a campaign from the recorded events with the
        rubric version it names (by hash) and report each as confirmed or mismatched,
        with the differing lines of the derivation."""
        try:
            inputs = self.decision_inputs(actor, campaign_id, recorded)
        except (MissingRubric, RuleViolation, PluginError) as exc:  # the evidence cannot be rebuilt as recorded
            campaign = self.campaign(actor, campaign_id)
            return [
                Verdict(cid, self.community(actor, c.community_id).name, c.level, "unverifiable", [str(exc)])
                for cid in campaign.candidacies
                if (c := self.candidacy(actor, cid)).decision is not None
            ]
        groups: dict[tuple[str, str, str], list[str]] = {}
        for cid, decision in inputs.decisions.items():
            style = decision["derivation"]["style"]
            groups.setdefault((arithmetic_of(decision), style["name"], style["version"]), []).append(cid)
        verdicts: dict[str, Verdict] = {}
        for (arithmetic, name, version), cids in groups.items():
            try:
                style = self._style_for(name, version, arithmetic)
            except PluginError as exc:
                verdicts.update((cid, self._verdict(inputs, cid, "unverifiable", [str(exc)])) for cid in cids)
                continue
            candidates = [inputs.evidence[cid] for cid in inputs.on_notice]
            outcomes = {o.candidacy_id: o for o in style.decide(inputs.context, candidates)}
            memo: dict[int, Any] = {}  # the outcomes hold their shared parts while this runs
            for cid in cids:
                recorded = inputs.decisions[cid]["derivation"]
                outcome = outcomes.get(cid)
                actual = {"named": inputs.decisions[cid]["named"], "reasons": recorded["reasons"], "outcome": recorded["outcome"]}
                if outcome is None and arithmetic == LEGACY_ARITHMETIC:
                    expected = {"named": False, "outcome": v1.summary(inputs.evidence[cid])}
                    actual = {"named": actual["named"], "outcome": {k: v for k, v in recorded["outcome"].items() if k != "preliminary"}}
                else:
                    shared: dict[int, Any] | None = memo
                    if outcome is None:  # not on the notice: decided by the preliminary listing the notice recorded
                        outcome = not_listed(inputs.context.rubric, inputs.evidence[cid], inputs.preliminary.get(cid))
                        shared = None  # its parts live only for this comparison: nothing to share by id
                    expected = {"named": outcome.named, "reasons": list(outcome.reasons), "outcome": plain(outcome.derivation, shared)}
                differences = _diff(actual, expected)
                verdicts[cid] = self._verdict(inputs, cid, "mismatched" if differences else "confirmed", differences)
        return [verdicts[cid] for cid in inputs.decisions]

    def _style_for(self, name: str, version: str, arithmetic: str) -> Any:
        """The implementation of style ``name`` at ``version``: the core's own of that
        version, or the installed one when its version is the recorded one."""
        if arithmetic == LEGACY_ARITHMETIC and version == "1" and name in v1.STYLES:
            return v1.STYLES[name]
        style = self.plugins.style(name)
        if style.version != version:
            raise PluginError(f"recorded with style {{'name': {name!r}, 'version': {version!r}}}, installed is {style.name} {style.version}")
        return style

    def _verdict(self, inputs: DecisionInputs, cid: str, status: str, differences: list[str]) -> Verdict:
        evidence = inputs.evidence[cid]
        return Verdict(cid, evidence.community_name, evidence.level, status, differences)

    def titles_on(self, actor: Actor, community_id: str, day: str) -> Titles:
        """The titles a community held on ``day`` (effective dates), each with the decision
        (candidacy) that awarded it and, if it was later revoked, when.

        Only titles a verified decision backs are answered (:mod:`core.meaning`, rules
        T1-T5, checked against the community's stream and every stream it names); the
        recorded titles left out are in the answer's ``left_out``, each with why."""
        day = self.check_date("day", day)
        community = self.community(actor, community_id)
        report = meaning.check(self.meaning_events([community.id], steps=1))
        held = [t.row() for t in report.titles_of(community.id) if t.held_on(day)]
        rows = Titles(sorted(held, key=lambda t: (t["awarded"], t["level"])))
        rows.left_out = [t.as_dict() for t in report.left_out_of(community.id)]
        return rows

    # -- the meaning of the record (core.meaning) ----------------------------------------------

    def stored_events(self, streams: Iterable[UUID] | None) -> Iterator[meaning.Event]:
        """The stored events of ``streams`` (None: every stream), as :func:`core.meaning.check`
        takes them: stream, position, topic and the decoded JSON state."""
        wanted = None if streams is None else sorted(set(streams), key=str)
        chunks = [None] if wanted is None else [wanted[i:i + 500] for i in range(0, len(wanted), 500)]
        for chunk in chunks:
            for row in self.recorder.select_chain(chunk):
                if row.topic is None or row.state is None:
                    continue
                try:
                    state = json.loads(bytes(row.state))
                except ValueError:
                    state = None
                yield row.stream, row.version, row.topic.decode("utf-8", "replace"), state

    def meaning_events(self, streams: Iterable[UUID], *, steps: int | None = None) -> list[meaning.Event]:
        """The events of ``streams`` and of every stream they name, and of every stream
        those name, and so on (``steps``: only that many times): what
        :func:`core.meaning.check` needs to find everything the record names."""
        wanted = {s if isinstance(s, UUID) else UUID(str(s)) for s in streams}
        frontier = set(wanted)
        events: list[meaning.Event] = []
        done = 0
        while frontier:
            batch = list(self.stored_events(frontier))
            events += batch
            done += 1
            if steps is not None and done > steps:
                break
            frontier = meaning.named_streams(batch) - wanted
            wanted |= frontier
        return events

    def _version_recorded_by(self, actor: Actor, stream_id: str, recorded_by: str) -> int:
        try:
            moment = dt.datetime.fromisoformat(str(recorded_by))
        except ValueError:
            raise InvalidInput("recorded_by", recorded_by, "an ISO date-time, e.g. 2020-11-30T12:00:00+00:00") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        versions = [e.originator_version for e in self.stream_events(actor, stream_id) if e.timestamp <= moment]
        if not versions:
            raise NotFound("stream state recorded by", recorded_by)
        return max(versions)

    def stream_at(
        self, actor: Actor, stream_id: str, version: int | None = None, recorded_by: str | None = None
    ) -> Any:
        """Any stream as it was at event position ``version``, or with every event recorded
        by the ISO date-time ``recorded_by`` (time travel)."""
        if (version is None) == (recorded_by is None):
            raise InvalidInput("version/recorded_by", version if recorded_by is None else recorded_by,
                               "exactly one of an event position or a recorded date-time")
        if recorded_by is not None:
            version = self._version_recorded_by(actor, stream_id, recorded_by)
        try:
            uid = UUID(str(stream_id))
            aggregate = self.repository.get(uid, version=self.check_count("version", version, minimum=1))
        except (ValueError, AggregateNotFoundError):
            raise NotFound("stream", stream_id) from None
        owner = getattr(aggregate, "tenant", getattr(aggregate, "code", None))
        if owner is not None and not self.can_see(actor, owner):
            raise NotFound("stream", stream_id)
        return aggregate

    # -- what-if: the same evidence under another rubric version ---------------------------

    def whatif(
        self, actor: Actor, campaign_id: str, rubric_ref: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> WhatIf:
        """Recompute every recorded decision of a campaign under another rubric version
        (``rubric_ref`` = ``id@version``, one the campaign's tenant can use) and report, per
        decision, what the other version would decide, why, and which figures and checks
        differ. Reads only: nothing is recorded.

        Each decision's evidence is rebuilt from the events at the stream positions the
        decision recorded, scored under the other version and decided by that version's
        decision style over the candidates on the recorded public notice. A candidacy that
        was not on the notice is added to the what-if list when the other version's
        preliminary list (drawn over every decided candidacy, as at the notice) would have
        listed it. A candidacy the other version cannot score (items or a level it lacks) is
        reported with the reason. ``progress(done, total)`` is called as decisions are
        rebuilt (``done`` 0 first, once the total is known).
        """
        campaign = self.campaign(actor, campaign_id)  # NotFound for anyone who may not see it
        other, provided_by = self._whatif_rubric(actor, campaign, rubric_ref)
        inputs = self.decision_inputs(actor, campaign_id)
        recorded_rubric = dict(campaign.rubric)
        same = other.content_hash == recorded_rubric["hash"]
        total = len(inputs.decisions)
        if progress is not None:
            progress(0, total)

        evidence: dict[str, CandidateEvidence] = {}
        unscorable: dict[str, list[str]] = {}
        for done, (cid, decision) in enumerate(inputs.decisions.items(), start=1):
            at = inputs.states[cid]
            problems = _unscorable_under(other, at["candidacy"])
            if not problems:
                try:
                    evidence[cid] = self.evidence(other, at["candidacy"], at["community"])
                except RuleViolation as exc:
                    problems = [f"{other.ref}: {exc}"]
            if problems:
                unscorable[cid] = problems
            if progress is not None:
                progress(done, total)

        notes: list[str] = []
        try:
            style = self.plugins.style(other.style)
        except PluginError as exc:
            style = None
            for cid in evidence:
                unscorable[cid] = [f"{other.ref}: {exc}"]
            evidence = {}
        if style is not None:
            installed = {"name": style.name, "version": style.version}
            used = {(d["derivation"]["style"]["name"], d["derivation"]["style"]["version"]) for d in inputs.decisions.values()}
            for name, version in sorted(used):
                if {"name": name, "version": version} != installed:
                    notes.append(
                        f"决定记录时使用评定方式 {name} {version}，推演使用 {style.name} {style.version} "
                        f"(decisions were recorded with style {name} {version}; the what-if uses {style.name} {style.version})"
                    )
        context = DecisionContext(rubric=other, levels=list(inputs.context.levels), quota=inputs.context.quota)

        # the what-if public notice list: the recorded one, plus candidacies the other
        # version's preliminary list would have added (only another version can add any)
        listed = [cid for cid in inputs.on_notice if cid in evidence]
        not_listed = [cid for cid in inputs.decisions if cid not in inputs.on_notice and cid in evidence]
        preliminary: dict[str, Outcome] = {}
        if style is not None and not same and not_listed:
            try:
                preliminary = {o.candidacy_id: o for o in style.preliminary(context, list(evidence.values()))}
            except (CivicError, ValueError, KeyError) as exc:
                for cid in not_listed:
                    unscorable[cid] = [f"{other.ref}: preliminary list / 初选名单: {exc}"]
                    del evidence[cid]
                not_listed = []
        added = [cid for cid in not_listed if cid in preliminary and preliminary[cid].named]

        outcomes: dict[str, Outcome] = {}
        candidates = [evidence[cid] for cid in inputs.decisions if cid in listed or cid in added]
        if style is not None and candidates:
            try:
                outcomes = {o.candidacy_id: o for o in style.decide(context, candidates)}
            except (CivicError, ValueError, KeyError) as exc:
                for c in candidates:
                    unscorable[c.candidacy_id] = [f"{other.ref}: decision / 命名决定: {exc}"]
                    del evidence[c.candidacy_id]
            for c in candidates:
                if c.candidacy_id not in outcomes and c.candidacy_id not in unscorable:
                    unscorable[c.candidacy_id] = [
                        f"{other.ref}: 评定方式未给出结果 (decision style {style.name} returned no outcome for it)"
                    ]

        # figures of the recorded version's preliminary list, to show what the other one changes
        recorded_listing = self._recorded_listing(inputs) if preliminary else {}

        rows = []
        for cid, decision in inputs.decisions.items():
            recorded = decision["derivation"]
            recorded_named = bool(recorded["named"])
            base = dict(
                candidacy_id=cid,
                community=inputs.evidence[cid].community_name,
                level=inputs.evidence[cid].level,
                recorded_named=recorded_named,
                recorded_reasons=list(recorded["reasons"]),
                recorded_total=shown(recorded["outcome"].get("total")),
                on_notice=cid in inputs.on_notice,
            )
            if cid in unscorable:
                rows.append(WhatIfDecision(**base, whatif_named=None, changed=False, status="unscorable",
                                           reasons=unscorable[cid]))
                continue
            row_notes: list[str] = []
            outcome = outcomes.get(cid)
            if outcome is not None and cid in inputs.on_notice:
                named, reasons = outcome.named, list(outcome.reasons)
                differences = _changes(
                    {"named": recorded_named, "outcome": recorded["outcome"]},
                    {"named": named, "outcome": plain(outcome.derivation)},
                )
            else:
                listed_before = recorded["outcome"].get("preliminary") or {"listed": False, "reasons": []}
                if cid in preliminary:  # another version: its own preliminary list decides the listing
                    listing = preliminary[cid]
                    now = {"listed": listing.named, "reasons": list(listing.reasons), **plain(listing.derivation)}
                    figures = recorded_listing.get(cid, {})
                    before = {**listed_before, **{k: v for k, v in figures.items() if k not in listed_before}}
                else:  # the same version: the recorded listing stands
                    now = before = listed_before
                if outcome is not None:  # the other version would have put it on the notice
                    named, reasons = outcome.named, list(outcome.reasons)
                    row_notes.append(
                        f"未列入所记录的公示名单；按 {other.ref} 的初选规则将列入公示，公示期内无从提出异议 "
                        f"(not on the recorded public notice list; {other.ref}'s preliminary list would have "
                        "listed it, and no objection could have been filed against it)"
                    )
                else:
                    named, reasons = False, [*now.get("reasons", []), NOT_LISTED]
                differences = _changes(
                    {"named": recorded_named, "preliminary": before}, {"named": named, "preliminary": now}
                )
            changed = named != recorded_named
            rows.append(WhatIfDecision(
                **base,
                whatif_named=named,
                changed=changed,
                status="changed" if changed else "unchanged",
                reasons=reasons,
                whatif_total=published(evidence[cid].total, other.published_as),
                differences=differences,
                notes=row_notes,
            ))
        return WhatIf(
            campaign_id=str(campaign.id),
            campaign=campaign.code,
            tenant=campaign.tenant,
            recorded_rubric=f"{recorded_rubric['id']}@{recorded_rubric['version']}",
            recorded_hash=recorded_rubric["hash"],
            rubric=other.ref,
            rubric_hash=other.content_hash,
            provided_by=provided_by,
            style=f"{style.name} {style.version}" if style is not None else other.style,
            decisions=rows,
            notes=notes,
        )

    def _whatif_rubric(self, actor: Actor, campaign: Campaign, rubric_ref: Any) -> tuple[Rubric, str]:
        """The rubric version ``id@version`` among those the campaign's tenant can use (its
        own imported versions and the plugins'), and who provides it."""
        tenant = self.tenant(actor, campaign.tenant)
        provided = {p.rubric.ref: p for p in self.plugins.rubrics()}
        allowed = sorted({*tenant.rubrics, *provided})
        ref = rubric_ref.strip() if isinstance(rubric_ref, str) else None
        if ref in tenant.rubrics:
            return self.rubric_by_hash(tenant.rubrics[ref]), f"tenant {tenant.code}"
        if ref in provided:
            return provided[ref].rubric, f"plugin {provided[ref].plugin}"
        raise InvalidInput(
            "rubric", rubric_ref,
            f"RUBRIC@VERSION, a version tenant {tenant.code} can use: {', '.join(allowed) or '(none)'}",
        )

    def _recorded_listing(self, inputs: DecisionInputs) -> dict[str, dict[str, Any]]:
        """The figures of the recorded version's preliminary list (the notice records only
        listed/reasons), recomputed from the same evidence; empty if its style is missing."""
        try:
            style = self.plugins.style(inputs.context.rubric.style)
            outcomes = style.preliminary(inputs.context, list(inputs.evidence.values()))
        except (CivicError, ValueError, KeyError):
            return {}
        return {o.candidacy_id: plain(o.derivation) for o in outcomes}


def arithmetic_of(decision: dict[str, Any]) -> str:
    """The arithmetic a recorded decision was made with (unmarked: the 4-decimal one)."""
    return decision["derivation"].get("arithmetic", LEGACY_ARITHMETIC)


class Titles(list):  # type: ignore[type-arg]
    """The titles a community held on a day (plain rows, as before) and, in ``left_out``,
    the community's recorded titles that no verified decision backs, each with its
    ``reasons`` (:class:`core.meaning.LeftOut` as a dict)."""

    left_out: list[dict[str, Any]]

    def __init__(self, rows: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.left_out = []


class MissingRubric(NotFound):
    """A decision names a rubric version the store does not hold."""

    def __init__(self, message: str) -> None:
        CivicError.__init__(self, message)


@dataclass
class WhatIfDecision:
    """One recorded decision and what another rubric version would decide instead."""

    candidacy_id: str
    community: str
    level: str
    recorded_named: bool
    whatif_named: bool | None  # None: the other version cannot score this candidacy
    changed: bool  # the what-if names it where the record does not, or the reverse
    status: str  # "changed" | "unchanged" | "unscorable"
    reasons: list[str]  # the what-if reasons; for an unscorable candidacy, why
    recorded_reasons: list[str]
    recorded_total: str | None
    on_notice: bool  # on the recorded public notice list
    whatif_total: str | None = None
    differences: list[str] = field(default_factory=list)  # "path: recorded -> what-if"
    notes: list[str] = field(default_factory=list)


@dataclass
class WhatIf:
    """A campaign's decisions recomputed under another rubric version (nothing recorded)."""

    campaign_id: str
    campaign: str
    tenant: str
    recorded_rubric: str  # id@version the campaign pinned and decided with
    recorded_hash: str
    rubric: str  # id@version of the what-if
    rubric_hash: str
    provided_by: str
    style: str
    decisions: list[WhatIfDecision]
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[WhatIfDecision]:
        return [d for d in self.decisions if d.status == "changed"]

    @property
    def unchanged(self) -> list[WhatIfDecision]:
        return [d for d in self.decisions if d.status == "unchanged"]

    @property
    def unscorable(self) -> list[WhatIfDecision]:
        return [d for d in self.decisions if d.status == "unscorable"]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unscorable_under(rubric: Rubric, candidacy: Candidacy) -> list[str]:
    """Why ``rubric`` cannot score this candidacy's recorded evidence (empty when it can)."""
    problems = []
    levels = [lv.id for lv in rubric.levels]
    if candidacy.level not in levels:
        problems.append(
            f"{rubric.ref} 未设级别 {candidacy.level} "
            f"(level {candidacy.level!r} is not defined by {rubric.ref}; its levels: {', '.join(levels)})"
        )
    sheets = [sheet for kind in candidacy.scores.values() for sheet in kind.values()]
    sheets.append(candidacy.application_scores)
    known = {item.id: item for item in rubric.items()}
    lacking = item_ids_text(list({item for sheet in sheets for item in sheet if item not in known}))
    if lacking:
        problems.append(
            f"{rubric.ref} 无评分项 {lacking} "
            f"(item(s) {lacking} of the recorded score sheets are not items of {rubric.ref})"
        )
    over = item_ids_text(list({
        item for sheet in sheets for item, points in sheet.items()
        if item in known and Decimal(points) > known[item].max_points
    }))
    if over:
        problems.append(
            f"{rubric.ref} 中评分项 {over} 的分值低于所记录的得分 "
            f"(recorded points for item(s) {over} exceed their maximum under {rubric.ref})"
        )
    vetoes = sorted(set(candidacy.vetoes) - {v.id for v in rubric.veto_items})
    if vetoes:
        problems.append(
            f"{rubric.ref} 无一票否决项 {', '.join(vetoes)} "
            f"(recorded veto item(s) {', '.join(vetoes)} are not veto items of {rubric.ref})"
        )
    return problems


def _flat(value: Any, path: str, into: dict[str, Any]) -> dict[str, Any]:
    """Plain derivation data as path -> value; a list of checks is keyed by rule."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flat(item, f"{path}.{key}" if path else str(key), into)
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "rule" in v for v in value):
        for check in value:
            _flat({k: v for k, v in check.items() if k != "rule"}, f"{path}[{check['rule']}]", into)
    else:
        into[path] = value
    return into


_ABSENT = object()


def _shown(value: Any, limit: int = 160) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _changes(recorded: dict[str, Any], whatif: dict[str, Any]) -> list[str]:
    """The figures and checks that differ, one line each: ``path: recorded -> what-if``."""
    a, b = _flat(recorded, "", {}), _flat(whatif, "", {})
    paths = [*a, *(p for p in b if p not in a)]
    return [
        f"{path}: {_shown(a.get(path, _ABSENT))} -> {_shown(b.get(path, _ABSENT))}"
        for path in paths
        if a.get(path, _ABSENT) != b.get(path, _ABSENT)
    ]


def _diff(recorded: dict[str, Any], recomputed: dict[str, Any]) -> list[str]:
    if recorded == recomputed:
        return []
    a = json.dumps(recorded, ensure_ascii=False, sort_keys=True, indent=1).splitlines()
    b = json.dumps(recomputed, ensure_ascii=False, sort_keys=True, indent=1).splitlines()
    if a == b:
        return []
    return [line for line in difflib.unified_diff(a, b, "recorded", "recomputed", lineterm="", n=1)]


"""Cross-stream meaning checks: what the events say about each other must hold.

The hash chains (:mod:`core.chain`) prove that every stored byte is the byte that was
recorded; they say nothing about whether the events agree with each other. An insider
who can append rows to the store (or an exporter who leaves streams out of a bundle)
keeps every chain whole and still changes what the record means: a ``TitleAwarded``
appended to a community's stream, a decision dropped from a set of events, an
inspection left out. This module checks the meaning, from the events alone: no store,
no plugin, nothing installed but the core's domain module (for the event topics).

``check(events)`` takes every event of a set of streams as ``(stream id, position,
topic, state)``: the topic as stored (``core.domain.community:Community.TitleAwarded``)
and the state decoded from the JSON the store holds, metadata included. The events may
come in any order. It returns a :class:`MeaningReport`: every problem, located at the
event it was found on (stream, position, kind of problem, message in Chinese, then
English), and the facts derived from the events: the campaigns they hold (streams of
``Campaign`` events, never a list written down elsewhere) and the titles a verified
decision backs (the rest of the recorded titles are listed as left out, with why).

Rules
=====

A reference names a stream by its id (a candidacy, campaign, community or inspection) or a
rubric version by its content hash. "Present" means among the events given, as a stream
of the kind named (a rubric version: a ``RubricRecord.Recorded`` event with that
``content_hash``). A reference to something not present is a problem (``not_present``):
what the given events do not hold cannot be checked.

Streams
-------

S1 ``positions``: a stream's positions are 1, 2, 3, … with none missing or repeated.
S2 ``unknown``: every topic is one of the platform's event types.
S3 ``kind``: a stream's events belong to one aggregate; position 1 is its creation event
   (``Tenant.Registered``, ``Community.Registered``, ``Campaign.Created``,
   ``Candidacy.Applied``, ``Inspection.Conducted``, ``RubricRecord.Recorded``,
   ``Selection.Opened``, ``VisitPlan.Sealed``, ``AccessToken.Issued``) and no later
   position is.
S4 ``malformed``: the fields these rules read are there, with the right JSON types.

References
----------

R1 ``Candidacy.Applied`` names its campaign and community: both present; the campaign
   lists the candidacy (``Campaign.CandidacyListed``) with the same community and level.
R2 ``Campaign.CandidacyListed`` names a candidacy (present; its ``Applied`` names this
   campaign, the same community and level) and a community (present); a candidacy is
   listed once. ``CandidateListAmended`` with change ``remove`` names a present
   candidacy; ``PublicNoticeOpened`` names present candidacies of the campaign (its list
   and its preliminary outcomes).
R3 ``Campaign.Created`` names its rubric version (``rubric.hash``): present, with the
   same rubric id and version.
R4 ``Candidacy.InspectionLinked`` names an inspection: present, and its ``Conducted``
   names this candidacy. ``Inspection.Conducted`` names its campaign, community and
   (when it has one) candidacy: present; the candidacy is of the same campaign and
   community and links the inspection exactly once.
R5 ``Candidacy.Decided``: its derivation's ``named`` and ``level`` (where recorded)
   are the event's and the candidacy's; its rubric version is present; each stream
   position it read (``positions``: candidacy, community, campaign) is present (the
   stream and an event at that position): the candidacy position is this stream before
   the decision, the community position the candidacy's community, the campaign
   position the candidacy's campaign. A candidacy is decided once (``duplicate``).
R6 The decisions summary: a campaign records its decisions once
   (``Campaign.DecisionsRecorded``, ``outcomes``: candidacy -> ``{"named"}``). Every
   candidacy it names is present, of this campaign, and has a ``Decided`` event with the
   same outcome (``summary``); every ``Decided`` of a candidacy whose campaign is
   present is in that campaign's summary (``unrecorded``).
R7 ``Candidacy.Revoked`` follows a ``Decided`` that named the candidacy; each finding
   it names (``INSPECTION_ID/FINDING_ID``) is a ``FindingRecorded`` of a present
   inspection of this candidacy; the community records the revocation (``TitleRevoked``).
R8 A named decision's title is recorded: its community (present) has a ``TitleAwarded``
   for the candidacy (``unrecorded``).
R9 ``RubricRecord.Recorded``: the definition hashes (SHA-256 of its UTF-8 text) to
   ``content_hash`` and the stream is the one the platform derives from that hash
   (``hash``); one record per hash.
R10 A tenant's stream, when present, lists (``CommunityListed``, ``CampaignListed``)
   every present community and campaign of that tenant, and names only present ones;
   ``RubricConfigured`` names a present rubric version.
R11 ``Selection.Nominated`` names a present community (when it names one);
   ``VisitPlan.Sealed`` a present campaign; ``VisitPlan.Revealed`` a present candidacy
   and inspection.

Titles
------

T1 A ``Community.TitleAwarded`` names its decision: the ``Decided`` event at
   ``decision`` = ``[candidacy id, position]``; an award recorded before awards named
   the position names the candidacy only, and its decision is that candidacy's one
   ``Decided`` event. The decision must be present, at that position of that stream.
T2 The decision agrees with the award: it named the candidacy; the candidacy is of this
   community, of the award's campaign and level; the decision was made under the award's
   rubric version, on the award's effective date; the award's label is the label of its
   level in that rubric version (present).
T3 The decision is in its campaign's decisions summary (R6) as named.
T4 A decision grants one title: a later award naming the same candidacy, in any
   community, is not backed (``duplicate``).
T5 A ``Community.TitleRevoked`` names its revocation: the ``Revoked`` event at
   ``revocation`` = ``[candidacy id, position]`` (before that was named: the candidacy's
   one ``Revoked`` event), present, on the same effective date; it revokes a title this
   community was awarded earlier in its stream, once.

A recorded title (a ``TitleAwarded``, with the ``TitleRevoked`` that later names the
same candidacy in the same stream) is **backed** when its award passes T1-T4, its
revocation (if any) passes T5, and the candidacy records no revocation the community
does not (R7). Every other recorded title is **left out**, with the reasons. Problems
elsewhere (a missing inspection, say) do not unback a title; they are problems all the
same.

Every problem names the event it was found on: the referring event for a reference, the
award or revocation for a title, the summary or the decision for R6.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from core.domain import ids

#: What each kind of problem means, in Chinese and English.
PROBLEMS = {
    "positions": "事件位置不连续 (the stream's positions are not 1, 2, 3 and so on without gaps or repeats)",
    "unknown": "事件类型未知 (not one of the platform's event types)",
    "kind": "记录类型不一致 (the stream does not begin with its creation event, or mixes kinds)",
    "malformed": "事件内容无法读取 (a field the checks read is missing or of the wrong type)",
    "not_present": "所指记录不在其中 (it names something that is not among the events)",
    "disagrees": "与所指记录不符 (what it names says otherwise)",
    "unrecorded": "对应记录缺失 (the record that must accompany it is missing)",
    "summary": "决定与活动的决定汇总不符 (a decision and its campaign's decisions summary disagree)",
    "duplicate": "重复记录 (recorded more than once)",
    "hash": "评分标准版本与其哈希不符 (the rubric version does not match its content hash)",
}

#: One event as :func:`check` takes it: stream id, position, topic as stored, decoded state.
Event = tuple[UUID | str, int, str, Any]

_CLASSES = ("AccessToken", "Campaign", "Candidacy", "Community", "Inspection", "RubricRecord", "Selection", "Tenant",
            "VisitPlan")
_CREATION = {
    "Tenant": "Registered", "Community": "Registered", "Campaign": "Created", "Candidacy": "Applied",
    "Inspection": "Conducted", "RubricRecord": "Recorded", "Selection": "Opened", "VisitPlan": "Sealed",
    "AccessToken": "Issued",
}


def _known_topics() -> dict[str, tuple[str, str]]:
    """topic -> (aggregate class name, event name) of every event type of the platform."""
    from eventsourcing.domain import DomainEvent

    from core import domain

    found: dict[str, tuple[str, str]] = {}
    for name in _CLASSES:
        aggregate = getattr(domain, name)
        for event_name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, DomainEvent) and event_name not in ("Event",):
                if event_name == "Created" and _CREATION[name] != "Created":
                    continue
                found[get_topic(value)] = (name, event_name)
    return found


TOPICS = _known_topics()


def _zh_en(zh: str, en: str) -> str:
    return f"{zh} ({en})"


# -- what the report holds ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem, at the event it was found on."""

    stream: str
    version: int | None
    what: str  # a key of PROBLEMS
    message: str  # Chinese first, then English in parentheses

    @property
    def explanation(self) -> str:
        return PROBLEMS[self.what]

    def as_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "version": self.version, "what": self.what,
                "explanation": self.explanation, "message": self.message}

    def __str__(self) -> str:
        at = f"stream {self.stream}" + (f" position {self.version}" if self.version else "")
        return f"{at}: {self.message}"


@dataclass(frozen=True)
class Title:
    """A title a verified decision backs, with its revocation, if any."""

    community_id: str
    candidacy_id: str
    campaign_id: str
    level: str
    label: str
    rubric: str
    awarded: str | None
    revoked: str | None
    #: (community stream, position) of the TitleAwarded
    award: tuple[str, int]
    #: (candidacy stream, position) of the Decided that grants it
    decision: tuple[str, int]
    #: (candidacy stream, position) of the Revoked that removes it
    revocation: tuple[str, int] | None = None

    def row(self) -> dict[str, Any]:
        """As ``titles_on`` answers it (``civic audit titles --json``)."""
        return {"candidacy_id": self.candidacy_id, "campaign_id": self.campaign_id, "level": self.level,
                "label": self.label, "rubric": self.rubric, "awarded": self.awarded, "revoked": self.revoked}

    def held_on(self, day: str) -> bool:
        return self.awarded is not None and self.awarded <= day and (self.revoked is None or self.revoked > day)


@dataclass(frozen=True)
class LeftOut:
    """A recorded title (one ``TitleAwarded``) that no verified decision backs, and why."""

    community_id: str
    candidacy_id: str
    level: str | None
    label: str | None
    awarded: str | None
    revoked: str | None
    #: position of the TitleAwarded in the community's stream
    version: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"community_id": self.community_id, "candidacy_id": self.candidacy_id, "level": self.level,
                "label": self.label, "awarded": self.awarded, "revoked": self.revoked,
                "stream": self.community_id, "version": self.version, "reasons": list(self.reasons)}


@dataclass
class MeaningReport:
    """The result of :func:`check`."""

    streams: int = 0
    events: int = 0
    #: ids of the campaigns the events hold (streams of Campaign events), sorted
    campaigns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: titles a verified decision backs, by community stream and award position
    titles: list[Title] = field(default_factory=list)
    #: recorded titles left out, by community stream and award position
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def titles_of(self, community_id: str | UUID) -> list[Title]:
        key = str(community_id)
        return [t for t in self.titles if t.community_id == key]

    def left_out_of(self, community_id: str | UUID) -> list[LeftOut]:
        key = str(community_id)
        return [t for t in self.left_out if t.community_id == key]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "streams": self.streams, "events": self.events, "campaigns": list(self.campaigns),
            "problems": [p.as_dict() for p in self.problems],
            "titles": len(self.titles),
            "left_out": [t.as_dict() for t in self.left_out],
        }


# -- reading the facts ------------------------------------------------------------------------


class _Malformed(Exception):
    pass


_NOTHING = object()


def _get(state: dict[str, Any], key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    value = state.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _Malformed(key)
    return value


def _effective(state: dict[str, Any]) -> str | None:
    meta = state.get("meta")
    if not isinstance(meta, dict):
        raise _Malformed("meta")
    value = meta.get("effective")
    if value is not None and not isinstance(value, str):
        raise _Malformed("meta.effective")
    return value


def _position(value: Any, name: str) -> tuple[str, int]:
    if (not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], str)
            or not isinstance(value[1], int) or isinstance(value[1], bool)):
        raise _Malformed(name)
    return value[0], value[1]


@dataclass
class _Stream:
    kind: str | None = None
    kinds: set[str] = field(default_factory=set)
    versions: list[int] = field(default_factory=list)
    creations: list[int] = field(default_factory=list)  # positions of creation events


@dataclass
class _Decision:
    stream: str
    version: int
    named: bool
    effective: str | None
    level: str | None
    rubric: str | None
    derivation_named: Any
    positions: dict[str, tuple[str, int]] | None


@dataclass
class _Award:
    stream: str
    version: int
    candidacy: str
    campaign: str
    level: str
    label: str
    rubric: str
    effective: str | None
    decision: tuple[str, int] | None


@dataclass
class _TitleRevocation:
    stream: str
    version: int
    candidacy: str
    effective: str | None
    revocation: tuple[str, int] | None


@dataclass
class _RubricFacts:
    stream: str
    version: int
    rubric_id: str
    rubric_version: str
    #: level id -> label, when the definition matches its hash
    labels: dict[str, str] | None


@dataclass
class _Revocation:
    version: int
    effective: str | None
    findings: list[str]


class _Facts:
    """What the checks need of each event, read in one pass (the states are not kept)."""

    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}
        self.problems: list[Problem] = []
        self.events = 0
        self._last_stream: Any = _NOTHING
        self._last: tuple[str, _Stream] = ("", _Stream())
        self.candidacies: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, list[_Decision]] = {}
        self.revocations: dict[str, list[_Revocation]] = {}
        self.links: dict[str, list[tuple[int, str]]] = {}
        self.communities: dict[str, dict[str, Any]] = {}
        self.awards: list[_Award] = []
        self.title_revocations: list[_TitleRevocation] = []
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.listed: dict[str, list[tuple[int, str, str, str]]] = {}
        self.summaries: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.inspections: dict[str, dict[str, Any]] = {}
        self.findings: dict[str, set[str]] = {}
        self.rubrics: dict[str, list[_RubricFacts]] = {}
        self.tenants: dict[str, str] = {}  # tenant code -> tenant stream
        self.tenant_lists: dict[str, dict[str, set[str]]] = {}
        #: simple references: (stream, version, kind, target, what it is, zh, en)
        self.refs: list[tuple[str, int, str, str, str, str]] = []

    def problem(self, stream: str, version: int | None, what: str, zh: str, en: str) -> None:
        self.problems.append(Problem(stream, version, what, _zh_en(zh, en)))

    def add(self, stream: Any, version: int, topic: str, state: Any) -> None:
        self.events += 1
        if stream is self._last_stream or stream == self._last_stream:  # events come grouped by stream
            sid, record = self._last
        else:
            sid = str(stream)
            record = self.streams.get(sid)
            if record is None:
                record = self.streams[sid] = _Stream()
            self._last_stream, self._last = stream, (sid, record)
        record.versions.append(version)
        known = _EVENTS.get(topic)
        if known is None:
            self.problem(sid, version, "unknown", f"事件类型 {topic!r} 不是本平台的事件类型",
                         f"topic {topic!r} is not one of the platform's event types")
            return
        kind, name, creation, reader = known
        if kind is not record.kind:
            record.kinds.add(kind)
            if record.kind is None:
                record.kind = kind
        if creation:
            record.creations.append(version)
        if reader is None:
            return
        if not isinstance(state, dict):
            self.problem(sid, version, "malformed", "事件内容不是 JSON 对象", "the state is not a JSON object")
            return
        try:
            reader(self, sid, version, state)
        except _Malformed as exc:
            self.problem(sid, version, "malformed", f"{kind}.{name} 的字段 {exc} 缺失或类型不对",
                         f"field {exc} of {kind}.{name} is missing or of the wrong type")

    def ref(self, stream: str, version: int, kind: str, target: str, zh: str, en: str) -> None:
        self.refs.append((stream, version, kind, target, zh, en))


def _applied(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.candidacies[sid] = {
        "campaign": _get(s, "campaign_id", str), "community": _get(s, "community_id", str),
        "level": _get(s, "level", str), "tenant": _get(s, "tenant", str), "at": version,
    }


def _decided(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    named = _get(s, "named", bool)
    derivation = _get(s, "derivation", dict)
    rubric = derivation.get("rubric")
    raw = derivation.get("positions")
    positions = None
    if raw is not None:
        if not isinstance(raw, dict):
            raise _Malformed("derivation.positions")
        positions = {k: _position(v, f"derivation.positions.{k}") for k, v in raw.items()}
    level = derivation.get("level")
    f.decisions.setdefault(sid, []).append(_Decision(
        sid, version, named, _effective(s), level if isinstance(level, str) else None,
        rubric.get("hash") if isinstance(rubric, dict) and isinstance(rubric.get("hash"), str) else None,
        derivation.get("named", named), positions,
    ))


def _revoked(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    findings = _get(s, "findings", list)
    if not all(isinstance(x, str) for x in findings):
        raise _Malformed("findings")
    f.revocations.setdefault(sid, []).append(_Revocation(version, _effective(s), list(findings)))


def _linked(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.links.setdefault(sid, []).append((version, _get(s, "inspection_id", str)))


def _community(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.communities[sid] = {"tenant": _get(s, "tenant", str), "at": version}


def _awarded(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    decision = s.get("decision")
    f.awards.append(_Award(
        sid, version, _get(s, "candidacy_id", str), _get(s, "campaign_id", str), _get(s, "level", str),
        _get(s, "label", str), _get(s, "rubric", str), _effective(s),
        None if decision is None else _position(decision, "decision"),
    ))


def _title_revoked(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    revocation = s.get("revocation")
    f.title_revocations.append(_TitleRevocation(
        sid, version, _get(s, "candidacy_id", str), _effective(s),
        None if revocation is None else _position(revocation, "revocation"),
    ))


def _campaign(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    rubric = _get(s, "rubric", dict)
    if not all(isinstance(rubric.get(k), str) for k in ("id", "version", "hash")):
        raise _Malformed("rubric")
    f.campaigns[sid] = {"tenant": _get(s, "tenant", str), "rubric": rubric, "at": version}


def _listed(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.listed.setdefault(sid, []).append(
        (version, _get(s, "candidacy_id", str), _get(s, "community_id", str), _get(s, "level", str)))


def _amended(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    if _get(s, "change", str) == "remove":
        f.ref(sid, version, "Candidacy", _get(s, "candidacy_id", str), "名单变更所指的申报", "the candidacy the amendment removes")


def _notice(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    listed = _get(s, "candidacy_ids", list)
    preliminary = _get(s, "preliminary", dict)
    for cid in [*listed, *(k for k in preliminary if k not in listed)]:
        if not isinstance(cid, str):
            raise _Malformed("candidacy_ids")
        f.ref(sid, version, "Candidacy", cid, "公示所列的申报", "a candidacy of the public notice")


def _summary(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    outcomes = _get(s, "outcomes", dict)
    named: dict[str, Any] = {}
    for cid, outcome in outcomes.items():
        if not isinstance(outcome, dict) or not isinstance(outcome.get("named"), bool):
            raise _Malformed(f"outcomes.{cid}")
        named[cid] = outcome["named"]
    f.summaries.setdefault(sid, []).append((version, named))


def _conducted(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.inspections[sid] = {
        "campaign": _get(s, "campaign_id", str), "community": _get(s, "community_id", str),
        "candidacy": _get(s, "candidacy_id", str, optional=True), "at": version,
    }


def _finding(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.findings.setdefault(sid, set()).add(_get(s, "finding_id", str))


def _rubric(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    content_hash = _get(s, "content_hash", str)
    definition = _get(s, "definition", str)
    record = _RubricFacts(sid, version, _get(s, "rubric_id", str), _get(s, "rubric_version", str), None)
    if "sha256:" + hashlib.sha256(definition.encode("utf-8", "surrogatepass")).hexdigest() != content_hash:
        f.problem(sid, version, "hash", f"评分标准定义与其哈希 {content_hash} 不符",
                  f"the rubric definition does not hash to its content_hash {content_hash}")
    else:
        try:
            record.labels = {lv["id"]: lv["label"] for lv in json.loads(definition).get("levels", [])}
        except (ValueError, AttributeError, TypeError, KeyError):
            raise _Malformed("definition") from None
    if sid != str(ids.rubric_record_id(content_hash)):
        f.problem(sid, version, "hash", f"评分标准版本 {content_hash} 不在其哈希所对应的记录中",
                  f"rubric version {content_hash} is recorded in stream {sid}, not in the one its hash names "
                  f"({ids.rubric_record_id(content_hash)})")
    f.rubrics.setdefault(content_hash, []).append(record)


def _tenant(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.tenants[_get(s, "code", str)] = sid
    f.tenant_lists.setdefault(sid, {"Community": set(), "Campaign": set()})


def _tenant_lists(kind: str, key: str) -> Any:
    def read(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
        target = _get(s, key, str)
        f.tenant_lists.setdefault(sid, {"Community": set(), "Campaign": set()})[kind].add(target)
        f.ref(sid, version, kind, target, "租户登记的记录", f"the {kind.lower()} the tenant lists")
    return read


def _rubric_configured(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.ref(sid, version, "rubric", _get(s, "content_hash", str), "租户配置的评分标准版本", "the rubric version the tenant configured")


def _nominated(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    community = _get(s, "community_id", str, optional=True)
    if community is not None:
        f.ref(sid, version, "Community", community, "被提名人所在的社区", "the nominee's community")


def _sealed(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.ref(sid, version, "Campaign", _get(s, "campaign_id", str), "暗访计划所属的活动", "the visit plan's campaign")


def _revealed(f: _Facts, sid: str, version: int, s: dict[str, Any]) -> None:
    f.ref(sid, version, "Candidacy", _get(s, "candidacy_id", str), "暗访对象", "the visited candidacy")
    f.ref(sid, version, "Inspection", _get(s, "inspection_id", str), "暗访记录", "the unannounced inspection")


_READERS = {
    ("Candidacy", "Applied"): _applied,
    ("Candidacy", "Decided"): _decided,
    ("Candidacy", "Revoked"): _revoked,
    ("Candidacy", "InspectionLinked"): _linked,
    ("Community", "Registered"): _community,
    ("Community", "TitleAwarded"): _awarded,
    ("Community", "TitleRevoked"): _title_revoked,
    ("Campaign", "Created"): _campaign,
    ("Campaign", "CandidacyListed"): _listed,
    ("Campaign", "CandidateListAmended"): _amended,
    ("Campaign", "PublicNoticeOpened"): _notice,
    ("Campaign", "DecisionsRecorded"): _summary,
    ("Inspection", "Conducted"): _conducted,
    ("Inspection", "FindingRecorded"): _finding,
    ("RubricRecord", "Recorded"): _rubric,
    ("Tenant", "Registered"): _tenant,
    ("Tenant", "CommunityListed"): _tenant_lists("Community", "community_id"),
    ("Tenant", "CampaignListed"): _tenant_lists("Campaign", "campaign_id"),
    ("Tenant", "RubricConfigured"): _rubric_configured,
    ("Selection", "Nominated"): _nominated,
    ("VisitPlan", "Sealed"): _sealed,
    ("VisitPlan", "Revealed"): _revealed,
}

#: topic -> (aggregate, event name, whether it creates its stream, what reads its facts)
_EVENTS = {
    topic: (kind, name, name == _CREATION[kind], _READERS.get((kind, name)))
    for topic, (kind, name) in TOPICS.items()
}


# -- the checks ---------------------------------------------------------------------------------


def check(events: Iterable[Event]) -> MeaningReport:
    """Check the meaning of ``events`` (every event of a set of streams, as ``(stream id,
    position, topic as stored, decoded state)``, in any order); see the module's rules."""
    facts = _Facts()
    for stream, version, topic, state in events:
        facts.add(stream, version, topic, state)
    return _Checker(facts).run()


def named_streams(events: Iterable[Event]) -> set[UUID]:
    """Every stream the events name (a rubric version by the stream its hash names): what
    a set of streams needs beside it for :func:`check` to find everything it names."""
    f = _Facts()
    for stream, version, topic, state in events:
        f.add(stream, version, topic, state)
    named: set[str] = set()
    for c in f.candidacies.values():
        named.update((c["campaign"], c["community"]))
    hashes: set[str] = set()
    for ds in f.decisions.values():
        for d in ds:
            named.update(stream for stream, _ in (d.positions or {}).values())
            if d.rubric is not None:
                hashes.add(d.rubric)
    for rs in f.revocations.values():
        named.update(ref.partition("/")[0] for r in rs for ref in r.findings)
    named.update(target for links in f.links.values() for _, target in links)
    for a in f.awards:
        named.update((a.candidacy, a.campaign))
        hashes.add(a.rubric)
    named.update(t.candidacy for t in f.title_revocations)
    hashes.update(c["rubric"]["hash"] for c in f.campaigns.values())
    for entries in f.listed.values():
        for _, cid, community, _ in entries:
            named.update((cid, community))
    named.update(cid for sums in f.summaries.values() for _, outcomes in sums for cid in outcomes)
    for i in f.inspections.values():
        named.update(x for x in (i["campaign"], i["community"], i["candidacy"]) if x)
    for _, _, kind, target, _, _ in f.refs:
        (hashes if kind == "rubric" else named).add(target)
    found = {u for u in (_uuid(s) for s in named) if u is not None}
    found.update(ids.rubric_record_id(h) for h in hashes)
    return found


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except (ValueError, TypeError, AttributeError):
        return None


_PRESENT = {"Candidacy": "candidacies", "Campaign": "campaigns", "Community": "communities", "Inspection": "inspections"}
_KIND_ZH = {"candidacy": "申报", "community": "社区", "campaign": "活动"}


class _Checker:
    def __init__(self, facts: _Facts) -> None:
        self.f = facts
        self.problem = facts.problem
        self.versions: dict[str, set[int]] = {sid: set(rec.versions) for sid, rec in facts.streams.items()}
        self.listed_pairs = {(campaign, entry[1]) for campaign, entries in facts.listed.items() for entry in entries}
        self.awarded_pairs = {(a.stream, a.candidacy) for a in facts.awards}
        self.revoked_pairs = {(t.stream, t.candidacy) for t in facts.title_revocations}

    def present(self, kind: str, target: str) -> bool:
        if kind == "rubric":
            return target in self.f.rubrics
        return target in getattr(self.f, _PRESENT[kind])

    def run(self) -> MeaningReport:
        self.streams()
        self.references()
        self.rubric_versions()
        self.candidacies()
        self.inspections()
        self.decisions()
        self.summaries()
        self.revocations()
        self.tenants()
        titles, left_out = self.titles()
        f = self.f
        unique = sorted(set(f.problems), key=lambda p: (p.stream, p.version or 0, p.what, p.message))
        return MeaningReport(
            streams=len(f.streams), events=f.events,
            campaigns=sorted(sid for sid, rec in f.streams.items() if rec.kind == "Campaign"),
            problems=unique, titles=titles, left_out=left_out,
        )

    # S1-S3
    def streams(self) -> None:
        for sid, rec in self.f.streams.items():
            versions = sorted(rec.versions)
            if versions != list(range(1, len(versions) + 1)):
                repeated = min((v for v, n in Counter(versions).items() if n > 1), default=None)
                if repeated is not None:
                    self.problem(sid, repeated, "positions", f"位置 {repeated} 出现两次",
                                 f"position {repeated} appears more than once")
                else:
                    seen = set(versions)
                    missing = next(n for n in range(1, versions[-1] + 1) if n not in seen)
                    self.problem(sid, missing, "positions", f"缺少位置 {missing} 的事件（共 {len(versions)} 个事件，最后位置 {versions[-1]}）",
                                 f"the event at position {missing} is not among the events "
                                 f"({len(versions)} events, the last at position {versions[-1]})")
            if len(rec.kinds) > 1:
                self.problem(sid, versions[0], "kind", f"同一记录中混有 {'、'.join(sorted(rec.kinds))} 的事件",
                             f"the stream mixes events of {', '.join(sorted(rec.kinds))}")
            if rec.kind is None:
                continue
            creation = f"{rec.kind}.{_CREATION[rec.kind]}"
            if 1 in self.versions[sid] and 1 not in rec.creations:
                self.problem(sid, 1, "kind", f"位置 1 的事件不是 {creation}",
                             f"the event at position 1 is not the stream's creation event {creation}")
            for v in rec.creations:
                if v != 1:
                    self.problem(sid, v, "kind", f"位置 {v} 又是一个 {creation}",
                                 f"position {v} holds another creation event {creation}")

    def references(self) -> None:
        for sid, version, kind, target, zh, en in self.f.refs:
            if not self.present(kind, target):
                self.problem(sid, version, "not_present", f"{zh} {target} 不在其中", f"{en} {target} is not among the events")

    # R3, R9
    def rubric_versions(self) -> None:
        f = self.f
        for content_hash, records in f.rubrics.items():
            for r in records[1:]:
                self.problem(r.stream, r.version, "duplicate", f"评分标准版本 {content_hash} 记录了多次",
                             f"rubric version {content_hash} is recorded more than once")
        for cid, c in f.campaigns.items():
            rubric = c["rubric"]
            records = f.rubrics.get(rubric["hash"])
            if not records:
                self.problem(cid, c["at"], "not_present", f"活动采用的评分标准版本 {rubric['hash']} 不在其中",
                             f"the campaign's rubric version {rubric['hash']} is not among the events")
            elif (records[0].rubric_id, records[0].rubric_version) != (rubric["id"], rubric["version"]):
                self.problem(cid, c["at"], "disagrees",
                             f"活动记为 {rubric['id']}@{rubric['version']}，而哈希 {rubric['hash']} 是 "
                             f"{records[0].rubric_id}@{records[0].rubric_version}",
                             f"the campaign names {rubric['id']}@{rubric['version']}, the version with hash "
                             f"{rubric['hash']} is {records[0].rubric_id}@{records[0].rubric_version}")

    # R1, R2
    def candidacies(self) -> None:
        f = self.f
        for cid, c in f.candidacies.items():
            if not self.present("Campaign", c["campaign"]):
                self.problem(cid, c["at"], "not_present", f"申报所属的活动 {c['campaign']} 不在其中",
                             f"the candidacy's campaign {c['campaign']} is not among the events")
            elif (c["campaign"], cid) not in self.listed_pairs:
                self.problem(cid, c["at"], "unrecorded", f"活动 {c['campaign']} 的候选名单中没有此申报",
                             f"campaign {c['campaign']} does not list this candidacy")
            if not self.present("Community", c["community"]):
                self.problem(cid, c["at"], "not_present", f"申报的社区 {c['community']} 不在其中",
                             f"the candidacy's community {c['community']} is not among the events")
        for campaign, entries in f.listed.items():
            seen: dict[str, int] = {}
            for version, cid, community, level in entries:
                if cid in seen:
                    self.problem(campaign, version, "duplicate", f"申报 {cid} 已在位置 {seen[cid]} 列入名单",
                                 f"candidacy {cid} was already listed at position {seen[cid]}")
                    continue
                seen[cid] = version
                c = f.candidacies.get(cid)
                if c is None:
                    self.problem(campaign, version, "not_present", f"列入名单的申报 {cid} 不在其中",
                                 f"the listed candidacy {cid} is not among the events")
                elif c["campaign"] != campaign:
                    self.problem(campaign, version, "disagrees", f"申报 {cid} 属于活动 {c['campaign']}",
                                 f"candidacy {cid} applied to campaign {c['campaign']}")
                elif (c["community"], c["level"]) != (community, level):
                    self.problem(campaign, version, "disagrees",
                                 f"名单记为社区 {community}、级别 {level}，申报记为社区 {c['community']}、级别 {c['level']}",
                                 f"the list names community {community} and level {level}; the candidacy names "
                                 f"community {c['community']} and level {c['level']}")
                if not self.present("Community", community):
                    self.problem(campaign, version, "not_present", f"列入名单的社区 {community} 不在其中",
                                 f"the listed community {community} is not among the events")

    # R4
    def inspections(self) -> None:
        f = self.f
        for iid, i in f.inspections.items():
            for kind, target in (("Campaign", i["campaign"]), ("Community", i["community"])):
                if not self.present(kind, target):
                    self.problem(iid, i["at"], "not_present", f"巡查所属的{'活动' if kind == 'Campaign' else '社区'} {target} 不在其中",
                                 f"the inspection's {kind.lower()} {target} is not among the events")
            cand = i["candidacy"]
            if cand is None:
                continue
            c = f.candidacies.get(cand)
            if c is None:
                self.problem(iid, i["at"], "not_present", f"巡查的申报 {cand} 不在其中",
                             f"the inspection's candidacy {cand} is not among the events")
                continue
            if (c["campaign"], c["community"]) != (i["campaign"], i["community"]):
                self.problem(iid, i["at"], "disagrees", f"巡查记为活动 {i['campaign']}、社区 {i['community']}，与申报 {cand} 不符",
                             f"the inspection names campaign {i['campaign']} and community {i['community']}, "
                             f"candidacy {cand} is of campaign {c['campaign']} and community {c['community']}")
            links = [v for v, target in f.links.get(cand, ()) if target == iid]
            if not links:
                self.problem(iid, i["at"], "unrecorded", f"申报 {cand} 未关联此巡查",
                             f"candidacy {cand} does not link this inspection")
            for v in links[1:]:
                self.problem(cand, v, "duplicate", f"巡查 {iid} 已在位置 {links[0]} 关联",
                             f"inspection {iid} was already linked at position {links[0]}")
        for cand, links in f.links.items():
            for version, iid in links:
                i = f.inspections.get(iid)
                if i is None:
                    self.problem(cand, version, "not_present", f"关联的巡查 {iid} 不在其中",
                                 f"the linked inspection {iid} is not among the events")
                elif i["candidacy"] != cand:
                    self.problem(cand, version, "disagrees", f"关联的巡查 {iid} 记为申报 {i['candidacy']}",
                                 f"the linked inspection {iid} names candidacy {i['candidacy']}")

    # R5, R6 (decision side), R8
    def decisions(self) -> None:
        f = self.f
        for cand, ds in f.decisions.items():
            c = f.candidacies.get(cand)
            for d in ds[1:]:
                self.problem(cand, d.version, "duplicate", f"申报已在位置 {ds[0].version} 作出决定",
                             f"the candidacy was already decided at position {ds[0].version}")
            for d in ds:
                self.decision(cand, c, d)
            d = ds[0]
            if c is None or not self.present("Campaign", c["campaign"]):
                continue
            sums = f.summaries.get(c["campaign"])
            if not sums:
                self.problem(cand, d.version, "unrecorded", f"活动 {c['campaign']} 没有决定汇总",
                             f"campaign {c['campaign']} records no decisions summary (DecisionsRecorded)")
            elif cand not in sums[0][1]:
                self.problem(cand, d.version, "unrecorded", f"决定不在活动 {c['campaign']} 的决定汇总（位置 {sums[0][0]}）中",
                             f"the decision is not in the decisions summary of campaign {c['campaign']} "
                             f"(position {sums[0][0]})")
            if d.named and self.present("Community", c["community"]):
                if (c["community"], cand) not in self.awarded_pairs:
                    self.problem(cand, d.version, "unrecorded", f"决定予以命名，但社区 {c['community']} 没有记录该称号",
                                 f"the decision names the candidacy, but community {c['community']} records no title for it")

    def decision(self, cand: str, c: dict[str, Any] | None, d: _Decision) -> None:
        if d.derivation_named != d.named:
            self.problem(cand, d.version, "disagrees", "决定的推导过程与决定结果不符",
                         f"the derivation says named={d.derivation_named!r}, the decision named={d.named!r}")
        if c is not None and d.level is not None and d.level != c["level"]:
            self.problem(cand, d.version, "disagrees", f"决定的级别 {d.level} 与申报的级别 {c['level']} 不符",
                         f"the decision's level {d.level} is not the candidacy's level {c['level']}")
        if d.rubric is None:
            self.problem(cand, d.version, "malformed", "决定未记录评分标准版本", "the decision names no rubric version (derivation.rubric.hash)")
        elif not self.present("rubric", d.rubric):
            self.problem(cand, d.version, "not_present", f"决定所用的评分标准版本 {d.rubric} 不在其中",
                         f"the decision's rubric version {d.rubric} is not among the events")
        if d.positions is None:
            self.problem(cand, d.version, "malformed", "决定未记录所读取的事件位置",
                         "the decision records no stream positions (derivation.positions)")
            return
        expected = {"candidacy": cand, "community": c["community"] if c else None, "campaign": c["campaign"] if c else None}
        for kind in ("candidacy", "community", "campaign"):
            if kind not in d.positions:
                self.problem(cand, d.version, "malformed", f"决定未记录{_KIND_ZH[kind]}的事件位置",
                             f"the decision records no {kind} position")
                continue
            stream, version = d.positions[kind]
            if version not in self.versions.get(stream, ()):
                self.problem(cand, d.version, "not_present", f"决定读取的{_KIND_ZH[kind]}位置 {stream}@{version} 不在其中",
                             f"the {kind} position {stream}@{version} the decision read is not among the events")
            if expected[kind] is not None and stream != expected[kind]:
                self.problem(cand, d.version, "disagrees", f"决定读取的{_KIND_ZH[kind]}是 {stream}，应为 {expected[kind]}",
                             f"the decision read {kind} {stream}, the candidacy's is {expected[kind]}")
            elif kind == "candidacy" and version >= d.version:
                self.problem(cand, d.version, "disagrees", f"决定读取的申报位置 {version} 不在决定之前",
                             f"the candidacy position {version} the decision read is not before the decision")

    # R6 (summary side)
    def summaries(self) -> None:
        f = self.f
        for campaign, sums in f.summaries.items():
            for version, _ in sums[1:]:
                self.problem(campaign, version, "duplicate", f"活动已在位置 {sums[0][0]} 记录决定汇总",
                             f"the campaign already recorded its decisions summary at position {sums[0][0]}")
            version, outcomes = sums[0]
            for cid, named in outcomes.items():
                c = f.candidacies.get(cid)
                ds = f.decisions.get(cid)
                if c is None:
                    self.problem(campaign, version, "not_present", f"决定汇总中的申报 {cid} 不在其中",
                                 f"candidacy {cid} of the decisions summary is not among the events")
                elif c["campaign"] != campaign:
                    self.problem(campaign, version, "disagrees", f"决定汇总中的申报 {cid} 属于活动 {c['campaign']}",
                                 f"candidacy {cid} of the decisions summary belongs to campaign {c['campaign']}")
                elif not ds:
                    self.problem(campaign, version, "not_present", f"决定汇总记有申报 {cid} 的决定，但该决定不在其中",
                                 f"the decisions summary records a decision of candidacy {cid}; no such decision is among the events")
                elif ds[0].named != named:
                    self.problem(campaign, version, "summary",
                                 f"决定汇总记申报 {cid} 为{'命名' if named else '不命名'}，其决定（位置 {ds[0].version}）为"
                                 f"{'命名' if ds[0].named else '不命名'}",
                                 f"the decisions summary records candidacy {cid} as {'named' if named else 'not named'}, "
                                 f"its decision (position {ds[0].version}) as {'named' if ds[0].named else 'not named'}")

    # R7
    def revocations(self) -> None:
        f = self.f
        for cand, rs in f.revocations.items():
            for r in rs[1:]:
                self.problem(cand, r.version, "duplicate", f"申报已在位置 {rs[0].version} 摘牌",
                             f"the candidacy's title was already revoked at position {rs[0].version}")
            c = f.candidacies.get(cand)
            for r in rs:
                if not any(d.named and d.version < r.version for d in f.decisions.get(cand, ())):
                    self.problem(cand, r.version, "disagrees", "摘牌之前没有予以命名的决定",
                                 "no earlier decision named this candidacy: there is no title to revoke")
                for ref in r.findings:
                    iid, _, fid = ref.partition("/")
                    i = f.inspections.get(iid)
                    if i is None:
                        self.problem(cand, r.version, "not_present", f"摘牌依据的巡查 {iid} 不在其中",
                                     f"inspection {iid} of the revocation's finding {ref} is not among the events")
                    elif i["candidacy"] != cand:
                        self.problem(cand, r.version, "disagrees", f"摘牌依据的巡查 {iid} 不是对此申报的巡查",
                                     f"inspection {iid} of finding {ref} is not an inspection of this candidacy")
                    elif fid not in f.findings.get(iid, ()):
                        self.problem(cand, r.version, "not_present", f"摘牌依据的问题 {ref} 不在其中",
                                     f"finding {ref} of the revocation is not among the events")
            if c is not None and self.present("Community", c["community"]):
                if (c["community"], cand) not in self.revoked_pairs:
                    self.problem(cand, rs[0].version, "unrecorded", f"社区 {c['community']} 没有记录此次摘牌",
                                 f"community {c['community']} does not record this revocation (TitleRevoked)")

    # R10
    def tenants(self) -> None:
        f = self.f
        for code, tenant_stream in f.tenants.items():
            lists = f.tenant_lists.get(tenant_stream, {"Community": set(), "Campaign": set()})
            for kind, records in (("Community", f.communities), ("Campaign", f.campaigns)):
                for sid, record in records.items():
                    if record["tenant"] == code and sid not in lists[kind]:
                        self.problem(sid, record["at"], "unrecorded", f"租户 {code} 未登记此{'社区' if kind == 'Community' else '活动'}",
                                     f"tenant {code} does not list this {kind.lower()}")

    # T1-T5
    def titles(self) -> tuple[list[Title], list[LeftOut]]:
        f = self.f
        awards = sorted(f.awards, key=lambda a: (a.stream, a.version))
        revocations: dict[tuple[str, str], list[_TitleRevocation]] = {}
        for t in sorted(f.title_revocations, key=lambda t: (t.stream, t.version)):
            revocations.setdefault((t.stream, t.candidacy), []).append(t)
        first: dict[tuple[str, str], _Award] = {}
        titles: list[Title] = []
        left_out: list[LeftOut] = []
        for a in awards:
            reasons, decision = self.award(a, first)
            first.setdefault((a.stream, a.candidacy), a)
            revocation = None
            recorded_revoked = None
            later = [t for t in revocations.get((a.stream, a.candidacy), ()) if t.version > a.version]
            if later:
                t = later[0]
                recorded_revoked = t.effective
                revocation_reasons, revocation = self.title_revocation(t)
                reasons += revocation_reasons
            elif f.revocations.get(a.candidacy) and first[(a.stream, a.candidacy)] is a:
                r = f.revocations[a.candidacy][0]
                reasons.append(_zh_en(f"申报已在位置 {r.version} 摘牌，社区未记录", f"the candidacy's title was revoked "
                                      f"(position {r.version}) and the community does not record it"))
            if reasons or decision is None:
                left_out.append(LeftOut(a.stream, a.candidacy, a.level, a.label, a.effective, recorded_revoked, a.version,
                                        tuple(reasons)))
                continue
            titles.append(Title(
                a.stream, a.candidacy, a.campaign, a.level, a.label, a.rubric, a.effective,
                later[0].effective if later else None, (a.stream, a.version), (a.candidacy, decision.version),
                (a.candidacy, revocation.version) if revocation is not None else None,
            ))
        for (stream, cand), trs in revocations.items():
            award = first.get((stream, cand))
            for t in trs:
                if award is None or award.version > t.version:
                    self.problem(stream, t.version, "not_present", f"摘牌的称号（申报 {cand}）此前未授予此社区",
                                 f"it revokes the title of candidacy {cand}, which this community was not awarded before")
            for t in [t for t in trs if award is not None and t.version > award.version][1:]:
                self.problem(stream, t.version, "duplicate", f"称号（申报 {cand}）已被摘牌",
                             f"the title of candidacy {cand} was already revoked")
        return titles, left_out

    def _title_problem(self, stream: str, version: int, what: str, zh: str, en: str, reasons: list[str]) -> None:
        self.problem(stream, version, what, zh, en)
        reasons.append(_zh_en(zh, en))

    def award(self, a: _Award, first: dict[tuple[str, str], _Award]) -> tuple[list[str], _Decision | None]:
        f = self.f
        reasons: list[str] = []

        def refuse(what: str, zh: str, en: str) -> None:
            self._title_problem(a.stream, a.version, what, zh, en, reasons)

        earlier = first.get((a.stream, a.candidacy))
        if earlier is not None:
            refuse("duplicate", f"申报 {a.candidacy} 的称号已在位置 {earlier.version} 授予",
                   f"the title of candidacy {a.candidacy} was already awarded at position {earlier.version}")
        c = f.candidacies.get(a.candidacy)
        if c is None:
            refuse("not_present", f"称号所依据的申报 {a.candidacy} 不在其中",
                   f"candidacy {a.candidacy}, whose decision the title names, is not among the events")
        decisions = f.decisions.get(a.candidacy, [])
        d: _Decision | None = None
        if a.decision is not None:
            stream, version = a.decision
            if stream != a.candidacy:
                refuse("disagrees", f"称号所依据的决定 {stream}@{version} 不是申报 {a.candidacy} 的决定",
                       f"the decision it names, {stream}@{version}, is not one of candidacy {a.candidacy}")
            else:
                d = next((x for x in decisions if x.version == version), None)
                if d is None:
                    refuse("not_present", f"称号所依据的决定（申报 {stream} 位置 {version}）不在其中",
                           f"the decision it names (candidacy {stream} position {version}) is not among the events")
        elif c is not None:
            if not decisions:
                refuse("not_present", f"申报 {a.candidacy} 的决定不在其中",
                       f"no decision of candidacy {a.candidacy} is among the events")
            elif len(decisions) > 1:
                refuse("duplicate", f"申报 {a.candidacy} 有多个决定，称号未指明依据哪一个",
                       f"candidacy {a.candidacy} has several decisions and the title names none of them")
            else:
                d = decisions[0]
        if d is not None:
            at = f"{a.candidacy}@{d.version}"
            if not d.named:
                refuse("disagrees", f"所依据的决定 {at} 未予命名", f"its decision {at} did not name the candidacy")
            if c is not None:
                if c["community"] != a.stream:
                    refuse("disagrees", f"申报 {a.candidacy} 属于社区 {c['community']}，不是此社区",
                           f"candidacy {a.candidacy} is of community {c['community']}, not of this one")
                if c["campaign"] != a.campaign:
                    refuse("disagrees", f"称号记为活动 {a.campaign}，申报属于活动 {c['campaign']}",
                           f"the title names campaign {a.campaign}, the candidacy is of campaign {c['campaign']}")
                if c["level"] != a.level:
                    refuse("disagrees", f"称号记为级别 {a.level}，申报的级别是 {c['level']}",
                           f"the title names level {a.level}, the candidacy is for level {c['level']}")
            if d.level is not None and d.level != a.level and (c is None or c["level"] == d.level):
                refuse("disagrees", f"称号记为级别 {a.level}，决定的级别是 {d.level}",
                       f"the title names level {a.level}, its decision level {d.level}")
            if d.rubric != a.rubric:
                refuse("disagrees", f"称号记为评分标准 {a.rubric}，决定所用的是 {d.rubric}",
                       f"the title names rubric version {a.rubric}, its decision was made under {d.rubric}")
            if d.effective != a.effective:
                refuse("disagrees", f"称号授予日期 {a.effective} 与决定日期 {d.effective} 不符",
                       f"the title's effective date {a.effective} is not its decision's {d.effective}")
            campaign = c["campaign"] if c is not None else a.campaign
            sums = f.summaries.get(campaign)
            if campaign not in f.campaigns:
                refuse("not_present", f"称号所属的活动 {campaign} 不在其中", f"the title's campaign {campaign} is not among the events")
            elif not sums:
                refuse("not_present", f"活动 {campaign} 的决定汇总不在其中",
                       f"the decisions summary of campaign {campaign} is not among the events")
            elif sums[0][1].get(a.candidacy) is not True:
                refuse("summary", f"活动 {campaign} 的决定汇总（位置 {sums[0][0]}）未记申报 {a.candidacy} 为命名",
                       f"the decisions summary of campaign {campaign} (position {sums[0][0]}) does not record "
                       f"candidacy {a.candidacy} as named")
        records = f.rubrics.get(a.rubric)
        if not records:
            refuse("not_present", f"称号的评分标准版本 {a.rubric} 不在其中", f"the title's rubric version {a.rubric} is not among the events")
        elif records[0].labels is not None and records[0].labels.get(a.level) != a.label:
            refuse("disagrees", f"称号名称 {a.label!r} 不是评分标准中级别 {a.level} 的名称 {records[0].labels.get(a.level)!r}",
                   f"the label {a.label!r} is not the label of level {a.level} in its rubric version "
                   f"({records[0].labels.get(a.level)!r})")
        return reasons, d

    def title_revocation(self, t: _TitleRevocation) -> tuple[list[str], _Revocation | None]:
        reasons: list[str] = []

        def refuse(what: str, zh: str, en: str) -> None:
            self.problem(t.stream, t.version, what, zh, en)
            reasons.append(_zh_en(f"其摘牌（位置 {t.version}）无据：{zh}", f"its revocation at position {t.version} is not backed: {en}"))

        revocations = self.f.revocations.get(t.candidacy, [])
        r: _Revocation | None = None
        if t.revocation is not None:
            stream, version = t.revocation
            if stream != t.candidacy:
                refuse("disagrees", f"摘牌所依据的 {stream}@{version} 不是申报 {t.candidacy} 的摘牌",
                       f"the revocation it names, {stream}@{version}, is not one of candidacy {t.candidacy}")
            else:
                r = next((x for x in revocations if x.version == version), None)
                if r is None:
                    refuse("not_present", f"摘牌所依据的记录（申报 {stream} 位置 {version}）不在其中",
                           f"the revocation it names (candidacy {stream} position {version}) is not among the events")
        elif not revocations:
            refuse("not_present", f"申报 {t.candidacy} 的摘牌记录不在其中",
                   f"no revocation of candidacy {t.candidacy} is among the events")
        else:
            r = revocations[0]
        if r is not None and r.effective != t.effective:
            refuse("disagrees", f"摘牌日期 {t.effective} 与申报的摘牌日期 {r.effective} 不符",
                   f"the revocation's effective date {t.effective} is not the candidacy's {r.effective}")
        return reasons, r

"""Stored events name their class by topic (``module:Class.Event``). Renaming or removing an
event class, or moving an aggregate to another module, makes every store that holds such
events unreadable. This test pins the topics; change it only together with a migration."""

from __future__ import annotations

import pytest
from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic, resolve_topic

import core.domain as domain

STORED_TOPICS = {
    "core.domain.access_token:AccessToken": ["Issued", "Revoked"],
    "core.domain.tenant:Tenant": ["CampaignListed", "CommunityListed", "Registered", "RubricConfigured"],
    "core.domain.community:Community": ["DetailsCorrected", "Registered", "TitleAwarded", "TitleRevoked"],
    "core.domain.campaign:Campaign": [
        "Cancelled", "CandidacyListed", "CandidateListAmended", "CandidateListFrozen", "Closed", "Created",
        "DecisionsRecorded", "Opened", "PhaseRescheduled", "ProgressRecorded", "PublicNoticeClosed",
        "PublicNoticeOpened",
    ],
    "core.domain.candidacy:Candidacy": [
        "Applied", "Decided", "InspectionLinked", "ItemScoreCorrected", "ObjectionFiled", "ObjectionResolved",
        "PutForward", "Resubmitted", "Reviewed", "Revoked", "ScoreSheetSubmitted", "SurveyRecorded", "VetoRecorded",
        "VetoWithdrawn", "Withdrawn",
    ],
    "core.domain.inspection:Inspection": [
        "Conducted", "FindingRecorded", "RectificationCompleted", "RectificationPlanned", "RectificationVerified",
    ],
    "core.domain.rubric_record:RubricRecord": ["Recorded"],
    "core.domain.visit_plan:VisitPlan": ["Revealed", "Sealed"],
    "core.domain.selection:Selection": ["Nominated", "Opened", "ScoreRecorded", "Selected", "VotesRecorded"],
}
# Every aggregate class gets the library's `Event` and `Created` classes; `Created` is a
# stored topic only where it is the aggregate's own first event (Campaign).
LIBRARY_EVENTS = {"Created", "Event"}


@pytest.mark.parametrize("aggregate_topic", sorted(STORED_TOPICS))
def test_every_stored_topic_still_resolves(aggregate_topic):
    for name in STORED_TOPICS[aggregate_topic]:
        cls = resolve_topic(f"{aggregate_topic}.{name}")
        assert issubclass(cls, DomainEvent)


def test_no_event_class_exists_without_a_pinned_topic():
    found = {}
    for aggregate in (getattr(domain, name) for name in domain.__all__):
        found[get_topic(aggregate)] = sorted(
            name for name, value in vars(aggregate).items()
            if isinstance(value, type) and issubclass(value, DomainEvent) and name not in LIBRARY_EVENTS
        )
    pinned = {topic: sorted(set(names) - LIBRARY_EVENTS) for topic, names in STORED_TOPICS.items()}
    assert found == pinned, "an event class was added, renamed or removed: pin its topic (and migrate stores)"


def test_a_store_with_unknown_event_types_is_reported_not_crashed(tmp_path, plugins):
    import sqlite3

    from core.errors import ConfigurationError
    from core.services import CivicLedger
    from tests.helpers import World

    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    world = World(app)
    app.register_tenant(world.owner, "tianjin", "天津市")
    app.close()
    with sqlite3.connect(tmp_path / "civic.sqlite3") as conn:
        conn.execute("UPDATE stored_events SET topic = 'core.domain.tenant:Tenant.Renamed'")
    again = CivicLedger(url, plugins=plugins)
    try:
        with pytest.raises(ConfigurationError, match="cannot read"):
            again.tenant(world.owner, "tianjin")
    finally:
        again.close()

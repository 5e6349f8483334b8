"""Aggregates: every piece of state is derived from the events recorded on them.

Event method bodies run again on every replay, so they hold no clock, randomness,
I/O or plugin calls: whatever a decision needed is passed in as event data.
Class and event names are part of the stored topics: renaming one breaks replay.
"""

from core.domain.access_token import AccessToken
from core.domain.campaign import Campaign
from core.domain.candidacy import Candidacy
from core.domain.community import Community
from core.domain.inspection import Inspection
from core.domain.rubric_record import RubricRecord
from core.domain.selection import Selection
from core.domain.tenant import Tenant
from core.domain.visit_plan import VisitPlan

__all__ = ["AccessToken", "Campaign", "Candidacy", "Community", "Inspection", "RubricRecord", "Selection", "Tenant", "VisitPlan"]

"""Who may do what. Every interface (CLI, HTTP, demo) goes through these same rules."""

from __future__ import annotations

from typing import Any

from core.actors import Actor, Role
from core.errors import CivicError, PermissionDenied

R = Role

#: action -> roles allowed to perform it. Auditors appear nowhere: they only read.
WRITE_RULES: dict[str, frozenset[Role]] = {
    "register_tenant": frozenset({R.CITY_OWNER}),
    "register_community": frozenset({R.CITY_OWNER, R.DISTRICT_OFFICER}),
    "correct_community": frozenset({R.CITY_OWNER, R.DISTRICT_OFFICER}),
    "configure_rubric": frozenset({R.CITY_OWNER}),
    "create_campaign": frozenset({R.CITY_OWNER}),
    "reschedule_phase": frozenset({R.CITY_OWNER}),
    "open_campaign": frozenset({R.CITY_OWNER}),
    "close_campaign": frozenset({R.CITY_OWNER}),
    "cancel_campaign": frozenset({R.CITY_OWNER}),
    "freeze_candidates": frozenset({R.CITY_OWNER, R.DISTRICT_OFFICER}),
    "amend_candidates": frozenset({R.CITY_OWNER}),
    "apply": frozenset({R.STREET_OFFICER}),
    "resubmit": frozenset({R.STREET_OFFICER}),
    "withdraw": frozenset({R.STREET_OFFICER, R.CITY_OWNER}),
    "review": frozenset({R.DISTRICT_OFFICER}),
    "score:self": frozenset({R.COMMUNITY}),
    "score:mock": frozenset({R.DISTRICT_OFFICER}),
    "score:official": frozenset({R.ASSESSOR}),
    "record_veto": frozenset({R.ASSESSOR, R.INSPECTOR}),
    "withdraw_veto": frozenset({R.ASSESSOR, R.INSPECTOR, R.CITY_OWNER}),
    "conduct_inspection": frozenset({R.INSPECTOR}),
    "seal_visit_plan": frozenset({R.INSPECTOR}),
    "reveal_visit_plan": frozenset({R.INSPECTOR}),
    "record_finding": frozenset({R.INSPECTOR}),
    "plan_rectification": frozenset({R.COMMUNITY, R.STREET_OFFICER}),
    "complete_rectification": frozenset({R.COMMUNITY, R.STREET_OFFICER}),
    "verify_rectification": frozenset({R.INSPECTOR}),
    "record_survey": frozenset({R.CITY_OWNER, R.ASSESSOR}),
    "open_public_notice": frozenset({R.CITY_OWNER}),
    "close_public_notice": frozenset({R.CITY_OWNER}),
    "file_objection": frozenset({R.RESIDENT}),
    "resolve_objection": frozenset({R.CITY_OWNER}),
    "decide": frozenset({R.CITY_OWNER}),
    "revoke": frozenset({R.CITY_OWNER}),
    "put_forward": frozenset({R.CITY_OWNER}),
    "record_progress": frozenset({R.CITY_OWNER, R.DISTRICT_OFFICER}),
    "open_selection": frozenset({R.CITY_OWNER}),
    "nominate": frozenset({R.DISTRICT_OFFICER, R.STREET_OFFICER}),
    "record_score": frozenset({R.ASSESSOR}),
    "record_votes": frozenset({R.CITY_OWNER}),
    "select": frozenset({R.CITY_OWNER}),
}


def authorize(actor: Actor, action: str) -> None:
    """Raise PermissionDenied unless ``actor``'s role may perform ``action``."""
    allowed = WRITE_RULES[action]
    if actor.role not in allowed:
        raise PermissionDenied(action, actor.role.value, sorted(r.value for r in allowed))


class NotOwnCommunity(PermissionDenied):
    """A community actor (社区居委会) acting for another community than its own."""

    def __init__(self, action: str, community: Any, organisation: str) -> None:
        CivicError.__init__(
            self,
            f"{action}：社区 {community.name}（{community.code}）不是本社区，"
            f"机构为 {organisation!r} 的社区居委会不能为其办理 / "
            f"{action}: community {community.name} ({community.code}) is not the actor's own; "
            f"a community actor of {organisation!r} acts only for the community of that name",
            action=action, role=Role.COMMUNITY.value, community=community.name, organisation=organisation,
        )


class NotOwnStreet(PermissionDenied):
    """A street officer (街道) acting for a community of another street."""

    def __init__(self, action: str, community: Any, organisation: str) -> None:
        CivicError.__init__(
            self,
            f"{action}：社区 {community.name}（{community.code}）属于 {community.street!r}，"
            f"机构为 {organisation!r} 的街道不能为其办理 / "
            f"{action}: community {community.name} ({community.code}) belongs to street {community.street!r}; "
            f"a street officer of {organisation!r} acts only for the communities of that street",
            action=action, role=Role.STREET_OFFICER.value, community=community.name, organisation=organisation,
        )


def check_own_street(actor: Actor, action: str, community: Any) -> None:
    """A street officer acts only for the communities whose registered street is its
    organisation. Raise :class:`NotOwnStreet` (a PermissionDenied) for any other; actors
    of other roles are not concerned."""
    if actor.role is Role.STREET_OFFICER and actor.organisation != community.street:
        raise NotOwnStreet(action, community, actor.organisation)


def check_own_community(actor: Actor, action: str, community: Any) -> None:
    """A community actor acts only for its own community: the registered community whose
    name is the actor's organisation. Raise :class:`NotOwnCommunity` (a PermissionDenied)
    for any other; actors of other roles are not concerned."""
    if actor.role is Role.COMMUNITY and actor.organisation != community.name:
        raise NotOwnCommunity(action, community, actor.organisation)

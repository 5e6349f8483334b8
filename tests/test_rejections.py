"""Rejected commands: every rule a command can break raises a domain error with a clear
message, and the command records nothing.

Each test runs through the application layer on every storage backend (the ``app``
fixture). ``rejected`` is the one assertion every case goes through: the exact error type,
and an unchanged event store (``notification_count``) afterwards.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import pytest

from core.actors import Actor, Role
from core.domain.candidacy import APPROVED, NAMED, NOT_NAMED, REVOKED
from core.errors import (
    AlreadyExists,
    CivicError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RuleViolation,
    VersionConflict,
)
from core.permissions import WRITE_RULES, NotOwnStreet
from core.services.visits import visit_commitment
from tests.helpers import TENANT, World, actor, evidence, notification_count, sheet

JINNAN_VETO = {"veto_items": [{"id": "V1", "text": "发生重大刑事案件"}]}
PREMIUM_STANDARD = {
    "levels": {"jingpin": {"provisional": False, "label": "精品美丽社区", "rules": {"min_total": 95}}}
}


# --------------------------------------------------------------------------------------
# The one assertion: the exact error, and nothing recorded
# --------------------------------------------------------------------------------------


def rejected(app, error: type[CivicError], call: Callable[[], Any]) -> CivicError:
    """Run ``call``; it must raise exactly ``error`` and leave the event store unchanged."""
    before = notification_count(app)
    with pytest.raises(CivicError) as info:
        call()
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}: {info.value}"
    assert notification_count(app) == before, f"rejected command recorded events: {info.value}"
    return info.value


def invalid(app, call: Callable[[], Any], field: str, value: Any = ..., *allowed: str) -> InvalidInput:
    """``call`` is refused as InvalidInput naming ``field`` (and ``value``), whose allowed
    values mention every string in ``allowed``; the message carries all three."""
    err = rejected(app, InvalidInput, call)
    assert err.field == field, str(err)
    if value is not ...:
        assert err.value == value, str(err)
    for part in allowed:
        assert part in err.allowed, f"{part!r} not in {err.allowed!r}"
    assert str(err).startswith(f"{field}: ") and f"allowed: {err.allowed}" in str(err)
    return err


def violation(app, call: Callable[[], Any], *parts: str, error: type[CivicError] = RuleViolation) -> CivicError:
    err = rejected(app, error, call)
    for part in parts:
        assert part in str(err), f"{part!r} not in {str(err)!r}"
    return err


# --------------------------------------------------------------------------------------
# Building worlds at the stages the rejections need
# --------------------------------------------------------------------------------------


@pytest.fixture
def world(app) -> World:
    return World(app)


def opened(world: World) -> str:
    """Tenant, three communities and the open meili-2020 campaign (2017 rubric)."""
    campaign_id = world.setup()
    world.app.open_campaign(world.owner, campaign_id, on="2020-03-09")
    return campaign_id


def approved(world: World, campaign: str, code: str = "c1", level: str = "meili", self_total: float = 90) -> str:
    cid = world.apply(campaign, code, level=level, self_total=self_total)
    world.app.review(world.district, cid, "approve", on="2020-03-11")
    return cid


def assessed(world: World, cid: str, total: float) -> None:
    """One assessor's complete official sheet and a survey (satisfaction 0.95)."""
    world.app.submit_score_sheet(world.assessors[0], cid, "official", sheet(world.rubric, total), on="2020-10-15")
    world.survey(cid, satisfied=180, basic=10, dissatisfied=10)


def role_actors(world: World) -> dict[Role, Actor]:
    return {
        Role.CITY_OWNER: world.owner,
        Role.DISTRICT_OFFICER: world.district,
        Role.STREET_OFFICER: world.street_a,
        Role.COMMUNITY: world.community,
        Role.INSPECTOR: world.inspector,
        Role.ASSESSOR: world.assessors[0],
        Role.RESIDENT: world.resident,
        Role.AUDITOR: world.auditor,
    }


# --------------------------------------------------------------------------------------
# Roles and tenants
# --------------------------------------------------------------------------------------


def write_commands(world: World, ids: dict[str, str]) -> dict[str, tuple[str, Callable[[Actor], Any]]]:
    """One valid-looking invocation of every write action: action -> (kind of the stream it
    targets, call with an actor). Used to check who may do what."""
    app, r = world.app, world.rubric
    campaign, cid, visit, c1 = ids["campaign"], ids["candidacy"], ids["inspection"], world.communities["c1"]
    sel = ids["selection"]
    return {
        "register_tenant": ("tenant", lambda a: app.register_tenant(a, TENANT, "天津市")),
        "register_community": ("tenant", lambda a: app.register_community(a, "c9", "新社区", "东丽区", "张贵庄街道", 100, 300)),
        "correct_community": ("community", lambda a: app.correct_community(a, c1, {"households": 1300}, "更正户数")),
        "configure_rubric": ("tenant", lambda a: app.configure_rubric(a, "tianjin-meili", "2017-x", JINNAN_VETO, "津南区一票否决")),
        "create_campaign": ("tenant", lambda a: app.create_campaign(a, "meili-2021", "2021年美丽社区创建", 2021, "tianjin-meili")),
        "reschedule_phase": (
            "campaign", lambda a: app.reschedule_phase(a, campaign, "training", "2020-03-14", "2020-03-31", "延期")
        ),
        "open_campaign": ("campaign", lambda a: app.open_campaign(a, campaign)),
        "close_campaign": ("campaign", lambda a: app.close_campaign(a, campaign)),
        "cancel_campaign": ("campaign", lambda a: app.cancel_campaign(a, campaign, "取消")),
        "freeze_candidates": ("campaign", lambda a: app.freeze_candidates(a, campaign, on="2020-03-11")),
        "amend_candidates": (
            "campaign", lambda a: app.amend_candidates(a, campaign, world.communities["c3"], "meili", "admit", "补报")
        ),
        "apply": ("campaign", lambda a: app.apply(a, campaign, world.communities["c2"], "meili", sheet(r, 90), on="2020-03-10")),
        "resubmit": ("candidacy", lambda a: app.resubmit(a, cid, sheet(r, 90))),
        "withdraw": ("candidacy", lambda a: app.withdraw(a, cid, "撤回", on="2020-03-10")),
        "review": ("candidacy", lambda a: app.review(a, cid, "approve")),
        "score:self": ("candidacy", lambda a: app.submit_score_sheet(a, cid, "self", {"1": "2"})),
        "score:mock": ("candidacy", lambda a: app.submit_score_sheet(a, cid, "mock", {"1": "2"})),
        "score:official": ("candidacy", lambda a: app.submit_score_sheet(a, cid, "official", {"1": "2"})),
        "record_veto": ("candidacy", lambda a: app.record_veto(a, cid, "V1", "发生重大刑事案件")),
        "withdraw_veto": ("candidacy", lambda a: app.withdraw_veto(a, cid, "V1", "误报")),
        "conduct_inspection": ("candidacy", lambda a: app.conduct_inspection(a, cid, "announced", "2020-05-01", ["甲"])),
        "record_finding": ("inspection", lambda a: app.record_finding(a, visit, "1", "问题", "minor", "措施", "2020-08-31")),
        "plan_rectification": ("inspection", lambda a: app.plan_rectification(a, visit, "F1", "计划")),
        "complete_rectification": ("inspection", lambda a: app.complete_rectification(a, visit, "F1", "已整改", evidence())),
        "verify_rectification": ("inspection", lambda a: app.verify_rectification(a, visit, "F1", True, "合格")),
        "record_survey": ("candidacy", lambda a: app.record_survey(a, cid, 10, 10, 8, 1, 1)),
        "open_public_notice": ("campaign", lambda a: app.open_public_notice(a, campaign, "2020-11-01", "2020-11-07")),
        "close_public_notice": ("campaign", lambda a: app.close_public_notice(a, campaign)),
        "file_objection": ("candidacy", lambda a: app.file_objection(a, cid, "有异议")),
        "resolve_objection": ("candidacy", lambda a: app.resolve_objection(a, cid, "x", True, "属实")),
        "decide": ("campaign", lambda a: app.decide(a, campaign)),
        "revoke": ("candidacy", lambda a: app.revoke(a, cid, "整改不合格", [f"{visit}/F1"])),
        "put_forward": ("candidacy", lambda a: app.put_forward(a, cid, "省级示范社区候选", "推荐")),
        "record_progress": (
            "campaign", lambda a: app.record_progress(a, campaign, "monthly", "2020-03", "all", "碰头会", on="2020-03-20")
        ),
        "open_selection": ("tenant", lambda a: app.open_selection(a, "award-2", "评选", 2020, "person", "score", places=10)),
        "nominate": ("selection", lambda a: app.nominate(a, sel, "p2", "乙", "某社区", "事迹")),
        "record_score": ("selection", lambda a: app.record_score(a, sel, "p1", 90)),
        "record_votes": ("selection", lambda a: app.record_votes(a, sel, "p1", 10)),
        "select": ("selection", lambda a: app.select(a, sel)),
        "seal_visit_plan": ("campaign", lambda a: app.seal_visit_plan(a, campaign, visit_commitment(cid, "2020-06-01", "n2"))),
        "reveal_visit_plan": ("visit plan", lambda a: app.reveal_visit_plan(a, ids["plan"], cid, "2020-06-01", "n1", visit)),
    }


def permission_world(world: World) -> dict[str, str]:
    campaign = opened(world)
    cid = approved(world, campaign)
    visit = world.app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", ["甲"])
    world.app.record_finding(world.inspector, visit, "1", "问题", "minor", "措施", "2020-08-31")
    selection = world.app.open_selection(world.owner, "award", "十佳评选", 2020, "person", "score", places=10)
    world.app.nominate(world.district, selection, "p1", "甲", "某社区", "事迹")
    plan = world.app.seal_visit_plan(world.inspector, campaign, visit_commitment(cid, "2020-06-01", "n1"))
    return {"campaign": campaign, "candidacy": cid, "inspection": visit, "selection": selection, "plan": plan}


def test_every_write_action_refuses_every_role_not_allowed_and_names_the_allowed_ones(world):
    ids = permission_world(world)
    commands = write_commands(world, ids)
    assert set(commands) == set(WRITE_RULES), "the table must cover every write action"
    actors = role_actors(world)
    refusals = 0
    for action, (_, call) in commands.items():
        allowed = sorted(r.value for r in WRITE_RULES[action])
        for role, who in actors.items():
            if role in WRITE_RULES[action]:
                continue
            err = rejected(world.app, PermissionDenied, lambda: call(who))
            assert err.details == {"action": action, "role": role.value, "allowed_roles": allowed}
            assert str(err) == f"{action}: role {role.value!r} may not do this; allowed roles: {', '.join(allowed)}"
            refusals += 1
    assert refusals == sum(8 - len(roles) for roles in WRITE_RULES.values())


def test_an_auditor_writes_nothing_even_when_it_may_read_every_tenant(world):
    ids = permission_world(world)
    everywhere = actor(Role.AUDITOR, "auditor-all", "审计署", tenant="*")
    assert world.app.candidacy(everywhere, ids["candidacy"]).status == APPROVED  # it may read
    for action, (_, call) in write_commands(world, ids).items():
        for auditor in (world.auditor, everywhere):
            err = rejected(world.app, PermissionDenied, lambda: call(auditor))
            assert err.details["role"] == "auditor" and err.details["action"] == action


def test_the_roles_named_in_the_documents_are_refused_with_the_allowed_roles(world):
    app = world.app
    campaign = opened(world)
    cid = world.apply(campaign, "c1")
    violation(app, lambda: app.submit_score_sheet(world.street_a, cid, "official", {"1": "2"}),
              "score:official", "'street_officer'", "allowed roles: assessor", error=PermissionDenied)
    violation(app, lambda: app.review(world.resident, cid, "approve"),
              "review", "'resident'", "allowed roles: district_officer", error=PermissionDenied)
    violation(app, lambda: app.apply(world.community, campaign, world.communities["c2"], "meili", sheet(world.rubric, 90)),
              "apply", "'community'", "allowed roles: street_officer", error=PermissionDenied)
    violation(app, lambda: app.decide(world.assessors[0], campaign),
              "decide", "'assessor'", "allowed roles: city_owner", error=PermissionDenied)
    violation(app, lambda: app.freeze_candidates(world.street_a, campaign),
              "allowed roles: city_owner, district_officer", error=PermissionDenied)
    # the allowed role gets through the same call
    app.review(world.district, cid, "approve", on="2020-03-11")
    assert app.candidacy(world.owner, cid).status == APPROVED


def test_an_actor_of_another_tenant_gets_not_found_for_existing_streams(world):
    app = world.app
    ids = permission_world(world)
    app.register_tenant(actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", tenant="beijing"), "beijing", "北京市")
    targets = {
        "tenant": TENANT,
        "community": world.communities["c1"],
        "campaign": ids["campaign"],
        "candidacy": ids["candidacy"],
        "inspection": ids["inspection"],
        "selection": ids["selection"],
        "visit plan": ids["plan"],
    }
    checked = []
    for action, (kind, call) in write_commands(world, ids).items():
        if action in ("register_community", "configure_rubric", "create_campaign", "open_selection"):
            continue  # these act on the actor's own tenant
        role = sorted(WRITE_RULES[action])[0]
        foreigner = actor(role, f"bj-{role.value}", "北京", tenant="beijing")
        err = rejected(app, NotFound, lambda: call(foreigner))
        assert str(err).startswith(f"{kind} {targets[kind]} not found"), str(err)
        checked.append(action)
    assert len(checked) == len(WRITE_RULES) - 4
    # reading is refused the same way, also for the other tenant's auditor
    outsider = actor(Role.AUDITOR, "bj-auditor", "北京审计", tenant="beijing")
    rejected(app, NotFound, lambda: app.candidacy(outsider, ids["candidacy"]))
    rejected(app, NotFound, lambda: app.history(outsider, ids["campaign"]))


# --------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------


def test_duplicates_are_refused_as_already_exists(world):
    app = world.app
    campaign = opened(world)
    cid = world.apply(campaign, "c1")
    violation(app, lambda: app.register_tenant(world.owner, TENANT, "天津市"), "tenant 'tianjin' is already registered",
              error=AlreadyExists)
    violation(app, lambda: app.register_community(world.district, "c1", "詹滨里社区", "东丽区", "张贵庄街道", 1200, 3000),
              "community 'c1' is already registered in tenant 'tianjin'", error=AlreadyExists)
    violation(app, lambda: app.create_campaign(world.owner, "meili-2020", "重复", 2020, "tianjin-meili"),
              "campaign 'meili-2020' already exists", error=AlreadyExists)
    violation(app, lambda: world.apply(campaign, "c1"), "詹滨里社区 has already applied for meili", error=AlreadyExists)
    violation(app, lambda: app.configure_rubric(world.owner, "tianjin-meili", "2017", JINNAN_VETO, "重复"),
              "rubric tianjin-meili@2017 already exists", error=AlreadyExists)
    app.configure_rubric(world.owner, "tianjin-meili", "2017-jinnan.1", JINNAN_VETO, "津南区一票否决")
    violation(app, lambda: app.configure_rubric(world.owner, "tianjin-meili", "2017-jinnan.1", {}, "再次"),
              "tianjin-meili@2017-jinnan.1 already exists", error=AlreadyExists)
    # the same community may still apply for the other level
    assert world.apply(campaign, "c1", level="jingpin", self_total=92) != cid


# --------------------------------------------------------------------------------------
# Applications: the gate, completeness, campaign status, the frozen list, streets
# --------------------------------------------------------------------------------------


class TestApplication:
    def test_self_assessed_total_below_the_level_threshold_is_refused(self, world):
        app = world.app
        campaign = opened(world)
        violation(app, lambda: world.apply(campaign, "c1", "meili", self_total=79.5),
                  "application of 詹滨里社区 refused", "79.5", "80")
        violation(app, lambda: world.apply(campaign, "c1", "jingpin", self_total=89.5),
                  "application of 詹滨里社区 refused", "89.5", "90")
        # exactly at the thresholds both are accepted
        world.apply(campaign, "c1", "meili", self_total=80)
        world.apply(campaign, "c1", "jingpin", self_total=90)
        assert len(app.campaign(world.owner, campaign).candidacies) == 2

    def test_incomplete_self_assessment_lists_the_missing_items(self, world):
        app = world.app
        campaign = opened(world)
        scores = sheet(world.rubric, 90)
        del scores["7"], scores["60"]
        err = invalid(app, lambda: app.apply(world.street_a, campaign, world.communities["c1"], "meili", scores, on="2020-03-10"),
                      "self_scores", "58 items", "every item of tianjin-meili@2017")
        assert err.allowed.endswith("missing: 7, 60")

    def test_unknown_level_and_bad_facts_are_refused(self, world):
        app = world.app
        campaign = opened(world)
        scores = sheet(world.rubric, 90)
        invalid(app, lambda: app.apply(world.street_a, campaign, world.communities["c1"], "gold", scores, on="2020-03-10"),
                "level", "gold", "meili, jingpin")
        invalid(app, lambda: app.apply(world.street_a, campaign, world.communities["c1"], "meili", scores,
                                       facts={"楼栋数": [1, 2]}, on="2020-03-10"),
                "facts.楼栋数", [1, 2], "text, a finite number or true/false")
        invalid(app, lambda: app.apply(world.street_a, campaign, world.communities["c1"], "meili", scores,
                                       facts=["楼栋数"], on="2020-03-10"),
                "facts", ["楼栋数"], "an object")

    def test_applying_to_a_campaign_that_is_not_open_is_refused(self, world):
        app = world.app
        draft = world.setup()
        violation(app, lambda: world.apply(draft, "c1"), "campaign meili-2020 is draft", "needs an open campaign")
        app.open_campaign(world.owner, draft, on="2020-03-09")
        app.cancel_campaign(world.owner, draft, "方案调整", on="2020-03-10")
        violation(app, lambda: world.apply(draft, "c1"), "campaign meili-2020 is cancelled")

    def test_a_street_officer_applies_only_for_its_own_street(self, world):
        app = world.app
        campaign = opened(world)
        violation(app, lambda: app.apply(world.street_b, campaign, world.communities["c1"], "meili",
                                         sheet(world.rubric, 90), on="2020-03-10"),
                  "belongs to street '张贵庄街道'", "'丰年村街道' acts only for the communities of that street",
                  error=NotOwnStreet)
        world.apply(campaign, "c3")  # 丰年里社区 is on 丰年村街道

    def test_explicitly_frozen_list_refuses_applications_and_withdrawals_until_amended(self, world):
        app = world.app
        campaign = opened(world)
        c1 = world.apply(campaign, "c1")
        app.freeze_candidates(world.district, campaign, on="2020-03-11")
        violation(app, lambda: world.apply(campaign, "c2", on="2020-03-11"),
                  "candidate list of campaign meili-2020 is frozen", "amend the list")
        violation(app, lambda: app.withdraw(world.street_a, c1, "放弃申报", on="2020-03-11"),
                  "is frozen", "amend the list")
        violation(app, lambda: app.freeze_candidates(world.owner, campaign, on="2020-03-11"), "already frozen")
        admitted = app.amend_candidates(world.owner, campaign, world.communities["c2"], "meili", "admit",
                                        "区民政局报告遗漏", on="2020-03-11")
        assert world.apply(campaign, "c2", on="2020-03-11") == admitted
        # another community was not admitted and is still refused
        violation(app, lambda: world.apply(campaign, "c3", on="2020-03-11"), "is frozen")

    def test_effective_date_after_the_application_phase_freezes_the_list(self, world):
        app = world.app
        campaign = opened(world)
        c1 = world.apply(campaign, "c1")
        violation(app, lambda: app.amend_candidates(world.owner, campaign, world.communities["c2"], "meili", "admit",
                                                    "补报", on="2020-03-12"),
                  "is not frozen; no amendment is needed")
        world.apply(campaign, "c3", on="2020-03-12")  # the last day of the phase is still open
        violation(app, lambda: world.apply(campaign, "c2", on="2020-03-13"), "is frozen")
        violation(app, lambda: app.withdraw(world.street_a, c1, "放弃", on="2020-03-13"), "is frozen")
        invalid(app, lambda: app.amend_candidates(world.owner, campaign, world.communities["c2"], "meili", "admit",
                                                  " ", on="2020-03-13"), "justification", " ", "non-empty text")
        invalid(app, lambda: app.amend_candidates(world.owner, campaign, world.communities["c2"], "meili", "add",
                                                  "补报", on="2020-03-13"), "change", "add", "admit, remove")
        violation(app, lambda: app.amend_candidates(world.owner, campaign, world.communities["c1"], "meili", "admit",
                                                    "补报", on="2020-03-13"),
                  "詹滨里社区 is already a candidate for meili", error=AlreadyExists)
        violation(app, lambda: app.amend_candidates(world.owner, campaign, world.communities["c2"], "meili", "remove",
                                                    "撤销", on="2020-03-13"),
                  "新立花园社区 is not a candidate for meili")
        app.amend_candidates(world.owner, campaign, world.communities["c2"], "meili", "admit", "街道逾期补报", on="2020-03-13")
        world.apply(campaign, "c2", on="2020-03-13")
        assert len(app.campaign(world.owner, campaign).candidacies) == 3

    def test_withdrawal_rules(self, world):
        app = world.app
        campaign = opened(world)
        c1 = world.apply(campaign, "c1")
        invalid(app, lambda: app.withdraw(world.street_a, c1, "", on="2020-03-10"), "reason", "", "non-empty text")
        violation(app, lambda: app.withdraw(world.street_b, c1, "撤回", on="2020-03-10"),
                  "belongs to street '张贵庄街道'", "'丰年村街道' acts only for the communities of that street",
                  error=NotOwnStreet)
        app.withdraw(world.street_a, c1, "撤回", on="2020-03-10")
        violation(app, lambda: app.withdraw(world.owner, c1, "再次撤回", on="2020-03-10"),
                  "candidacy is withdrawn; it can no longer be withdrawn")


class TestReview:
    def test_review_rules(self, world):
        app = world.app
        campaign = opened(world)
        c1 = approved(world, campaign)
        c2 = world.apply(campaign, "c2")
        violation(app, lambda: app.review(world.district, c1, "reject", "重复审核"),
                  "candidacy is approved; only a submitted application can be reviewed")
        invalid(app, lambda: app.review(world.district, c2, "accept"), "outcome", "accept", "approve, return, reject")
        invalid(app, lambda: app.review(world.district, c2, "return"), "reason", None, "non-empty text")
        invalid(app, lambda: app.review(world.district, c2, "reject", "   "), "reason", "   ", "non-empty text")
        violation(app, lambda: app.resubmit(world.street_a, c2, sheet(world.rubric, 90)),
                  "candidacy is applied; only a returned application can be resubmitted")
        app.review(world.district, c2, "return", "自评材料不全", on="2020-03-11")
        violation(app, lambda: app.resubmit(world.street_a, c2, sheet(world.rubric, 79.5)),
                  "application of 新立花园社区 refused", "79.5", "80")
        violation(app, lambda: app.resubmit(world.street_b, c2, sheet(world.rubric, 85)),
                  "acts only for the communities of that street", error=NotOwnStreet)
        app.resubmit(world.street_a, c2, sheet(world.rubric, 85), on="2020-03-11")

    def test_expected_version_mismatch_is_a_version_conflict(self, world):
        app = world.app
        campaign = opened(world)
        cid = world.apply(campaign, "c1")
        version = app.candidacy(world.owner, cid).version
        for stale in (version - 1, version + 1):
            err = violation(app, lambda: app.review(world.district, cid, "approve", expected_version=stale),
                            f"candidacy {cid}: expected version {stale}, but it is at version {version}",
                            "reload and retry", error=VersionConflict)
            assert err.details == {"expected": stale, "actual": version}
        version_c = app.campaign(world.owner, campaign).version
        violation(app, lambda: app.reschedule_phase(world.owner, campaign, "training", "2020-03-14", "2020-04-01", "延期",
                                                    expected_version=version_c - 1),
                  f"campaign {campaign}: expected version {version_c - 1}", error=VersionConflict)
        app.review(world.district, cid, "approve", on="2020-03-11", expected_version=version)
        full = sheet(world.rubric, 90)
        violation(app, lambda: app.submit_score_sheet(world.assessors[0], cid, "official", full, expected_version=version),
                  f"expected version {version}, but it is at version {version + 1}", error=VersionConflict)
        app.submit_score_sheet(world.assessors[0], cid, "official", full, on="2020-10-15", expected_version=version + 1)
        violation(app, lambda: app.correct_score(world.assessors[0], cid, "official", "1", "1", "录入错误",
                                                 expected_version=version + 1),
                  f"expected version {version + 1}, but it is at version {version + 2}", error=VersionConflict)


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


class TestScores:
    BAD_POINTS = [
        ("1", "2.5", "out of range (item 1 is worth 2)"),
        ("1", "-0.5", "negative"),
        ("1", "0.3", "off the 0.5 step"),
        ("1", "1.25", "off the 0.5 step"),
        ("1", "abc", "not a number"),
        ("1", "NaN", "not a finite number"),
        ("1", True, "a boolean"),
        ("1", None, "missing"),
        ("3", 3, "out of range (item 3 is worth 2.5)"),
    ]

    def test_item_points_must_be_on_the_rubric_scale(self, world):
        app = world.app
        campaign = opened(world)
        cid = approved(world, campaign)
        assessor = world.assessors[0]
        full = sheet(world.rubric, 90)  # official sheets cover every item
        for item, value, why in self.BAD_POINTS:
            max_points = world.rubric.item(item).max_points
            err = invalid(app, lambda: app.submit_score_sheet(assessor, cid, "official", {**full, "2": "3", item: value}),
                          f"scores[{item}]", value, f"0 to {max_points} in steps of 0.5 (item {item})")
            assert err.value is value, why
        invalid(app, lambda: app.submit_score_sheet(assessor, cid, "official", {**full, "61": "1"}),
                "scores", "61", "an item id of rubric tianjin-meili@2017 (1 of 60)")
        invalid(app, lambda: app.submit_score_sheet(assessor, cid, "official", {}), "scores", {}, "an object mapping item ids")
        invalid(app, lambda: app.submit_score_sheet(assessor, cid, "official", [("1", "2")]), "scores", [("1", "2")])
        invalid(app, lambda: app.submit_score_sheet(assessor, cid, "final", {"1": "2"}), "kind", "final", "self, mock, official")
        # an official or mock sheet must cover every item of the rubric (no partial_sheets)
        invalid(app, lambda: app.submit_score_sheet(assessor, cid, "official", {"1": "2", "3": "0", "2": 1.5}),
                "scores", "3 items", "every item of tianjin-meili@2017", "缺第 4-60 项", "missing: 4-60")
        invalid(app, lambda: app.submit_score_sheet(world.district, cid, "mock", {k: v for k, v in full.items() if k != "7"}),
                "scores", "59 items", "every item of tianjin-meili@2017", "missing: 7")
        assert app.candidacy(world.owner, cid).scores["official"] == {} == app.candidacy(world.owner, cid).scores["mock"]
        # the same sheet with valid points is recorded in full
        assert app.submit_score_sheet(assessor, cid, "official", {**full, "1": "2", "3": "0", "2": 1.5}, on="2020-10-15") == 60
        assert app.candidacy(world.owner, cid).scores["official"]["assessor-1"] == {
            **full, "1": "2", "2": "1.5", "3": "0"
        }

    def test_an_item_is_scored_once_per_assessor_and_kind_then_corrected(self, world):
        app = world.app
        campaign = opened(world)
        cid = approved(world, campaign)
        first, second = world.assessors[:2]
        full = sheet(world.rubric, 90)
        app.submit_score_sheet(first, cid, "official", full, on="2020-10-15")
        violation(app, lambda: app.submit_score_sheet(first, cid, "official", sheet(world.rubric, 85)),
                  "assessor assessor-1 already scored item(s) 1, 2, 3, 4", "59, 60 (official)", "correction")
        assert app.candidacy(world.owner, cid).scores["official"]["assessor-1"] == full
        # a self-assessment may cover some items; each is still scored once, and a sheet
        # repeating one is refused whole: its new item 2 is not recorded either
        app.submit_score_sheet(world.community, cid, "self", {"1": "2", "5": "1"}, on="2020-10-15")
        violation(app, lambda: app.submit_score_sheet(world.community, cid, "self", {"2": "3", "5": "2", "1": "1"}),
                  "assessor juweihui already scored item(s) 1, 5 (self)", "correction")
        assert sorted(app.candidacy(world.owner, cid).scores["self"]["juweihui"]) == ["1", "5"]
        violation(app, lambda: app.correct_score(world.community, cid, "self", "2", "1", "录入错误"),
                  "assessor juweihui has no self score for item 2 to correct")
        violation(app, lambda: app.correct_score(second, cid, "official", "1", "1", "录入错误"),
                  "assessor assessor-2 has no official score for item 1 to correct")
        violation(app, lambda: app.correct_score(first, cid, "mock", "1", "1", "录入错误"), error=PermissionDenied)
        invalid(app, lambda: app.correct_score(first, cid, "official", "1", "2.5", "录入错误"), "points[1]", "2.5", "0 to 2")
        invalid(app, lambda: app.correct_score(first, cid, "official", "1", "1", ""), "reason", "", "non-empty text")
        invalid(app, lambda: app.correct_score(first, cid, "official", "99", "1", "录入错误"), "points", "99")
        invalid(app, lambda: app.correct_score(first, cid, "final", "1", "1", "录入错误"), "kind", "final")
        # other assessors and other kinds score the same item independently
        app.submit_score_sheet(second, cid, "official", {**full, "1": "1.5"}, on="2020-10-15")
        app.correct_score(first, cid, "official", "1", "1", "录入错误", on="2020-10-16")
        scores = app.candidacy(world.owner, cid).scores["official"]
        assert (scores["assessor-1"]["1"], scores["assessor-2"]["1"]) == ("1", "1.5")

    def test_official_scoring_needs_an_approved_active_candidacy_in_an_open_campaign(self, world):
        app = world.app
        campaign = opened(world)
        pending = world.apply(campaign, "c2")
        violation(app, lambda: app.submit_score_sheet(world.assessors[0], pending, "official", {"1": "2"}),
                  "candidacy is applied; official scoring needs an approved candidacy")
        app.review(world.district, pending, "reject", "不符合条件", on="2020-03-11")
        violation(app, lambda: app.submit_score_sheet(world.community_of("c2"), pending, "self", {"1": "2"}),
                  "candidacy is rejected; it can no longer be scored")
        cid = approved(world, campaign)
        app.cancel_campaign(world.owner, campaign, "方案调整", on="2020-04-01")
        violation(app, lambda: app.submit_score_sheet(world.assessors[0], cid, "official", {"1": "2"}),
                  "campaign meili-2020 is cancelled; this needs an open campaign")
        violation(app, lambda: app.cancel_campaign(world.owner, campaign, "再次取消"), "cannot be cancelled")


# --------------------------------------------------------------------------------------
# Input formats: dates, evidence, ids
# --------------------------------------------------------------------------------------


def test_malformed_dates_ids_and_evidence_are_refused(world):
    app = world.app
    campaign = opened(world)
    cid = approved(world, campaign)
    invalid(app, lambda: world.apply(campaign, "c2", on="2020-13-01"), "on", "2020-13-01", "an ISO date YYYY-MM-DD")
    invalid(app, lambda: app.conduct_inspection(world.inspector, cid, "announced", "2020-02-30", ["甲"]),
            "visit_date", "2020-02-30", "YYYY-MM-DD")
    invalid(app, lambda: app.open_public_notice(world.owner, campaign, "11/01/2020", "2020-11-07"), "start", "11/01/2020")
    invalid(app, lambda: app.reschedule_phase(world.owner, campaign, "training", "2020-03-14", "2020-03-32", "延期"),
            "end", "2020-03-32")
    invalid(app, lambda: app.candidacy(world.owner, "not-a-uuid"), "candidacy_id", "not-a-uuid", "a UUID")
    rejected(app, NotFound, lambda: app.open_campaign(world.owner, world.communities["c1"]))  # a community is no campaign

    visit = app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", ["甲"])
    finding = lambda ev: app.record_finding(world.inspector, visit, "1", "问题", "minor", "措施", "2020-08-31", ev)  # noqa: E731
    invalid(app, lambda: finding([{"name": "photo.jpg", "sha256": "abc123"}]),
            "evidence[0].sha256", "abc123", "64 hexadecimal characters (SHA-256)")
    invalid(app, lambda: finding([{"name": "photo.jpg", "sha256": "g" * 64}]), "evidence[0].sha256", "g" * 64)
    invalid(app, lambda: finding([*evidence(), {"name": "b.jpg", "sha256": "a" * 63}]), "evidence[1].sha256", "a" * 63)
    invalid(app, lambda: finding([{"name": " ", "sha256": "a" * 64}]), "evidence[0].name", " ", "a non-empty file name")
    invalid(app, lambda: finding([{"name": "a.jpg"}]), "evidence[0]", {"name": "a.jpg"}, "exactly 'name' and 'sha256'")
    invalid(app, lambda: finding("photo.jpg"), "evidence", "photo.jpg", "a list of {name, sha256}")
    assert finding([{"name": "photo.jpg", "sha256": "AB" * 32}]) == "F1"  # upper-case hex is normalised
    assert app.inspection(world.owner, visit).findings["F1"]["evidence"][0]["sha256"] == "ab" * 32


def test_register_and_correct_community_inputs(world):
    app = world.app
    world.setup()
    c1 = world.communities["c1"]
    invalid(app, lambda: app.register_community(world.district, "c9", "新社区", "东丽区", "张贵庄街道", -1, 300),
            "households", -1, "a whole number >= 0")
    invalid(app, lambda: app.register_community(world.district, "c9", "", "东丽区", "张贵庄街道", 10, 300), "name", "")
    invalid(app, lambda: app.correct_community(world.owner, c1, {"households": "1300"}, "更正"), "changes.households", "1300")
    invalid(app, lambda: app.correct_community(world.owner, c1, {"tenant": "beijing"}, "更正"), "changes.tenant", "beijing",
            "'households'")
    invalid(app, lambda: app.correct_community(world.owner, c1, {}, "更正"), "changes", {})
    invalid(app, lambda: app.correct_community(world.owner, c1, {"households": 1300}, " "), "reason", " ")
    app.correct_community(world.owner, c1, {"households": 1300}, "更正户数")
    assert app.community(world.owner, c1).households == 1300


# --------------------------------------------------------------------------------------
# Campaign administration
# --------------------------------------------------------------------------------------


def test_campaign_administration_rules(world):
    app = world.app
    draft = world.setup()
    new = lambda **kw: app.create_campaign(world.owner, **{"code": "meili-2021", "title": "2021", "year": 2021,  # noqa: E731
                                                           "rubric_id": "tianjin-meili", **kw})
    invalid(app, lambda: new(levels=["gold"]), "levels", "gold", "meili, jingpin")
    invalid(app, lambda: new(year=1999), "year", 1999, "a whole number >= 2000")
    invalid(app, lambda: new(quota=0), "quota", 0, ">= 1")
    invalid(app, lambda: new(schedule=[]), "schedule", [])
    phase = {"id": "application", "label": "申报", "kind": "application", "start": "2021-03-01", "end": "2021-03-12"}
    invalid(app, lambda: new(schedule=[{**phase, "kind": "party"}]), "schedule[0].kind", "party", "application")
    invalid(app, lambda: new(schedule=[{**phase, "end": "2021-02-01"}]), "schedule[0].end", "2021-02-01", "on or after")
    invalid(app, lambda: new(schedule=[phase, phase]), "schedule", ["application", "application"], "unique phase ids")
    err = rejected(app, NotFound, lambda: new(rubric_id="shanghai-meili"))
    known = ", ".join(sorted(p.rubric.ref for p in app.plugins.rubrics()))  # every installed plugin's
    assert "tianjin-meili@2017" in known and f"rubric shanghai-meili not found; known: {known}" in str(err)
    rejected(app, NotFound, lambda: new(rubric_version="2015"))

    violation(app, lambda: app.close_campaign(world.owner, draft), "meili-2020 is draft; only an open campaign")
    invalid(app, lambda: app.reschedule_phase(world.owner, draft, "party", "2020-03-14", "2020-03-31", "延期"),
            "phase_id", "party", "plan, application, training")
    invalid(app, lambda: app.reschedule_phase(world.owner, draft, "training", "2020-03-31", "2020-03-14", "延期"),
            "end", "2020-03-14", "on or after start 2020-03-31")
    invalid(app, lambda: app.reschedule_phase(world.owner, draft, "training", "2020-03-14", "2020-03-31", ""), "reason", "")
    app.open_campaign(world.owner, draft, on="2020-03-09")
    violation(app, lambda: app.open_campaign(world.owner, draft), "meili-2020 is open; only a draft campaign can be opened")
    violation(app, lambda: app.close_campaign(world.owner, draft), "has no decisions yet")
    invalid(app, lambda: app.cancel_campaign(world.owner, draft, ""), "reason", "")
    app.cancel_campaign(world.owner, draft, "方案调整", on="2020-03-10")
    violation(app, lambda: app.reschedule_phase(world.owner, draft, "training", "2020-03-14", "2020-03-31", "延期"),
              "is cancelled; its schedule can no longer change")


# --------------------------------------------------------------------------------------
# Inspections, findings and rectification
# --------------------------------------------------------------------------------------


class TestInspections:
    def test_inspection_and_finding_inputs(self, world):
        app = world.app
        campaign = opened(world)
        cid = approved(world, campaign)
        invalid(app, lambda: app.conduct_inspection(world.inspector, cid, "secret", "2020-05-01", ["甲"]),
                "kind", "secret", "announced, unannounced")
        invalid(app, lambda: app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", ["甲"], purpose="audit"),
                "purpose", "audit", "campaign, supervision")
        invalid(app, lambda: app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", []), "inspectors", [])
        invalid(app, lambda: app.conduct_inspection(world.inspector, cid, "announced", "2020-05-01", "甲"), "inspectors", "甲")
        violation(app, lambda: app.conduct_inspection(world.inspector, cid, "unannounced", "2020-05-01", ["甲"],
                                                      purpose="supervision"),
                  "candidacy is approved; supervision re-inspects titled communities only")
        visit = app.conduct_inspection(world.inspector, cid, "unannounced", "2020-05-20", ["甲"])
        record = lambda item="38", severity="major", deadline="2020-08-31", **kw: app.record_finding(  # noqa: E731
            world.inspector, visit, item, kw.get("description", "楼道堆物"), severity, "清理楼道", deadline)
        invalid(app, lambda: record(item="61"), "item", "61", "an item id of rubric tianjin-meili@2017")
        invalid(app, lambda: record(item="1.1"), "item", "1.1")
        invalid(app, lambda: record(severity="huge"), "severity", "huge", "minor, major, critical")
        invalid(app, lambda: record(deadline="2020-05-19"), "deadline", "2020-05-19", "on or after the visit 2020-05-20")
        invalid(app, lambda: record(deadline="2020-13-01"), "deadline", "2020-13-01")
        invalid(app, lambda: record(description=""), "description", "")
        assert record(deadline="2020-05-20") == "F1"  # the visit day itself is allowed

    def test_rectification_steps_follow_the_finding_status(self, world):
        app = world.app
        campaign = opened(world)
        cid = approved(world, campaign)
        visit = app.conduct_inspection(world.inspector, cid, "unannounced", "2020-05-20", ["甲"])
        f1 = app.record_finding(world.inspector, visit, "38", "楼道堆物", "major", "清理楼道", "2020-08-31")
        invalid(app, lambda: app.plan_rectification(world.community, visit, "F9", "计划"), "finding_id", "F9", "F1")
        violation(app, lambda: app.verify_rectification(world.inspector, visit, f1, True, "合格"),
                  "finding F1 is open; only a completed rectification is verified")
        app.plan_rectification(world.community, visit, f1, "组织清理", on="2020-06-01")
        violation(app, lambda: app.verify_rectification(world.inspector, visit, f1, True, "合格"), "finding F1 is planned")
        violation(app, lambda: app.plan_rectification(world.community, visit, f1, "再计划"),
                  "finding F1 is planned; a plan is made for open or rejected findings")
        invalid(app, lambda: app.complete_rectification(world.community, visit, f1, "已清理", []),
                "evidence", [], "at least one evidence reference")
        invalid(app, lambda: app.complete_rectification(world.community, visit, f1, "已清理", None), "evidence", None)
        app.complete_rectification(world.community, visit, f1, "已清理", evidence(), on="2020-08-20")
        invalid(app, lambda: app.verify_rectification(world.inspector, visit, f1, "yes", "合格"),
                "accepted", "yes", "true or false")
        invalid(app, lambda: app.verify_rectification(world.inspector, visit, f1, True, ""), "reason", "")
        app.verify_rectification(world.inspector, visit, f1, True, "合格", on="2020-09-01")
        violation(app, lambda: app.complete_rectification(world.community, visit, f1, "再次", evidence()),
                  "finding F1 is accepted; nothing to complete")
        violation(app, lambda: app.verify_rectification(world.inspector, visit, f1, False, "复查"), "finding F1 is accepted")


# --------------------------------------------------------------------------------------
# Survey
# --------------------------------------------------------------------------------------


def test_survey_counts_must_add_up_and_fit_the_community(world):
    app = world.app
    campaign = opened(world)
    cid = approved(world, campaign)
    survey = lambda respondents=200, households=200, s=180, b=15, d=5, reason=None: app.record_survey(  # noqa: E731
        world.owner, cid, respondents, households, s, b, d, reason=reason, on="2020-11-05")
    invalid(app, lambda: survey(respondents=201), "respondents", 201,
            "the sum of satisfied + basically_satisfied + dissatisfied (200)")
    invalid(app, lambda: survey(households=201), "households", 201, "at most the 200 respondents")
    invalid(app, lambda: survey(respondents=1300, s=1280, households=1201), "households", 1201,
            "at most the community's 1200 households")
    invalid(app, lambda: survey(respondents=0, s=0, b=0, d=0), "respondents", 0, "a whole number >= 1")
    invalid(app, lambda: survey(s=-1, b=196), "satisfied", -1, ">= 0")
    invalid(app, lambda: survey(b=True), "basically_satisfied", True)
    invalid(app, lambda: survey(d=5.0), "dissatisfied", 5.0)
    survey(households=200)
    invalid(app, lambda: survey(s=170, b=25), "reason", None, "non-empty text")  # a second survey is a correction
    survey(s=170, b=25, reason="录入错误")
    assert app.candidacy(world.owner, cid).survey["satisfied"] == 170


# --------------------------------------------------------------------------------------
# Public notice, objections, decisions
# --------------------------------------------------------------------------------------


def scored_world(world: World) -> dict[str, str]:
    """c1 scored 92 (to be listed), c3 scored 72.5 (not listed), c2 still awaiting review."""
    campaign = opened(world)
    c1, c3 = approved(world, campaign, "c1"), approved(world, campaign, "c3")
    c2 = world.apply(campaign, "c2")
    assessed(world, c1, 92)
    assessed(world, c3, 72.5)
    return {"campaign": campaign, "c1": c1, "c2": c2, "c3": c3}


class TestNoticeAndDecision:
    def test_notice_needs_every_application_reviewed_and_leaves_off_the_unassessed(self, world):
        app = world.app
        ids = scored_world(world)
        campaign = ids["campaign"]
        violation(app, lambda: app.decide(world.owner, campaign), "decisions follow the closed public notice")
        violation(app, lambda: app.close_public_notice(world.owner, campaign), "has no open public notice")
        violation(app, lambda: app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07"),
                  "1 application(s) still await the district's review", ids["c2"])
        app.review(world.district, ids["c2"], "approve", on="2020-03-11")
        invalid(app, lambda: app.open_public_notice(world.owner, campaign, "2020-11-07", "2020-11-01"),
                "end", "2020-11-01", "on or after start 2020-11-07")
        # c2 has no official assessment: the notice opens without it, saying why
        listed = app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07")
        assert listed == [ids["c1"]]
        left_off = {row["candidacy_id"]: row for row in app.notice_left_off(world.owner, campaign)}
        assert sorted(left_off) == sorted([ids["c2"], ids["c3"]])
        assert {k: left_off[ids["c2"]][k] for k in ("community_id", "community", "level")} == {
            "community_id": world.communities["c2"], "community": "新立花园社区", "level": "meili"}
        assert left_off[ids["c2"]]["reasons"][0] == "未进行综合评估 (no official assessment recorded)"
        assert "未进行满意度测评 (no satisfaction survey recorded)" in left_off[ids["c2"]]["reasons"]
        assert left_off[ids["c3"]]["reasons"] == ["综合得分 72.50 低于 80 分 (official total 72.50 is below 80)"]
        preliminary = app.campaign(world.owner, campaign).notice["preliminary"]
        assert preliminary[ids["c2"]] == {"listed": False, "reasons": left_off[ids["c2"]]["reasons"]}
        # scores and surveys are fixed from now on
        violation(app, lambda: app.submit_score_sheet(world.assessors[0], ids["c2"], "official", sheet(world.rubric, 85)),
                  "scores of campaign meili-2020 are fixed since the preliminary list went on public notice")
        violation(app, lambda: world.survey(ids["c2"]),
                  "the survey of campaign meili-2020 is fixed since the preliminary list went on public notice")
        violation(app, lambda: app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07"),
                  "has already had its public notice")

    def test_objections_and_decisions_follow_the_notice(self, world):
        app = world.app
        ids = scored_world(world)
        campaign, c1, c3 = ids["campaign"], ids["c1"], ids["c3"]
        app.review(world.district, ids["c2"], "reject", "材料不实", on="2020-03-11")
        violation(app, lambda: app.file_objection(world.resident, c1, "有异议", on="2020-10-31"),
                  "objections are accepted during the public notice only (not opened)")
        app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07")
        for day in ("2020-10-31", "2020-11-08"):
            violation(app, lambda: app.file_objection(world.resident, c1, "有异议", on=day),
                      "during the public notice only (2020-11-01 to 2020-11-07)")
        violation(app, lambda: app.file_objection(world.resident, c3, "有异议", on="2020-11-03"),
                  "this candidacy is not on the public notice list")
        invalid(app, lambda: app.file_objection(world.resident, c1, "有异议", ["61"], on="2020-11-03"),
                "items", "61", "item ids of rubric tianjin-meili@2017")
        invalid(app, lambda: app.file_objection(world.resident, c1, "有异议", "38", on="2020-11-03"),
                "items", "38", "a list of item ids")
        invalid(app, lambda: app.file_objection(world.resident, c1, "", on="2020-11-03"), "text", "")
        objection = app.file_objection(world.resident, c1, "公示材料与实际不符", ["38"], on="2020-11-03")
        violation(app, lambda: app.close_public_notice(world.owner, campaign, on="2020-11-06"),
                  "the public notice runs until 2020-11-07; it cannot close on 2020-11-06")
        violation(app, lambda: app.decide(world.owner, campaign, on="2020-11-06"), "decisions follow the closed public notice")
        app.close_public_notice(world.owner, campaign, on="2020-11-08")
        violation(app, lambda: app.close_public_notice(world.owner, campaign, on="2020-11-09"), "has no open public notice")
        violation(app, lambda: app.decide(world.owner, campaign, on="2020-11-20"), "objections still open for: 詹滨里社区")
        invalid(app, lambda: app.resolve_objection(world.owner, c1, "nope", False, "不属实"), "objection_id", "nope", objection)
        invalid(app, lambda: app.resolve_objection(world.owner, c1, objection, "no", "不属实"), "upheld", "no", "true or false")
        invalid(app, lambda: app.resolve_objection(world.owner, c1, objection, False, ""), "reason", "")
        app.resolve_objection(world.owner, c1, objection, False, "经核查不属实", on="2020-11-10")
        violation(app, lambda: app.resolve_objection(world.owner, c1, objection, True, "改判"),
                  f"objection {objection} is already dismissed")
        assert app.decide(world.owner, campaign, on="2020-11-20") == {c1: True, c3: False}
        violation(app, lambda: app.decide(world.owner, campaign, on="2020-11-21"), "campaign meili-2020 is already decided")
        violation(app, lambda: app.cancel_campaign(world.owner, campaign, "取消"), "decided=True; it cannot be cancelled")
        violation(app, lambda: app.submit_score_sheet(world.assessors[1], c1, "official", {"1": "2"}),
                  "candidacy is named; official scoring needs an approved candidacy")
        violation(app, lambda: app.submit_score_sheet(world.district, c1, "mock", {"1": "2"}),
                  "candidacy is named; it can no longer be scored")
        violation(app, lambda: app.correct_score(world.assessors[0], c1, "official", "1", "1", "更正"),
                  "candidacy is named; its scores can no longer change")
        violation(app, lambda: app.record_survey(world.owner, c1, 10, 10, 10, 0, 0, "重测"),
                  "candidacy is named; the survey can no longer change")
        violation(app, lambda: app.conduct_inspection(world.inspector, c3, "announced", "2020-12-01", ["甲"]),
                  "candidacy is not_named; campaign inspections need an active candidacy")
        app.close_campaign(world.owner, campaign, on="2020-12-01")
        violation(app, lambda: app.close_campaign(world.owner, campaign), "meili-2020 is closed")


# --------------------------------------------------------------------------------------
# Revocation (摘牌)
# --------------------------------------------------------------------------------------


def test_revocation_needs_failed_supervision_findings_of_a_named_candidacy(world):
    app = world.app
    campaign = opened(world)
    c1, c3 = approved(world, campaign, "c1"), approved(world, campaign, "c3")
    early = app.conduct_inspection(world.inspector, c1, "announced", "2020-05-01", ["甲"])
    e1 = app.record_finding(world.inspector, early, "1", "问题", "minor", "措施", "2020-06-01")
    app.complete_rectification(world.community, early, e1, "已整改", evidence(), on="2020-05-20")
    app.verify_rectification(world.inspector, early, e1, False, "不合格", on="2020-05-25")  # failed, but not supervision
    assessed(world, c1, 92)
    assessed(world, c3, 72.5)
    app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07")
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    app.decide(world.owner, campaign, on="2020-11-20")

    revisit = app.conduct_inspection(world.inspector, c1, "unannounced", "2021-03-01", ["甲"], purpose="supervision")
    f1 = app.record_finding(world.inspector, revisit, "41", "私装地锁", "major", "拆除地锁", "2021-04-01")
    f2 = app.record_finding(world.inspector, revisit, "38", "楼道堆物", "minor", "清理", "2021-04-01")
    app.complete_rectification(world.community, revisit, f2, "已清理", evidence(), on="2021-03-20")
    app.verify_rectification(world.inspector, revisit, f2, True, "合格", on="2021-03-25")

    revoke = lambda cid, findings, on="2021-04-10", reason="整改不合格": app.revoke(  # noqa: E731
        world.owner, cid, reason, findings, on=on)
    violation(app, lambda: revoke(c3, [f"{revisit}/{f1}"]), "candidacy is not_named; only a titled community")
    invalid(app, lambda: revoke(c1, []), "findings", [], "at least one INSPECTION_ID/FINDING_ID")
    invalid(app, lambda: revoke(c1, f"{revisit}/{f1}"), "findings", f"{revisit}/{f1}")
    invalid(app, lambda: revoke(c1, [f"{revisit}/{f1}"], reason=""), "reason", "")
    invalid(app, lambda: revoke(c1, [f"{early}/{e1}"]), "findings", f"{early}/{e1}", "findings of supervision inspections")
    invalid(app, lambda: revoke(c1, [f"{revisit}/F9"]), "finding_id", "F9", "F1, F2")
    violation(app, lambda: revoke(c1, [f"{revisit}/{f1}", f"{revisit}/{f2}"]),
              f"finding {revisit}/F2 is accepted and not overdue on 2021-04-10", "needs failed rectification")
    violation(app, lambda: revoke(c1, [f"{revisit}/{f1}"], on="2021-03-15"),
              f"finding {revisit}/F1 is open and not overdue on 2021-03-15")
    assert app.candidacy(world.owner, c1).status == NAMED
    revoke(c1, [f"{revisit}/{f1}"])  # open past its deadline: failed
    assert app.candidacy(world.owner, c1).status == REVOKED
    violation(app, lambda: revoke(c1, [f"{revisit}/{f1}"], on="2021-05-01"), "candidacy is revoked")


# --------------------------------------------------------------------------------------
# Veto items (一票否决) and tenant-configured rubric versions
# --------------------------------------------------------------------------------------


def test_the_2017_rubric_has_no_veto_items(world):
    app = world.app
    campaign = opened(world)
    cid = approved(world, campaign)
    invalid(app, lambda: app.record_veto(world.inspector, cid, "V1", "发生重大刑事案件"),
            "veto_id", "V1", "a veto item of tianjin-meili@2017: (this rubric has none)")
    invalid(app, lambda: app.withdraw_veto(world.owner, cid, "V1", "误报"), "veto_id", "V1", "(none recorded)")


def jinnan_campaign(world: World) -> tuple[str, str]:
    """A campaign pinned to the tenant's 2017-jinnan.1 version (with veto V1); returns
    (campaign id, content hash)."""
    world.setup()
    content_hash = world.app.configure_rubric(world.owner, "tianjin-meili@2017", "2017-jinnan.1", JINNAN_VETO, "津南区一票否决")
    campaign = world.app.create_campaign(world.owner, "jinnan-2020", "津南区2020年美丽社区创建", 2020, "tianjin-meili",
                                         "2017-jinnan.1", on="2020-03-09")
    world.app.open_campaign(world.owner, campaign, on="2020-03-09")
    return campaign, content_hash


@pytest.mark.parametrize("vetoed", [True, False], ids=["veto", "no-veto"])
def test_a_configured_veto_recorded_during_the_notice_blocks_naming(world, vetoed):
    app = world.app
    campaign, content_hash = jinnan_campaign(world)
    pinned = app.campaign(world.owner, campaign).rubric
    assert pinned == {"id": "tianjin-meili", "version": "2017-jinnan.1", "hash": content_hash}
    assert content_hash != world.rubric.content_hash
    cid = approved(world, campaign)
    assessed(world, cid, 92)
    assert app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07") == [cid]
    invalid(app, lambda: app.record_veto(world.inspector, cid, "V2", "其他"), "veto_id", "V2", "tianjin-meili@2017-jinnan.1: V1")
    invalid(app, lambda: app.record_veto(world.inspector, cid, "V1", ""), "reason", "")
    invalid(app, lambda: app.record_veto(world.inspector, cid, "V1", "案件", [{"name": "a.pdf", "sha256": "x"}]),
            "evidence[0].sha256", "x")
    if vetoed:
        app.record_veto(world.inspector, cid, "V1", "发生重大刑事案件", evidence("police-report.pdf"), on="2020-11-03")
        violation(app, lambda: app.record_veto(world.assessors[0], cid, "V1", "重复"), "veto V1 is already recorded")
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    assert app.decide(world.owner, campaign, on="2020-11-20") == {cid: not vetoed}

    candidacy = app.candidacy(world.owner, cid)
    derivation = candidacy.decision["derivation"]
    assert derivation["rubric"] == pinned
    failed = [ch for ch in derivation["outcome"]["checks"] if not ch["passed"]]
    held = app.community(world.owner, world.communities["c1"]).held_levels()
    if vetoed:
        assert candidacy.status == NOT_NAMED and held == []
        assert [ch["rule"] for ch in failed] == ["no_veto"]
        assert failed[0]["actual"] == ["V1"] and "一票否决项 V1" in failed[0]["reason"]
        assert derivation["outcome"]["vetoes"] == ["V1"]
        assert any("一票否决项 V1" in r for r in derivation["reasons"])
    else:
        assert candidacy.status == NAMED and held == ["meili"] and failed == []


def test_a_veto_recorded_before_the_notice_keeps_the_candidate_off_the_list(world):
    app = world.app
    campaign, _ = jinnan_campaign(world)
    c1, c3 = approved(world, campaign, "c1"), approved(world, campaign, "c3")
    assessed(world, c1, 92)
    assessed(world, c3, 92)
    app.record_veto(world.inspector, c1, "V1", "发生重大刑事案件", on="2020-10-20")
    assert app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07") == [c3]
    preliminary = app.campaign(world.owner, campaign).notice["preliminary"][c1]
    assert preliminary["listed"] is False and any("一票否决项 V1" in r for r in preliminary["reasons"])
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    assert app.decide(world.owner, campaign, on="2020-11-20") == {c1: False, c3: True}


@pytest.mark.parametrize("configured", [False, True], ids=["provisional", "configured"])
def test_configure_rubric_replaces_the_provisional_premium_standard(world, configured):
    app = world.app
    world.setup()
    version = None
    if configured:
        content_hash = app.configure_rubric(world.owner, "tianjin-meili", "2017-jingpin.1", PREMIUM_STANDARD, "市民政局发布精品标准")
        rubric = app.rubric_by_hash(content_hash)
        assert content_hash == rubric.content_hash != world.rubric.content_hash
        assert app.tenant(world.owner, TENANT).rubrics == {"tianjin-meili@2017-jingpin.1": content_hash}
        premium = rubric.level("jingpin")
        assert (premium.provisional, premium.label) == (False, "精品美丽社区")
        assert not rubric.is_provisional and world.rubric.is_provisional
        # rules are merged: only min_total changed
        assert premium.rules == {**world.rubric.level("jingpin").rules, "min_total": 95}
        assert rubric.level("meili") == world.rubric.level("meili")
        version = "2017-jingpin.1"
    campaign = app.create_campaign(world.owner, "jingpin-2020", "2020年精品美丽社区创建", 2020, "tianjin-meili", version,
                                   on="2020-03-09")
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    basic, premium_cid = approved(world, campaign, "c1", "meili", 92), approved(world, campaign, "c1", "jingpin", 92)
    for cid in (basic, premium_cid):
        assessed(world, cid, 92)
    listed = app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07")
    assert listed == ([basic] if configured else [basic, premium_cid])
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    assert app.decide(world.owner, campaign, on="2020-11-20") == {basic: True, premium_cid: not configured}
    derivation = app.candidacy(world.owner, premium_cid).decision["derivation"]
    held = app.community(world.owner, world.communities["c1"]).held_levels()
    if configured:
        # 92 < 95: left off the preliminary list, so the decision cites the preliminary reasons
        assert held == ["meili"]
        reasons = derivation["outcome"]["preliminary"]["reasons"]
        assert reasons == ["综合得分 92.00 低于 95 分 (official total 92.00 is below 95)"]
        assert derivation["reasons"] == [*reasons, "未列入公示名单 (not on the public notice list)"]
    else:
        assert held == ["jingpin", "meili"]
        assert derivation["outcome"]["provisional"] is True
        assert any("暂行标准" in r for r in derivation["reasons"])


def test_configure_rubric_refuses_changes_that_do_not_fit(world):
    app = world.app
    world.setup()
    configure = lambda changes, version="2017-x", reason="配置": app.configure_rubric(  # noqa: E731
        world.owner, "tianjin-meili", version, changes, reason)
    invalid(app, lambda: configure({"style": "quota"}), "changes.style", "quota", "one of title, veto_items, aggregation, levels")
    invalid(app, lambda: configure({"levels": {"gold": {"label": "金牌"}}}), "changes.levels", "gold", "['jingpin', 'meili']")
    invalid(app, lambda: configure({"levels": {"jingpin": {"id": "x"}}}), "changes.levels.jingpin.id", "x")
    invalid(app, lambda: configure({"veto_items": [{"id": "V1"}]}), "changes.veto_items.0.text", ..., "Field required")
    invalid(app, lambda: configure({"veto_items": [{"id": "V1", "text": "甲"}, {"id": "V1", "text": "乙"}]}),
            "changes", ..., "veto item ids must be unique")
    invalid(app, lambda: configure(["veto"]), "changes", ["veto"], "an object")
    invalid(app, lambda: configure({}, version=""), "version", "")
    invalid(app, lambda: configure({}, reason=""), "reason", "")
    violation(app, lambda: configure({"levels": {"jingpin": {"rules": {"min_total": 101}}}}),
              "derived rubric tianjin-meili@2017-x", "min_total 101 exceeds the rubric's 100 points")
    violation(app, lambda: configure({"levels": {"jingpin": {"rules": {"requires_level": "jingpin"}}}}),
              "requires_level 'jingpin' must be another level")
    violation(app, lambda: configure({"aggregation": "trimmed-mean"}), "aggregation 'trimmed-mean'")
    rejected(app, NotFound, lambda: app.configure_rubric(world.owner, "tianjin-meili@2015", "2015-x", {}, "配置"))
    configure({"title": "天津市美丽社区创建指标体系（2017，东丽区配置）"})
    assert list(app.tenant(world.owner, TENANT).rubrics) == ["tianjin-meili@2017-x"]

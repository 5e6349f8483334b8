"""A community (社区居委会) acts only for its own community, and a street officer's or a
community's token must name what it acts for.

Through the application layer on every storage backend, over HTTP, and for tokens also
through ``civic token create``.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from core.actors import Role
from core.cli import app as cli
from core.errors import CivicError, InvalidInput, PermissionDenied
from core.permissions import NotOwnCommunity
from core.services import CivicLedger
from tests.api_support import ApiWorld
from tests.helpers import TENANT, World, actor, evidence, notification_count, sheet

EVIDENCE = [{"name": "after.jpg", "sha256": "a" * 64}]


@pytest.fixture
def world(app) -> World:
    return World(app)


def inspected(world: World) -> dict[str, str]:
    """An open campaign with approved candidacies of c1 and c2 (both on 张贵庄街道), and a
    visit to c2 with one open finding."""
    app = world.app
    campaign = world.setup()
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    ids = {code: world.apply(campaign, code) for code in ("c1", "c2")}
    for cid in ids.values():
        app.review(world.district, cid, "approve", on="2020-03-11")
    visit = app.conduct_inspection(world.inspector, ids["c2"], "announced", "2020-05-20", ["巡查员甲"])
    finding = app.record_finding(world.inspector, visit, "38", "楼道堆物", "major", "清理楼道杂物", "2020-08-31", evidence())
    return {"campaign": campaign, **ids, "visit": visit, "finding": finding}


def refused_for_another_community(app: CivicLedger, call: Callable[[], Any], action: str, community: str,
                                  organisation: str) -> NotOwnCommunity:
    """``call`` is refused as PermissionDenied naming the action, the community and the
    actor's organisation (Chinese first, then English), and records nothing."""
    before = notification_count(app)
    with pytest.raises(CivicError) as info:
        call()
    err = info.value
    assert type(err) is NotOwnCommunity and isinstance(err, PermissionDenied), repr(err)
    message = str(err)
    assert message.startswith(f"{action}：社区 {community}"), message
    assert f"机构为 {organisation!r}" in message
    assert message.index("不是本社区") < message.index("is not the actor's own")
    assert f"{action}: community {community}" in message and f"a community actor of {organisation!r}" in message
    assert err.details["community"] == community and err.details["organisation"] == organisation
    assert notification_count(app) == before, "a refused command recorded events"
    return err


# -- the application layer -----------------------------------------------------------------------


def test_a_community_plans_the_rectification_of_its_own_finding_only(world):
    app = world.app
    ids = inspected(world)
    visit, finding = ids["visit"], ids["finding"]
    other, own = world.community_of("c1"), world.community_of("c2")
    assert (other.organisation, own.organisation) == ("詹滨里社区", "新立花园社区")

    refused_for_another_community(app, lambda: app.plan_rectification(other, visit, finding, "组织清理", on="2020-06-01"),
                                  "plan_rectification", "新立花园社区", "詹滨里社区")
    # a community actor whose organisation names no community at all acts for none
    generic = actor(Role.COMMUNITY, "juweihui-x", "社区居委会")
    refused_for_another_community(app, lambda: app.plan_rectification(generic, visit, finding, "组织清理"),
                                  "plan_rectification", "新立花园社区", "社区居委会")
    inspection = app.inspection(world.owner, visit)
    assert inspection.findings[finding]["status"] == "open" and inspection.version == 2

    app.plan_rectification(own, visit, finding, "组织清理", on="2020-06-01")
    assert app.inspection(world.owner, visit).findings[finding]["status"] == "planned"
    # the street officer of the community's street still may act for it
    app.complete_rectification(world.street_a, visit, finding, "街道协助清理完毕", evidence(), on="2020-08-20")


def test_a_community_completes_the_rectification_of_its_own_finding_only(world):
    app = world.app
    ids = inspected(world)
    visit, finding = ids["visit"], ids["finding"]
    refused_for_another_community(
        app, lambda: app.complete_rectification(world.community_of("c1"), visit, finding, "已清理", evidence(), on="2020-08-20"),
        "complete_rectification", "新立花园社区", "詹滨里社区")
    assert app.inspection(world.owner, visit).findings[finding]["status"] == "open"
    app.complete_rectification(world.community_of("c2"), visit, finding, "已清理", evidence(), on="2020-08-20")
    assert app.inspection(world.owner, visit).findings[finding]["status"] == "completed"


def test_a_community_assesses_itself_only(world):
    app = world.app
    ids = inspected(world)
    other, own = world.community_of("c1"), world.community_of("c2")
    refused_for_another_community(
        app, lambda: app.submit_score_sheet(other, ids["c2"], "self", sheet(world.rubric, 90), on="2020-09-10"),
        "score:self", "新立花园社区", "詹滨里社区")
    assert app.candidacy(world.owner, ids["c2"]).scores["self"] == {}
    app.submit_score_sheet(own, ids["c2"], "self", {"1": "2"}, on="2020-09-10")
    app.submit_score_sheet(other, ids["c1"], "self", {"1": "2"}, on="2020-09-10")
    # a correction is the same action on the same community
    refused_for_another_community(
        app, lambda: app.correct_score(other, ids["c2"], "self", "1", "1", "录入错误"),
        "score:self", "新立花园社区", "詹滨里社区")
    app.correct_score(own, ids["c2"], "self", "1", "1", "录入错误", on="2020-09-11")
    assert app.candidacy(world.owner, ids["c2"]).scores["self"] == {own.id: {"1": "1"}}


def test_the_binding_follows_a_renamed_community(world):
    app = world.app
    ids = inspected(world)
    old = world.community_of("c2")
    app.correct_community(world.district, world.communities["c2"], {"name": "新立花园南社区"}, "更名")
    refused_for_another_community(app, lambda: app.plan_rectification(old, ids["visit"], ids["finding"], "组织清理"),
                                  "plan_rectification", "新立花园南社区", "新立花园社区")
    app.plan_rectification(world.community_of("c2"), ids["visit"], ids["finding"], "组织清理", on="2020-06-01")


# -- tokens: the organisation names what the token acts for --------------------------------------


def refused_token(app: CivicLedger, role: str, organisation: str | None, *allowed: str) -> InvalidInput:
    before = notification_count(app)
    with pytest.raises(InvalidInput) as info:
        app.issue_token("tests", TENANT, role, "某人", organisation)
    err = info.value
    assert err.field == "organisation"
    for part in allowed:
        assert part in err.allowed, f"{part!r} not in {err.allowed!r}"
    assert notification_count(app) == before, "a refused token was recorded"
    return err


def test_a_street_officers_token_names_a_street_of_a_registered_community(world):
    app = world.app
    world.register()
    err = refused_token(app, "street_officer", "金桥街", "租户 tianjin 已登记社区所在的街道",
                        "a street of a registered community of tenant tianjin", "丰年村街道, 张贵庄街道")
    assert err.value == "金桥街"
    refused_token(app, "street_officer", None, "张贵庄街道")  # the default label 街道 names no street
    refused_token(app, "street_officer", "詹滨里社区", "张贵庄街道")  # a community is not a street
    _, token = app.issue_token("tests", TENANT, "street_officer", "张科长", "张贵庄街道")
    assert app.actor_for_token(token).organisation == "张贵庄街道"


def test_a_communitys_token_names_a_registered_community(world):
    app = world.app
    world.register()
    err = refused_token(app, "community", "金华里社区", "租户 tianjin 已登记的社区名称",
                        "the name of a registered community of tenant tianjin", "丰年里社区, 新立花园社区, 詹滨里社区")
    assert err.value == "金华里社区" and err.allowed.index("租户") < err.allowed.index("the name")
    refused_token(app, "community", None, "詹滨里社区")  # the default label 社区居委会 names none
    refused_token(app, "community", "c1", "詹滨里社区")  # by name, not by code
    refused_token(app, "community", "张贵庄街道", "詹滨里社区")
    _, token = app.issue_token("tests", TENANT, "community", "王主任", "詹滨里社区")
    assert app.actor_for_token(token).organisation == "詹滨里社区"
    # other roles name any organisation
    app.issue_token("tests", TENANT, "inspector", "巡查员", "第三方评估机构")


def test_a_tenant_without_communities_has_no_street_or_community_tokens(app):
    app.register_tenant(actor(Role.CITY_OWNER, "owner", "市民政局"), TENANT, "天津市")
    err = refused_token(app, "community", "詹滨里社区", "no community registered yet")
    assert "尚未登记社区" in err.allowed
    refused_token(app, "street_officer", "张贵庄街道", "no community registered yet")


def test_demo_tokens_act_for_the_first_communitys_street_and_community(plugins):
    app = CivicLedger("memory://", plugins=plugins)
    try:
        demo, _ = plugins.demos()["tianjin-dongli-2020"]
        demo.build(app)
        tokens = app.issue_demo_tokens("tests")[demo.reader.tenant]
        assert set(tokens) == set(Role)
        tenant = app.tenant(demo.reader, demo.reader.tenant)
        first = app.community(demo.reader, tenant.communities[0])
        assert app.actor_for_token(tokens[Role.COMMUNITY]).organisation == first.name
        assert app.actor_for_token(tokens[Role.STREET_OFFICER]).organisation == first.street
    finally:
        app.close()


def test_token_create_on_the_command_line_refuses_what_names_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/t.sqlite3"
    app = CivicLedger(url)
    World(app).register()
    app.close()
    env = {"CIVIC_DATABASE_URL": url}
    runner = CliRunner()

    def create(role: str, organisation: str):
        return runner.invoke(cli, ["token", "create", "--tenant", TENANT, "--role", role, "--name", "某人",
                                   "--organisation", organisation, "--json"], env=env)

    typo = create("street_officer", "金桥街")
    assert typo.exit_code == 1, typo.output
    assert "organisation: '金桥街' is not allowed" in typo.output
    assert "已登记社区所在的街道" in typo.output and "丰年村街道, 张贵庄街道" in typo.output
    unknown = create("community", "金华里社区")
    assert unknown.exit_code == 1, unknown.output
    assert "organisation: '金华里社区' is not allowed" in unknown.output and "詹滨里社区" in unknown.output
    listed = runner.invoke(cli, ["token", "list", "--tenant", TENANT, "--json"], env=env)
    assert json.loads(listed.stdout) == []

    for role, organisation in (("street_officer", "张贵庄街道"), ("community", "詹滨里社区")):
        created = create(role, organisation)
        assert created.exit_code == 0, created.output
        assert json.loads(created.stdout)["token"].startswith("civic_")
    listed = json.loads(runner.invoke(cli, ["token", "list", "--tenant", TENANT, "--json"], env=env).stdout)
    assert sorted((t["role"], t["organisation"]) for t in listed) == [("community", "詹滨里社区"),
                                                                       ("street_officer", "张贵庄街道")]


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture
def api(app) -> ApiWorld:
    return ApiWorld(app)


def forbidden_for_another_community(api: ApiWorld, response: Any, before: int, community: str, organisation: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/permission_denied")
    assert f"社区 {community}" in body["detail"] and f"机构为 {organisation!r}" in body["detail"]
    assert body["detail"].index("不是本社区") < body["detail"].index("acts only for the community")
    assert notification_count(api.app) == before, "a refused request recorded events"


def test_over_http_a_community_token_acts_for_its_own_community_only(api):
    ids = inspected(api)
    visit, finding = ids["visit"], ids["finding"]
    other, own = api.auth(api.community_of("c1")), api.auth(api.community_of("c2"))
    owner = api.auth(api.owner)
    plan = f"/inspections/{visit}/findings/{finding}/plan"
    complete = f"/inspections/{visit}/findings/{finding}/complete"

    # the reproduction: another community's token plans the rectification
    before = notification_count(api.app)
    response = api.http.post(plan, json={"plan": "组织清理", "on": "2020-06-01"}, headers=other)
    forbidden_for_another_community(api, response, before, "新立花园社区", "詹滨里社区")
    shown = api.http.get(f"/inspections/{visit}", headers=owner).json()
    assert [f["status"] for f in shown["findings"]] == ["open"]
    response = api.http.post(complete, json={"summary": "已清理", "evidence": EVIDENCE, "on": "2020-08-20"}, headers=other)
    forbidden_for_another_community(api, response, before, "新立花园社区", "詹滨里社区")
    response = api.http.post(f"/candidacies/{ids['c2']}/score-sheets", headers=other,
                             json={"kind": "self", "scores": sheet(api.rubric, 90), "on": "2020-09-10"})
    forbidden_for_another_community(api, response, before, "新立花园社区", "詹滨里社区")

    assert api.http.post(plan, json={"plan": "组织清理", "on": "2020-06-01"}, headers=own).status_code == 200
    answer = api.http.post(complete, json={"summary": "已清理", "evidence": EVIDENCE, "on": "2020-08-20"}, headers=own)
    assert answer.status_code == 200, answer.text
    answer = api.http.post(f"/candidacies/{ids['c2']}/score-sheets", headers=own,
                           json={"kind": "self", "scores": sheet(api.rubric, 90), "on": "2020-09-10"})
    assert answer.status_code == 201, answer.text
    shown = api.http.get(f"/inspections/{visit}", headers=other).json()  # reads stay tenant-wide
    assert [f["status"] for f in shown["findings"]] == ["completed"]

"""The OpenAPI document is true: what ``/openapi.json`` says is what the service answers.

1. Schemathesis sends requests generated from the document to every operation, with the
   token of every role, and checks every answer against it. The application runs over a
   SQLite file holding the Tianjin demo (``civic serve --demo``), a sealed visit plan and a
   selection with a nominee; the tokens are the demo tokens, one per role
   (``issue_demo_tokens``). Path parameters are, case by case, the generated values
   (random UUIDs, malformed ids) or real ids of the demo, so requests reach the routes'
   own checks and answers as well as their 404s and 422s; the documented examples go to
   the demo's ids. Bodies, queries and headers (``Idempotency-Key``, ``If-Match``) are
   generated from the document: valid ones (the documented examples first) and invalid
   ones. Checks: no 5xx (``not_a_server_error``), and the answer is documented: its status
   (``status_code_conformance``), media type (``content_type_conformance``), body
   (``response_schema_conformance``) and headers (``response_headers_conformance``).
   Bounded to stay quick and reproducible in CI: a fixed seed, deterministic generation,
   no example database, a few examples per operation, no coverage or stateful phase.
2. Whole campaigns over HTTP (the scenarios of ``tests/test_api_lifecycle.py``, and the
   writes and reads they leave out) with a client that checks every answer of every step
   the same way; between them every write and the heavy reads answer a success.
3. The answers to retries with an ``Idempotency-Key`` (replayed, in progress, recovered).
4. The document's shape: errors, parameters and success schemas on every operation.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.actors import Actor, Role
from core.plugins import PluginHost
from core.rubric import sheet_for_total
from core.services import CivicLedger
from core.services.visits import visit_commitment
from tests import test_api_lifecycle as lifecycle
from tests.api_support import ApiWorld
from tests.test_lifecycle import run_to_decision

DEMO = "tianjin-dongli-2020"
TENANT = "demo-tianjin"
#: Examples generated per operation and role, besides the documented examples.
MAX_EXAMPLES = 4

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

CONFIG = schemathesis.Config.from_dict({
    "seed": 20200309,
    "suppress-health-check": ["too_slow"],  # the one that depends on the machine's speed
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {
        "examples": {"enabled": True},
        "fuzzing": {"enabled": True},
        "coverage": {"enabled": False},
        "stateful": {"enabled": False},
    },
})


@dataclass
class Demo:
    app: Any
    tokens: dict[str, str]  # role -> bearer token
    real: dict[str, str]  # path parameter -> a real value of the demo
    by_path: dict[tuple[str, str], str]  # (path, parameter) -> a real value, where the name alone is ambiguous


def _document() -> dict[str, Any]:
    """The OpenAPI document (the same for every store: it is built from the routes alone)."""
    ledger = CivicLedger("memory://", plugins=PluginHost.discover())
    try:
        return create_app(ledger).openapi()
    finally:
        ledger.close()


schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)
#: The demo the module's tests run against (set by the ``demo`` fixture).
CURRENT: list[Demo] = []


@schema.hook
def flatmap_path_parameters(context, path_parameters):  # noqa: ANN001, ANN201
    """The generated path values, or the same with every parameter a real value of the demo."""
    if not path_parameters or not CURRENT:
        return st.just(path_parameters)
    return st.sampled_from([_real_path(CURRENT[-1], context.operation.path, path_parameters), path_parameters])


def _real_path(demo: Demo, path: str, values: dict[str, Any]) -> dict[str, Any]:
    return {name: demo.by_path.get((path, name), demo.real.get(name, value)) for name, value in values.items()}


def _real_values(ledger: CivicLedger) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    owner = Actor(id="schema-tests", role=Role.CITY_OWNER, organisation="tests", tenant=TENANT)
    inspector = owner.model_copy(update={"role": Role.INSPECTOR, "id": "schema-inspector"})
    district = owner.model_copy(update={"role": Role.DISTRICT_OFFICER, "id": "schema-district"})
    tenant = ledger.tenant(owner, TENANT)
    campaign = ledger.campaign(owner, tenant.campaigns[0])
    candidacies = [ledger.candidacy(owner, cid) for cid in campaign.candidacies]
    objected = next(c for c in candidacies if c.objections)
    with_findings = next(
        ledger.inspection(owner, i) for c in candidacies for i in c.inspections if ledger.inspection(owner, i).findings
    )
    plan = ledger.seal_visit_plan(inspector, str(campaign.id), visit_commitment(str(objected.id), "2021-03-01", "n" * 16),
                                  on="2021-02-20")
    selection = ledger.open_selection(owner, "schema-award", "接口测试评选", 2020, "person", "votes", places=1)
    ledger.nominate(district, selection, "n1", "候选甲", "接口测试单位", "推荐理由")
    real = {
        "tenant": TENANT,
        "campaign_id": str(campaign.id),
        "candidacy_id": str(objected.id),
        "community_id": objected.community_id,
        "objection_id": next(iter(objected.objections)),
        "inspection_id": str(with_findings.id),
        "finding_id": next(iter(with_findings.findings)),
        "phase_id": campaign.schedule[0]["id"],
        "veto_id": "V1",
        "plan_id": plan,
        "selection_id": selection,
        "stream_id": str(objected.id),
        "rubric_id": campaign.rubric["id"],
        "version": campaign.rubric["version"],
    }
    community = ledger.community(owner, objected.community_id)
    by_path = {
        ("/tenants/{tenant}/campaigns/by-code/{code}", "code"): campaign.code,
        ("/tenants/{tenant}/communities/by-code/{code}", "code"): community.code,
    }
    return real, by_path


@pytest.fixture(scope="module")
def demo(tmp_path_factory, plugins):
    ledger = CivicLedger(f"sqlite:///{tmp_path_factory.mktemp('schema')}/civic.sqlite3", plugins=plugins)
    built, _ = ledger.plugins.demos()[DEMO]
    built.build(ledger, lambda _: None)
    tokens = {role.value: token for role, token in ledger.issue_demo_tokens("schema tests")[TENANT].items()}
    assert sorted(tokens) == sorted(r.value for r in Role), tokens
    real, by_path = _real_values(ledger)
    CURRENT.append(Demo(create_app(ledger), tokens, real, by_path))
    yield CURRENT[-1]
    CURRENT.pop()
    ledger.close()


@pytest.mark.parametrize("role", sorted(r.value for r in Role))
@schema.parametrize()
def test_every_answer_is_the_one_the_openapi_document_describes(case, role, demo):
    if case.path_parameters and case.meta is not None and case.meta.phase.name == TestPhase.EXAMPLES:
        case.path_parameters = _real_path(demo, case.operation.path, case.path_parameters)  # the documented examples
    case.call_and_validate(base_url="http://testserver", app=demo.app, checks=CHECKS,
                           headers={"Authorization": f"Bearer {demo.tokens[role]}"})


# -- whole campaigns: every answer of every step, as documented ---------------------------------------


class CheckedClient(TestClient):
    """A test client whose every answer is checked against the OpenAPI document."""

    def __init__(self, app: Any, answered: dict[str, set[int]]) -> None:
        super().__init__(app, raise_server_exceptions=False)
        self.answered = answered

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        response = super().request(method, url, *args, **kwargs)
        path = response.request.url.path
        operation = schema.find_operation_by_path(method.upper(), path)
        assert operation is not None, f"{method} {url} is no operation of the document"
        template = re.escape(operation.path).replace(r"\{", "{").replace(r"\}", "}")
        values = re.fullmatch(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template), path)
        assert values is not None, (operation.path, path)
        operation.Case(path_parameters={k: unquote(v) for k, v in values.groupdict().items()}).validate_response(
            response, checks=CHECKS)
        self.answered.setdefault(operation.label, set()).add(response.status_code)
        return response


EXAMPLE_RUBRIC = Path(__file__).resolve().parents[1] / "docs" / "examples" / "yuanqu-hexie.yaml"


def the_other_writes(world: ApiWorld) -> None:
    """What the three campaigns do not do: a municipality registering itself, register
    corrections, rubric files and versions, rescheduling, returns, withdrawals, an amended
    list, vetoes, progress records, closing and cancelling, both kinds of selection, and the
    whole-store audit."""
    c = lifecycle.Client(world)
    owner, district, street, assessors = world.owner, world.district, world.street_a, world.assessors
    _, newcomer = world.app.issue_token("tests", "hangzhou", "city_owner", "hz-owner", "杭州市民政局")
    registered = world.http.post("/tenants", json={"code": "hangzhou", "name": "杭州市"},
                                 headers={"Authorization": f"Bearer {newcomer}"})
    assert registered.status_code == 201, registered.text

    decided = run_to_decision(world)
    c.post(owner, f"/campaigns/{decided['campaign']}/decisions", {"on": "2020-11-20"}, 201)
    assert c.post(owner, f"/campaigns/{decided['campaign']}/close", {"on": "2020-12-01"})["status"] == "closed"
    c.post(district, f"/communities/{world.communities['c1']}/corrections",
           {"changes": {"households": 1250}, "reason": "2020年人口普查数据更新"})

    rubric_file = EXAMPLE_RUBRIC.read_bytes()
    yaml = {"Content-Type": "application/yaml"}
    checked = world.http.post("/rubrics/validate", content=rubric_file, headers=world.auth(owner, **yaml))
    assert checked.status_code == 200, checked.text
    imported = world.http.post("/tenants/tianjin/rubrics", content=rubric_file, headers=world.auth(owner, **yaml))
    assert imported.status_code == 201, imported.text
    c.get(owner, "/rubrics/yuanqu-hexie")
    c.post(owner, "/tenants/tianjin/rubrics/tianjin-meili/versions", {
        "version": "2017-schema.1", "changes": {"veto_items": [{"id": "V1", "text": "发生重大安全责任事故"}]},
        "reason": "增加一票否决项"}, 201)
    c.get(owner, "/tenants/tianjin/rubrics/tianjin-meili/versions/2017-schema.1/lineage")

    campaign = c.post(owner, "/tenants/tianjin/campaigns", {
        "code": "veto-2020", "title": "2020年美丽社区创建（否决项）", "year": 2020, "rubric_id": "tianjin-meili",
        "rubric_version": "2017-schema.1", "on": "2020-03-09"}, 201)["id"]
    phase = c.get(owner, f"/campaigns/{campaign}")["schedule"][-1]
    c.post(owner, f"/campaigns/{campaign}/phases/{phase['id']}",
           {"start": phase["start"], "end": phase["end"], "reason": "按期进行", "on": "2020-03-09"})
    c.post(owner, f"/campaigns/{campaign}/open", {"on": "2020-03-09"})
    full = sheet_for_total(world.rubric, 95)

    def apply(code: str) -> str:
        return c.post(world.street_of(code), f"/campaigns/{campaign}/candidacies", {
            "community_id": world.communities[code], "level": "meili", "self_scores": full, "on": "2020-03-10"}, 201)["id"]

    first, returned, withdrawn = apply("c1"), apply("c2"), apply("c3")
    c.post(district, f"/candidacies/{first}/review", {"outcome": "approve", "on": "2020-03-11"})
    c.post(district, f"/candidacies/{returned}/review", {"outcome": "return", "reason": "自评材料不全", "on": "2020-03-11"})
    c.post(street, f"/candidacies/{returned}/resubmit", {"self_scores": full, "on": "2020-03-11"})
    c.post(district, f"/candidacies/{returned}/review", {"outcome": "approve", "on": "2020-03-11"})
    c.post(world.street_b, f"/candidacies/{withdrawn}/withdraw", {"reason": "社区合并，不再参评", "on": "2020-03-11"})
    assert c.post(district, f"/campaigns/{campaign}/freeze", {"on": "2020-03-12"})["frozen"] is True
    c.post(owner, f"/campaigns/{campaign}/amendments", {
        "community_id": world.communities["c2"], "level": "meili", "change": "remove",
        "justification": "经领导小组研究移出名单", "on": "2020-03-13"})
    c.post(assessors[0], f"/candidacies/{first}/vetoes", {"veto_id": "V1", "reason": "发生安全事故", "on": "2020-10-20"}, 201)
    c.get(owner, f"/candidacies/{first}/vetoes/V1")
    c.post(assessors[0], f"/candidacies/{first}/vetoes/V1/withdraw", {"reason": "经核实不属实", "on": "2020-10-21"})
    c.post(district, f"/campaigns/{campaign}/progress", {
        "cadence": "monthly", "period": "2020-05", "subject": "东丽区创建推进", "summary": "完成自评部署",
        "figures": {"communities": 3, "rate": "0.85"}, "on": "2020-06-01"})
    c.get(owner, f"/campaigns/{campaign}/progress")
    cancelled = c.post(owner, "/tenants/tianjin/campaigns", {
        "code": "cancelled-2020", "title": "取消的活动", "year": 2020, "rubric_id": "tianjin-meili", "on": "2020-03-09"}, 201)
    c.post(owner, f"/campaigns/{cancelled['id']}/cancel", {"reason": "上级通知暂停", "on": "2020-04-01"})

    for method, code in (("score", "award-2020"), ("votes", "ranking-2020")):
        selection = c.post(owner, "/tenants/tianjin/selections", {
            "code": code, "title": "2020年度评选", "year": 2020, "subject": "person", "method": method, "places": 1}, 201)["id"]
        for nominee in ("n1", "n2"):
            c.post(district, f"/selections/{selection}/nominations",
                   {"nominee_id": nominee, "name": f"候选{nominee}", "organisation": "某社区居委会", "reason": "服务居民"})
            if method == "score":
                for n, assessor in enumerate(assessors):
                    c.post(assessor, f"/selections/{selection}/scores", {"nominee_id": nominee, "points": 90 - n})
            else:
                c.post(owner, f"/selections/{selection}/votes", {"nominee_id": nominee, "votes": 300})
        c.get(owner, f"/selections/{selection}")
        c.post(owner, f"/selections/{selection}/select", {})
        c.get(owner, f"/selections/{selection}")

    everyone = Actor(id="auditor-all", role=Role.AUDITOR, organisation="审计", tenant="*")
    assert c.get(everyone, "/audit/verification")["verified"] is True
    c.get(everyone, "/audit/anchor")

    # the reads of a decided campaign (its candidacies with their decisions and derivations)
    done, named = decided["campaign"], decided["c1"]
    for read in (f"/campaigns/{done}", f"/campaigns/{done}/outcome", f"/campaigns/{done}/notice",
                 f"/campaigns/{done}/notice/list", f"/campaigns/{done}/verification", f"/candidacies/{named}",
                 f"/candidacies/{named}/assessments", f"/streams/{done}/history",
                 f"/communities/{world.communities['c1']}/titles", "/tenants/tianjin/campaigns"):
        c.get(owner, read)
    c.get(owner, f"/campaigns/{done}/whatif", rubric="tianjin-meili@2017-schema.1")
    c.get(owner, f"/campaigns/{done}/candidacies", detail="true", order="ranking")
    c.get(owner, f"/campaigns/{done}/findings/overdue", on="2021-01-01")
    c.get(owner, f"/campaigns/{done}/streets/progress", on="2021-01-01")
    c.get(owner, f"/streams/{named}", version="1")
    assert world.http.get(f"/campaigns/{done}/bundle", headers=world.auth(world.auditor)).status_code == 200


LIFECYCLES = [
    lifecycle.test_a_tianjin_campaign_from_the_register_to_a_revocation,
    lifecycle.test_a_bazhong_checklist_campaign_over_http,
    lifecycle.test_a_brand_community_quota_selection_over_http,
    the_other_writes,
]


@pytest.mark.parametrize("scenario", LIFECYCLES, ids=lambda f: f.__name__.removeprefix("test_"))
def test_whole_campaigns_over_http_get_only_documented_answers(scenario, plugins):
    ledger = CivicLedger("memory://", plugins=plugins)
    answered: dict[str, set[int]] = {}
    world = ApiWorld(ledger)
    world.http = CheckedClient(world.http.app, answered)
    try:
        with world.http:
            scenario(world)
    finally:
        ledger.close()
    assert any(200 <= s < 300 for statuses in answered.values() for s in statuses)


def test_the_answers_to_retries_are_the_documented_ones(plugins, monkeypatch):
    """A retry with an ``Idempotency-Key`` gets the first answer again (a success or an
    error), 422 for another request, 409 while the first still runs, and the ``Recovered``
    answer when the first was recorded but its answer lost: each as the document says."""
    ledger = CivicLedger("memory://", plugins=plugins)
    world = ApiWorld(ledger)
    world.register()
    answered: dict[str, set[int]] = {}
    world.http = CheckedClient(world.http.app, answered)
    body = {"code": "c9", "name": "新社区", "district": "东丽区", "street": "张贵庄街道", "households": 10, "population": 20}
    path = "/tenants/tianjin/communities"

    def post(who: Actor, key: str, json: dict[str, Any]) -> Any:
        return world.http.post(path, json=json, headers=world.auth(who, **{"Idempotency-Key": key}))

    try:
        with world.http:
            first, again = post(world.district, "retry-1", body), post(world.district, "retry-1", body)
            assert (first.status_code, again.status_code, again.headers["Idempotent-Replayed"]) == (201, 201, "true")
            assert post(world.district, "retry-1", {**body, "code": "c10"}).status_code == 422
            refused, replayed = post(world.resident, "retry-2", body), post(world.resident, "retry-2", body)
            assert (refused.status_code, replayed.status_code, replayed.headers["Idempotent-Replayed"]) == (403, 403, "true")

            log = world.http.app.state.request_log
            monkeypatch.setattr(log, "answer", lambda *args, **kwargs: None)  # the server dies before keeping its answer
            assert post(world.district, "retry-3", {**body, "code": "c11"}).status_code == 201
            monkeypatch.undo()
            busy = post(world.district, "retry-3", {**body, "code": "c11"})
            assert busy.status_code == 409 and int(busy.headers["Retry-After"]) >= 1
            with log.side.transaction() as c:  # the first request's lease runs out
                c.execute(f"UPDATE {log.table} SET lease_until = ? WHERE key = ?", (time.time() - 1, "retry-3"))
            recovered = post(world.district, "retry-3", {**body, "code": "c11"})
            assert recovered.status_code == 200 and recovered.headers["Idempotent-Recovered"] == "true", recovered.text
    finally:
        ledger.close()
    assert answered["POST /tenants/{tenant}/communities"] == {200, 201, 403, 409, 422}


def test_the_document_declares_errors_parameters_and_answers_on_every_operation():
    document = _document()
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            statuses = set(operation["responses"])
            needed = {"400", "413", "422"}  # the body limit holds for every method
            if operation.get("security"):
                needed |= {"401", "403", "404", "409", "429", "503"}
            if not needed <= statuses:
                problems.append(f"{where}: no {sorted(needed - statuses)}")
            for status in needed:
                if operation["responses"][status]["$ref"].rsplit("/", 1)[1].removesuffix("Post") != f"Problem{status}":
                    problems.append(f"{where}: {status} is no problem document")
            for status, answer in operation["responses"].items():
                if status.startswith("2") and "$ref" not in answer:
                    schemas = [media.get("schema") for media in answer.get("content", {}).values()]
                    if not schemas or not all(schemas):
                        problems.append(f"{where}: {status} has no schema")
            names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in operation.get("parameters", [])}
            if method == "post" and "Idempotency-Key" not in names:
                problems.append(f"{where}: no Idempotency-Key")
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"].endswith("_id") and parameter["name"] not in (
                        "rubric_id", "phase_id", "finding_id", "veto_id", "objection_id"):
                    if parameter["schema"].get("format") != "uuid":
                        problems.append(f"{where}: {parameter['name']} is not a UUID")
    assert problems == []
    health = document["paths"]["/health"]["get"]
    assert "security" not in health and set(health["responses"]) == {"200", "400", "413", "422"}
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail", "instance"]
    assert "HTTPValidationError" not in document["components"]["schemas"]

"""Tenant isolation, role checks and robustness of EVERY route of the application.

The routes are read from ``create_app(...).routes`` each time, so a route added later is
covered without touching this file. What the routes cannot say themselves must follow them,
and the tests fail (naming what is missing) until it does: :data:`WRITE_ACTIONS` (every
POST/PUT/PATCH/DELETE route -> the action of ``core.permissions.WRITE_RULES`` it performs),
a real Tianjin value for every path parameter name (the ``real`` map of :func:`tianjin`, or
:data:`PATH_OVERRIDES` where the value depends on the route) and a value for every required
query parameter without documented examples (:data:`QUERY_VALUES`).

The world (:func:`tianjin`): a decided Tianjin campaign (``tests.test_lifecycle.run_to_decision``)
pinned to a Tianjin-only rubric version that has a veto item, with an inspection and a finding,
an upheld objection, a veto, a sealed (unrevealed) visit plan, a selection with a nominee and a
progress record; every path parameter is filled with a real id of "tianjin", body fields that
name ids (``community_id``, ``candidacy_id``, …) too, and every other body field with the first
of its documented ``examples`` (which must validate).

(a) Another tenant, "beijing" — a token of every role, the city owner and the auditor
included. The rule, derived from the core (``LedgerBase.load`` answers NotFound for another
tenant's aggregate, and commands load what they act on before ``authorize``, or check the
role first only for things created in the actor's own tenant):

* a request that names anything of Tianjin (a path parameter other than a plugin's public
  rubric id, or a Tianjin-only query value) is answered **404**;
* **403** instead is accepted only where the route refuses the token's role before looking
  anything up — so the answer is exactly the same (after putting placeholders for the path
  values) as for the same request naming made-up ids — and only for roles that may not do it
  anyway: a Beijing role allowed to perform the write action (a city owner opening a
  campaign, a street officer applying, …) must get 404, since only the tenant can stop it,
  and Beijing's city owner and auditor (who may read everything of their own tenant) must
  get 404 on every read;
* never 2xx, never 5xx, nothing recorded, and never a body holding a Tianjin id or name that
  the request did not carry. Routes naming nothing of Tianjin (``/me``, ``/rubrics``,
  ``/plugins``, ``POST /tenants``, the whole-store audit routes, …) may answer anything below
  500, under the same body and recording rules. The public routes (:data:`PUBLIC_ROUTES`,
  the logs' signed checkpoints, which need no token) answer every token exactly as they
  answer a request without one, and record nothing.

(b) Wrong roles of Tianjin: for every write route (and each action a route performs, e.g. the
three score kinds), a token of each role NOT in ``WRITE_RULES[action]`` gets 403 whose
``allowed_roles`` are exactly that action's roles, and nothing is recorded. One exception,
the core's own rule: a sealed visit plan does not exist for the inspected side (community,
street officer; ``VisitPlanCommands.visit_plan``), so they get 404 on a plan's routes.

(c) Fuzz: for every route, requests with malformed bodies (not JSON, wrong JSON types for
every field, missing fields, huge strings, lone surrogates, deep nesting), made-up and
malformed path ids, bad query values and bad headers never get a 5xx, and every 4xx is
``application/problem+json``.

Everything runs on memory, SQLite and PostgreSQL (the fuzz takes about 15-20 s per backend:
its values reach the stores' encodings too). A 5xx is reported with the exception behind it
and where it was raised, grouped by cause.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import types
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from core.actors import Actor, Role
from core.permissions import WRITE_RULES
from core.services import CivicLedger
from core.services.visits import visit_commitment
from tests.api_support import OTHER_TENANT, ApiWorld
from tests.helpers import TENANT, notification_count
from tests.test_lifecycle import run_to_decision

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = "application/problem+json"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# -- what every write route does (core.permissions.WRITE_RULES) ----------------------------------

#: A route that changes nothing (checks a rubric file): no role is refused by it.
READS_ONLY = "reads only"
SCORE_KINDS = {f"score:{kind}": {"kind": kind} for kind in ("self", "mock", "official")}

#: (method, path) -> the action (str), READS_ONLY, or {action: body fields that select it}.
WRITE_ACTIONS: dict[tuple[str, str], str | dict[str, dict[str, Any]]] = {
    ("POST", "/tenants"): "register_tenant",
    ("POST", "/tenants/{tenant}/communities"): "register_community",
    ("POST", "/communities/{community_id}/corrections"): "correct_community",
    ("POST", "/tenants/{tenant}/rubrics/{rubric_id}/versions"): "configure_rubric",
    ("POST", "/tenants/{tenant}/rubrics"): "configure_rubric",
    ("POST", "/rubrics/validate"): READS_ONLY,
    ("POST", "/tenants/{tenant}/campaigns"): "create_campaign",
    ("POST", "/campaigns/{campaign_id}/phases/{phase_id}"): "reschedule_phase",
    ("POST", "/campaigns/{campaign_id}/open"): "open_campaign",
    ("POST", "/campaigns/{campaign_id}/close"): "close_campaign",
    ("POST", "/campaigns/{campaign_id}/cancel"): "cancel_campaign",
    ("POST", "/campaigns/{campaign_id}/freeze"): "freeze_candidates",
    ("POST", "/campaigns/{campaign_id}/amendments"): "amend_candidates",
    ("POST", "/campaigns/{campaign_id}/candidacies"): "apply",
    ("POST", "/candidacies/{candidacy_id}/resubmit"): "resubmit",
    ("POST", "/candidacies/{candidacy_id}/review"): "review",
    ("POST", "/candidacies/{candidacy_id}/withdraw"): "withdraw",
    ("POST", "/candidacies/{candidacy_id}/inspections"): "conduct_inspection",
    ("POST", "/inspections/{inspection_id}/findings"): "record_finding",
    ("POST", "/inspections/{inspection_id}/findings/{finding_id}/plan"): "plan_rectification",
    ("POST", "/inspections/{inspection_id}/findings/{finding_id}/complete"): "complete_rectification",
    ("POST", "/inspections/{inspection_id}/findings/{finding_id}/verify"): "verify_rectification",
    ("POST", "/campaigns/{campaign_id}/visit-plans"): "seal_visit_plan",
    ("POST", "/visit-plans/{plan_id}/reveal"): "reveal_visit_plan",
    ("POST", "/candidacies/{candidacy_id}/score-sheets"): SCORE_KINDS,
    ("POST", "/candidacies/{candidacy_id}/correct-score"): SCORE_KINDS,
    ("POST", "/candidacies/{candidacy_id}/vetoes"): "record_veto",
    ("POST", "/candidacies/{candidacy_id}/vetoes/{veto_id}/withdraw"): "withdraw_veto",
    ("POST", "/candidacies/{candidacy_id}/survey"): "record_survey",
    ("POST", "/campaigns/{campaign_id}/notice"): "open_public_notice",
    ("POST", "/campaigns/{campaign_id}/notice/close"): "close_public_notice",
    ("POST", "/candidacies/{candidacy_id}/objections"): "file_objection",
    ("POST", "/candidacies/{candidacy_id}/objections/{objection_id}/resolve"): "resolve_objection",
    ("POST", "/campaigns/{campaign_id}/decisions"): "decide",
    ("POST", "/candidacies/{candidacy_id}/put-forward"): "put_forward",
    ("POST", "/candidacies/{candidacy_id}/revoke"): "revoke",
    ("POST", "/tenants/{tenant}/selections"): "open_selection",
    ("POST", "/selections/{selection_id}/nominations"): "nominate",
    ("POST", "/selections/{selection_id}/scores"): "record_score",
    ("POST", "/selections/{selection_id}/votes"): "record_votes",
    ("POST", "/selections/{selection_id}/select"): "select",
    ("POST", "/campaigns/{campaign_id}/progress"): "record_progress",
    ("POST", "/tenants/{tenant}/log/cosignatures"): READS_ONLY,  # records no event: kept beside the events
}

#: Routes that need no token: what they answer is public (the logs' signed checkpoints).
PUBLIC_ROUTES = {("GET", "/tenants/{tenant}/log/checkpoint"), ("GET", "/tenants/{tenant}/log/checkpoints/{size}")}

#: Path parameters naming something the core hides from some roles of its own tenant.
HIDDEN_FROM = {"plan_id": {Role.COMMUNITY, Role.STREET_OFFICER}}  # a sealed visit plan

# -- the Tianjin world ---------------------------------------------------------------------------

TENANT_NAME = "天津市（隔离测试）"
COMMUNITY_NAMES = {"c1": "隔离甲社区", "c2": "隔离乙社区", "c3": "隔离丙社区"}
CAMPAIGN_CODE = "iso-meili-2020"
CAMPAIGN_TITLE = "隔离测试美丽社区创建"
PRIVATE_VERSION = "2017-iso.1"
PRIVATE_TITLE = "天津隔离测试专用评分标准"
VETO_TEXT = "隔离测试否决项"
VETO_REASON = "隔离测试否决理由"
SELECTION_CODE = "iso-award"
SELECTION_TITLE = "隔离测试十佳评选"
NOMINEE_NAME = "隔离测试候选人"
PROGRESS_SUBJECT = "隔离测试进度"
NONCE = "isolation-nonce-0123456789"

#: Path parameter names whose value is public (a plugin's rubric): naming it names nothing of Tianjin.
PUBLIC_PARAMETERS = {"rubric_id"}


class TianjinWorld(ApiWorld):
    """The usual cast, on a campaign pinned to a Tianjin-only rubric version with a veto item,
    and with names found nowhere else (so a leak is recognisable)."""

    def setup(self, year: int = 2020) -> str:
        self.app.register_tenant(self.owner, TENANT, TENANT_NAME)
        self.app.configure_rubric(self.owner, "tianjin-meili@2017", PRIVATE_VERSION,
                                  {"title": PRIVATE_TITLE, "veto_items": [{"id": "V1", "text": VETO_TEXT}]}, "隔离测试")
        for code, name in COMMUNITY_NAMES.items():
            street = "丰年村街道" if code == "c3" else "张贵庄街道"
            self.communities[code] = self.app.register_community(
                self.district, code, name, "东丽区", street, households=1200, population=3000, on=f"{year}-03-01")
        return self.app.create_campaign(self.owner, CAMPAIGN_CODE, CAMPAIGN_TITLE, year, "tianjin-meili",
                                        rubric_version=PRIVATE_VERSION, on=f"{year}-03-09")

    def of_role(self, role: Role) -> Actor:
        return {
            Role.CITY_OWNER: self.owner, Role.DISTRICT_OFFICER: self.district, Role.STREET_OFFICER: self.street_a,
            Role.COMMUNITY: self.community, Role.INSPECTOR: self.inspector, Role.ASSESSOR: self.assessors[0],
            Role.RESIDENT: self.resident, Role.AUDITOR: self.auditor,
        }[role]


@dataclass
class Tianjin:
    world: TianjinWorld
    real: dict[str, str]  # path parameter (and id-naming body field) -> a real Tianjin value
    secrets: set[str] = field(default_factory=set)  # what no other tenant may ever read


def tianjin(app) -> Tianjin:
    world = TianjinWorld(app)
    ids = run_to_decision(world)
    campaign, c2 = ids["campaign"], ids["c2"]
    app.record_veto(world.assessors[0], c2, "V1", VETO_REASON, on="2020-11-09")
    app.decide(world.owner, campaign, on="2020-11-20")
    candidacy = app.candidacy(world.owner, c2)
    inspection = candidacy.inspections[0]
    finding = next(iter(app.inspection(world.owner, inspection).findings))
    objection = next(iter(candidacy.objections))
    plan = app.seal_visit_plan(world.inspector, campaign, visit_commitment(c2, "2020-12-01", NONCE), on="2020-11-25")
    selection = app.open_selection(world.owner, SELECTION_CODE, SELECTION_TITLE, 2020, "person", "score", places=1)
    app.nominate(world.district, selection, "n1", NOMINEE_NAME, "隔离测试单位", "隔离测试推荐理由")
    app.record_progress(world.district, campaign, "monthly", "2020-05", PROGRESS_SUBJECT, "隔离测试进度摘要")
    tenant = app.tenant(world.owner, TENANT)
    rubric_hash = tenant.rubrics[f"tianjin-meili@{PRIVATE_VERSION}"]
    real = {
        "tenant": TENANT,
        "community_id": world.communities["c2"],
        "campaign_id": campaign,
        "candidacy_id": c2,
        "inspection_id": inspection,
        "finding_id": finding,
        "objection_id": objection,
        "veto_id": "V1",
        "phase_id": app.campaign(world.owner, campaign).schedule[0]["id"],
        "selection_id": selection,
        "plan_id": plan,
        "stream_id": campaign,
        "rubric_id": "tianjin-meili",
        "version": PRIVATE_VERSION,
    }
    streams = {str(tenant.id), *tenant.communities, campaign, *ids.values(), inspection, plan, selection}
    streams |= {i for cid in ids.values() if cid != campaign for i in app.candidacy(world.owner, cid).inspections}
    secrets = streams | {finding, objection, rubric_hash, rubric_hash.removeprefix("sha256:"), TENANT_NAME, CAMPAIGN_CODE,
                         CAMPAIGN_TITLE, PRIVATE_VERSION, PRIVATE_TITLE, VETO_TEXT, VETO_REASON, SELECTION_CODE,
                         SELECTION_TITLE, NOMINEE_NAME, PROGRESS_SUBJECT, *COMMUNITY_NAMES.values()}
    for role in Role:  # issuing a token records an event: all of them before anything is counted
        world.auth(world.of_role(role))
        world.auth(world.stranger(role))
    return Tianjin(world, real, secrets)


@pytest.fixture
def tj(app):
    """The Tianjin world, its test client kept open (one event loop for every request)."""
    world = tianjin(app)
    with world.world.http:
        yield world


#: Values for path parameters that depend on the route (ambiguous names).
PATH_OVERRIDES = {
    ("/tenants/{tenant}/communities/by-code/{code}", "code"): "c2",
    ("/tenants/{tenant}/campaigns/by-code/{code}", "code"): CAMPAIGN_CODE,
    ("/tenants/{tenant}/log/checkpoints/{size}", "size"): "1",
}

#: Query values: (path, name) first, then name; None leaves the parameter out. Values that
#: only Tianjin knows make the request one that names Tianjin.
QUERY_OVERRIDES: dict[tuple[str, str], str | None] = {
    ("/streams/{stream_id}", "version"): "1",
    ("/streams/{stream_id}", "recorded_by"): None,  # exactly one of version and recorded_by
    ("/rubrics/{rubric_id}", "version"): PRIVATE_VERSION,
}
QUERY_VALUES: dict[str, str] = {
    "on": "2021-01-01",
    "rubric": f"tianjin-meili@{PRIVATE_VERSION}",
    "filename": "rubric.json",
}
PRIVATE_QUERY_VALUES = {PRIVATE_VERSION, f"tianjin-meili@{PRIVATE_VERSION}"}

# -- the routes ----------------------------------------------------------------------------------


@dataclass
class Endpoint:
    method: str
    path: str
    route: APIRoute

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def path_params(self) -> list[str]:
        return [p.alias or p.name for p in self.route.dependant.path_params]

    @property
    def query_params(self) -> list[Any]:
        return list(self.route.dependant.query_params)

    @property
    def body_model(self) -> type[BaseModel] | None:
        if self.route.body_field is None:
            return None
        annotation = self.route.body_field.field_info.annotation
        candidates = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        assert models, f"{self.key}: body of type {annotation!r} is not a pydantic model"
        return models[0]

    @property
    def raw_body(self) -> bool:
        """A write route reading the request body itself (e.g. a rubric file)."""
        return self.method in WRITE_METHODS and self.route.body_field is None

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(world: ApiWorld) -> list[Endpoint]:
    """Every API route of the application (as included, whatever the routers' nesting)."""
    app = world.http.app
    try:
        from fastapi.routing import iter_route_contexts

        found = [(c.path, c.methods, c.original_route) for c in iter_route_contexts(app.routes)]
    except ImportError:  # FastAPI before included routers became lazy
        found = [(r.path, getattr(r, "methods", None), r) for r in app.routes]
    result = [Endpoint(m, path, route) for path, methods, route in found if isinstance(route, APIRoute)
              for m in sorted(methods or ()) if m != "HEAD"]
    assert len(result) > 2, "no routes found"
    return result


def example_body(endpoint: Endpoint, real: dict[str, str]) -> dict[str, Any] | None:
    """A body the route's model accepts: the documented examples, with real Tianjin ids."""
    model = endpoint.body_model
    if model is None:
        return None
    body: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in real and key.endswith("_id"):
            body[key] = real[key]
        elif info.examples:
            body[key] = info.examples[0]
        else:
            assert not info.is_required(), f"{endpoint}: required body field {key!r} has no examples"
    model.model_validate(body)  # the documented examples must be valid input
    return body


def variants(endpoint: Endpoint) -> list[tuple[str, dict[str, Any]]]:
    """(action, body fields selecting it) for each action a write route performs."""
    entry = WRITE_ACTIONS.get(endpoint.key, READS_ONLY)  # a route missing here fails the table test
    if entry == READS_ONLY:
        return []
    if isinstance(entry, str):
        return [(entry, {})]
    return list(entry.items())


def path_values(endpoint: Endpoint, real: dict[str, str]) -> dict[str, str]:
    values = {}
    for name in endpoint.path_params:
        override = PATH_OVERRIDES.get((endpoint.path, name))
        assert override is not None or name in real, (
            f"{endpoint}: add a real Tianjin value for path parameter {name!r} to tianjin() / PATH_OVERRIDES")
        values[name] = override if override is not None else real[name]
    return values


def fake_values(values: dict[str, str]) -> dict[str, str]:
    """Values of the same shape naming nothing that exists."""
    fakes = {}
    for name, value in values.items():
        try:
            uuid.UUID(value)
            fakes[name] = str(uuid.uuid4())
        except ValueError:
            fakes[name] = "nosuch" + uuid.uuid4().hex[:10]
    return fakes


def query_values(endpoint: Endpoint) -> dict[str, str]:
    values = {}
    for param in endpoint.query_params:
        name = param.alias or param.name
        if (endpoint.path, name) in QUERY_OVERRIDES:
            value = QUERY_OVERRIDES[(endpoint.path, name)]
        elif name in QUERY_VALUES:
            value = QUERY_VALUES[name]
        elif param.field_info.examples:
            value = param.field_info.examples[0]
        else:
            assert not param.field_info.is_required(), f"{endpoint}: add a value for query parameter {name!r}"
            value = None
        if value is not None:
            values[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def url(endpoint: Endpoint, values: dict[str, str], query: dict[str, str] | None = None, *, encoded: bool = False) -> str:
    """The request target; ``encoded`` values are put in the path as they are."""
    path = endpoint.path
    for name, value in values.items():
        segment = value if encoded else quote(value, safe="")
        path = re.sub(r"\{" + re.escape(name) + r"(:[^}]*)?\}", lambda _: segment, path)
    if query:
        path += "?" + "&".join(f"{quote(k, safe='')}={v if encoded else quote(v, safe='')}" for k, v in query.items())
    return path


def send(world: ApiWorld, endpoint: Endpoint, target: str, person: Actor | None, body: Any = None, *,
         content: bytes | None = None, headers: dict[str, str] | None = None):
    all_headers = {**(world.auth(person) if person is not None else {}), **(headers or {})}
    if content is None and body is not None:
        content = json.dumps(body).encode()  # ASCII: a lone surrogate travels as its JSON escape
    if content is None and endpoint.raw_body:
        content = b"{}"
    if content is not None:
        all_headers.setdefault("Content-Type", "application/json")
    return world.http.request(endpoint.method, target, content=content, headers=all_headers)


def problem_failure(endpoint: Endpoint, target: str, response) -> str | None:
    """Why the answer breaks the rules for every answer (a 5xx; a 4xx that is no problem document)."""
    where = f"{endpoint.method} {target[:200]}"
    if response.status_code >= 500:
        return f"{where} -> {response.status_code}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        if not response.headers.get("content-type", "").startswith(PROBLEM):
            return f"{where} -> {response.status_code} with {response.headers.get('content-type')}: {response.text[:200]}"
        body = response.json()
        if body.get("status") != response.status_code or not body.get("type") or not body.get("title"):
            return f"{where} -> {response.status_code}: not a problem document: {response.text[:200]}"
    return None


def report(failures: list[str], what: str) -> None:
    """Every failure at once (the first 60), so one run shows what each route gets wrong."""
    assert not failures, f"{len(failures)} {what}:\n" + "\n".join(failures[:60])


# -- the tables follow the routes --------------------------------------------------------------------


def test_every_write_route_is_in_the_action_table(plugins):
    routes = endpoints(TianjinWorld(CivicLedger("memory://", plugins=plugins)))
    writes = {e.key for e in routes if e.is_write}
    missing = sorted(writes - set(WRITE_ACTIONS))
    assert not missing, f"write routes with no entry in WRITE_ACTIONS (which WRITE_RULES action do they perform?): {missing}"
    stale = sorted(set(WRITE_ACTIONS) - writes)
    assert not stale, f"WRITE_ACTIONS names routes that do not exist: {stale}"
    for key, entry in WRITE_ACTIONS.items():
        actions = [] if entry == READS_ONLY else [entry] if isinstance(entry, str) else list(entry)
        assert all(a in WRITE_RULES for a in actions), (key, actions)


# -- (a) another tenant ----------------------------------------------------------------------------


def normalized(response, values: list[dict[str, str]]) -> tuple[int, str]:
    """The answer with every given value named instead; longest spellings first over all
    the mappings, so a short value (a year, say) is never replaced inside a longer one (a
    random id that happens to contain it)."""
    text = response.text
    spellings = {
        spelled: name
        for mapping in values
        for name, value in mapping.items()
        for spelled in (value, quote(value, safe=""), repr(value))
    }
    for spelled in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelled, f"<{spellings[spelled]}>")
    return response.status_code, text


def test_another_tenant_gets_404_on_every_route_and_learns_nothing(app, tj, server_errors):
    world = tj.world
    checked = 0
    failures: list[str] = []
    for endpoint in endpoints(world):
        values = path_values(endpoint, tj.real)
        query = query_values(endpoint)
        body = example_body(endpoint, tj.real)
        actions = [a for a, _ in variants(endpoint)] if endpoint.is_write else []
        names_tianjin = any(n not in PUBLIC_PARAMETERS for n in values) or bool(PRIVATE_QUERY_VALUES & set(query.values()))
        for role in Role:
            stranger = world.stranger(role)
            patch = next((p for a, p in variants(endpoint) if role in WRITE_RULES[a]), {}) if endpoint.is_write else {}
            sent = {**body, **patch} if body is not None else None
            target = url(endpoint, values, query)
            before = notification_count(app)
            response = send(world, endpoint, target, stranger, sent)
            where = f"{endpoint} as {role.value} of {OTHER_TENANT}: {response.status_code} {response.text[:200]}"
            checked += 1
            problem = problem_failure(endpoint, target, response)
            if problem:
                failures.append(f"{problem} (as {role.value} of {OTHER_TENANT}) {server_errors.last or ''}")
            if notification_count(app) != before:
                failures.append(f"{where}: something was recorded")
            if endpoint.key in PUBLIC_ROUTES:  # anyone may read it: exactly what a request without a token gets
                anyone = send(world, endpoint, target, None, sent)
                if (anyone.status_code, anyone.content) != (response.status_code, response.content):
                    failures.append(f"{where}: differs from the answer without a token ({anyone.status_code})")
                continue
            request_text = target + json.dumps(sent, ensure_ascii=False) + json.dumps(sent)
            leaked = sorted(s for s in tj.secrets if s in response.text and s not in request_text)
            if leaked:
                failures.append(f"{where}: the answer holds {leaked}")
            if not names_tianjin or problem:
                continue
            if response.status_code not in (403, 404):
                failures.append(f"{where}: expected 404")
            elif response.status_code == 403:
                allowed = any(role in WRITE_RULES[a] for a in actions) if endpoint.is_write else (
                    role in (Role.CITY_OWNER, Role.AUDITOR))
                if allowed:
                    failures.append(f"{where}: this role may do it in its own tenant, so only 404 is right")
                    continue
                fakes = fake_values(values)
                twin = send(world, endpoint, url(endpoint, fakes, query), stranger, sent)
                if normalized(response, [values, fakes]) != normalized(twin, [values, fakes]):
                    failures.append(f"{where}: 403 differs from the answer for made-up ids ({twin.status_code} "
                                    f"{twin.text[:200]}), so it was given after looking Tianjin's record up")
    report(failures, "answers to another tenant break isolation")
    assert checked >= 8 * 60


# -- (b) wrong roles ----------------------------------------------------------------------------------


def test_every_write_route_refuses_every_role_the_core_does_not_allow(app, tj, server_errors):
    world = tj.world
    failures: list[str] = []
    for endpoint in endpoints(world):
        if not endpoint.is_write or WRITE_ACTIONS.get(endpoint.key) == READS_ONLY:
            continue
        assert endpoint.key in WRITE_ACTIONS, f"{endpoint} is not in WRITE_ACTIONS"
        values = path_values(endpoint, tj.real)
        target = url(endpoint, values, query_values(endpoint))
        body = example_body(endpoint, tj.real)
        hidden = set().union(*(HIDDEN_FROM.get(name, set()) for name in values))
        for action, patch in variants(endpoint):
            allowed = sorted(r.value for r in WRITE_RULES[action])
            for role in Role:
                if role in WRITE_RULES[action]:
                    continue
                sent = {**body, **patch} if body is not None else None
                before = notification_count(app)
                response = send(world, endpoint, target, world.of_role(role), sent)
                where = f"{endpoint} ({action}) as {role.value}: {response.status_code} {response.text[:200]}"
                if notification_count(app) != before:
                    failures.append(f"{where}: something was recorded")
                problem = problem_failure(endpoint, target, response)
                if problem:
                    failures.append(f"{problem} (as {role.value}) {server_errors.last or ''}")
                elif response.status_code == 404 and role in hidden:
                    continue
                elif response.status_code != 403 or response.json().get("allowed_roles") != allowed:
                    failures.append(f"{where}: expected 403 naming the allowed roles {allowed}")
    report(failures, "answers to wrong roles")


# -- (c) fuzz -------------------------------------------------------------------------------------------

#: Path segments as sent (already URL-encoded): made-up, malformed, huge, invalid UTF-8, an
#: encoded surrogate, a NUL.
PATH_JUNK = [str(uuid.uuid4()), "not-a-uuid", "x" * 3000, quote("社区"), "%FF", "%ED%A0%80", "%00", "..%2F.."]
#: Query values as sent (already URL-encoded).
QUERY_JUNK = ["", "x" * 5000, "-1", "9" * 40, "nan", "2020-13-45", "%FF", "%00", quote("2021-01-01T00:00:00+99:00")]
#: JSON values put into each body field in turn: every JSON type, out-of-range numbers, a huge
#: string, a lone surrogate (legal as a JSON escape, not encodable as UTF-8), a NUL.
FIELD_JUNK: list[Any] = [None, True, 10**40, "x" * 100_000, "\ud800", [None, {}], {"a": [1.5, {}]}]
#: Whole bodies as sent.
RAW_JUNK = [b"", b"{", b"\xff\xfe\x00", b"[]", b'"x"', b"null", b"NaN", b'{"on": Infinity, "on": -Infinity}',
            b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
            '{"\ud800": "\udfff"}'.encode("utf-8", "surrogatepass")]
HEADER_JUNK = [{"If-Match": "garbage"}, {"If-Match": '"99999999999999999999"'}, {"If-Match": '"1"'},
               {"Idempotency-Key": "has space"}, {"Content-Type": "text/plain"}]


class ServerErrors(logging.Handler):
    """Remembers the exception behind the last 5xx (the application logs it on ``civic.api``)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            ours = [f for f in traceback.extract_tb(record.exc_info[2]) if f.filename.startswith(str(ROOT))
                    and "site-packages" not in f.filename]
            where = ", ".join(f"{Path(f.filename).relative_to(ROOT)}:{f.lineno}" for f in ours[-2:])
            message = re.sub(r"\d+", "N", str(exc))[:100]  # one cause, whatever the position
            self.last = f"{type(exc).__name__} at {where or '?'}: {message}"


@pytest.fixture
def server_errors(monkeypatch):
    """The application's 5xx, recorded here instead of logged (so a failure lists them compactly)."""
    from api import problems

    handler = ServerErrors()
    logger = logging.Logger("civic.api.fuzz")  # not registered: nothing else sees its records
    logger.addHandler(handler)
    monkeypatch.setattr(problems, "log", logger)
    return handler


def fuzz_person(world: TianjinWorld, endpoint: Endpoint) -> Actor:
    """A role that gets past the role checks, so the values reach the core's own checks."""
    if endpoint.is_write and WRITE_ACTIONS.get(endpoint.key, READS_ONLY) != READS_ONLY:
        action = variants(endpoint)[0][0]
        return world.of_role(sorted(WRITE_RULES[action])[0])
    return world.owner


def fuzz_requests(endpoint: Endpoint, real: dict[str, str]):
    """(what was changed, target, body or None, raw content or None, extra headers) for one route."""
    values = path_values(endpoint, real)
    query = query_values(endpoint)
    body = example_body(endpoint, real)
    if endpoint.is_write and WRITE_ACTIONS.get(endpoint.key, READS_ONLY) != READS_ONLY and body is not None:
        body = {**body, **variants(endpoint)[0][1]}
    target = url(endpoint, values, query)
    quoted = {k: quote(v, safe="") for k, v in values.items()}
    quoted_query = {k: quote(v, safe="") for k, v in query.items()}
    for name in values:
        for junk in PATH_JUNK:
            yield f"path {name}={junk[:20]}", url(endpoint, {**quoted, name: junk}, quoted_query, encoded=True), body, None, {}
    for param in endpoint.query_params:
        name = param.alias or param.name
        for junk in QUERY_JUNK:
            yield f"query {name}={junk[:20]}", url(endpoint, quoted, {**quoted_query, name: junk}, encoded=True), body, None, {}
    yield "unknown and repeated query", target + ("&" if query else "?") + "unknown=1&on=1&on=2", body, None, {}
    for headers in HEADER_JUNK:
        yield f"header {headers}", target, body, None, headers
    if endpoint.is_write:
        for raw in RAW_JUNK:
            yield f"raw body {raw[:24]!r}", target, None, raw, {}
    if body is None:
        return
    for key in body:
        yield f"body without {key}", target, {k: v for k, v in body.items() if k != key}, None, {}
        for junk in FIELD_JUNK:
            yield f"body {key}={json.dumps(junk)[:24]}", target, {**body, key: junk}, None, {}
    yield "body with an unknown field", target, {**body, "unknown_field": 1}, None, {}
    # a NUL in every text, with the answer kept for retries (PostgreSQL text refuses NUL)
    nul = {k: ("a\u0000b" if isinstance(v, str) else v) for k, v in body.items()}
    yield "every text with a NUL, Idempotency-Key", target, nul, None, {"Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    yield "every text field huge", target, {k: ("x" * 100_000 if isinstance(v, str) else v) for k, v in body.items()}, None, {}


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_app(request, tmp_path, plugins):
    """The backends the fuzz runs on (its values hit the stores' encodings: SQLite and PostgreSQL too)."""
    if request.param == "memory":
        url_ = "memory://"
    elif request.param == "sqlite":
        url_ = f"sqlite:///{tmp_path}/civic.sqlite3"
    else:
        url_ = request.getfixturevalue("pg_schema_url")
    ledger = CivicLedger(url_, plugins=plugins)
    yield ledger
    ledger.close()


def test_no_request_gets_a_5xx_and_every_4xx_is_a_problem_document(fuzz_app, server_errors):
    tj = tianjin(fuzz_app)
    world = tj.world
    with world.http:
        fuzz_every_route(tj, server_errors)


def fuzz_every_route(tj: Tianjin, server_errors: ServerErrors) -> None:
    world = tj.world
    sent = 0
    failures: dict[str, list[str]] = {}  # cause -> "route: what was sent"
    for endpoint in endpoints(world):
        person = fuzz_person(world, endpoint)
        base = url(endpoint, path_values(endpoint, tj.real), query_values(endpoint))
        for headers in ({}, {"Authorization": "Bearer nope"}):  # no token, a malformed one
            response = send(world, endpoint, base, None, headers=headers)
            if response.status_code != 401 and endpoint.path != "/health" and endpoint.key not in PUBLIC_ROUTES:
                failures.setdefault(f"{response.status_code} without a valid token", []).append(str(endpoint))
        for what, target, body, raw, headers in fuzz_requests(endpoint, tj.real):
            server_errors.last = None
            response = send(world, endpoint, target, person, body, content=raw, headers=headers)
            sent += 1
            problem = problem_failure(endpoint, target, response)
            if problem:
                cause = server_errors.last or problem.split(" -> ", 1)[1][:120]
                failures.setdefault(cause, []).append(f"{endpoint} [{what}]")
    lines = []
    for cause, where in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        routes = sorted({w.split(" [")[0] for w in where})
        lines.append(f"{cause}\n    {len(where)} requests on {len(routes)} routes, e.g. {where[0]}; routes: {', '.join(routes[:12])}"
                     + (" …" if len(routes) > 12 else ""))
    report(lines, "kinds of fuzzed request got a 5xx or a 4xx that is no problem document")
    assert sent > 1000

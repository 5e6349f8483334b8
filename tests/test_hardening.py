"""Hardening: text a store cannot hold is refused at every entrance; one bad event never
stops a read model; an Idempotency-Key gives at most one write whatever happens (parallel
retries, any spelling of the Bearer scheme, a crash between recording and answering)."""

from __future__ import annotations

import contextvars
import subprocess
import sys
import threading
import time
from uuid import UUID

import pytest

from api.idempotency import RequestLog
from core.domain import Community
from core.errors import InvalidInput, RequestTakenOver
from core.fences import FENCE
from core.readmodels import read_models
from core.services.tokens import token_digest
from core.text import bad_character
from tests.api_support import ApiWorld
from tests.helpers import TENANT, notification_count

COMMUNITY = {"code": "c9", "name": "新社区", "district": "东丽区", "street": "张贵庄街道", "households": 10, "population": 20}
REFUSED = ["a\x00b", "a\x01b", "a\x7fb", "a\x85b", "a\ufdd0b", "a\ufffeb", "a\U0010ffffb", "a\udfffb"]


@pytest.fixture
def world(app) -> ApiWorld:
    w = ApiWorld(app)
    w.campaign = w.setup()
    return w


def _json(text: str) -> bytes:
    """A JSON body whose strings may hold lone surrogates (as JSON escapes allow)."""
    return text.encode("utf-8", "surrogatepass")


# -- text at every entrance --------------------------------------------------------------------


@pytest.mark.parametrize("name", REFUSED, ids=lambda s: f"U+{ord(s[1]):04X}")
def test_text_a_store_cannot_hold_is_refused_over_http_with_nothing_recorded(world, name):
    import json

    headers = world.auth(world.district, **{"Content-Type": "application/json"})
    before = notification_count(world.app)
    body = json.dumps({**COMMUNITY, "name": name})  # ASCII: every character escaped as \uXXXX
    answer = world.http.post("/tenants/tianjin/communities", content=_json(body), headers=headers)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["field"] == "name" and "NUL" in problem["allowed"] and "非字符" in problem["allowed"]
    assert bad_character(problem["value"]) is None  # the value is shown escaped
    assert notification_count(world.app) == before
    # the raw (unescaped) character in a UTF-8 body is refused the same way, where UTF-8 can carry it
    if not 0xD800 <= ord(name[1]) <= 0xDFFF:
        raw = json.dumps({**COMMUNITY, "name": name}, ensure_ascii=False).encode("utf-8")
        if b"\x00" not in raw and b"\x01" not in raw:  # raw controls are not JSON at all: a 422 either way
            again = world.http.post("/tenants/tianjin/communities", content=raw, headers=headers)
            assert again.status_code == 422 and again.json()["field"] == "name", again.text
    assert notification_count(world.app) == before


@pytest.mark.parametrize("name", REFUSED, ids=lambda s: f"U+{ord(s[1]):04X}")
def test_the_python_api_refuses_the_same_text_before_anything_is_recorded(world, name):
    before = notification_count(world.app)
    with pytest.raises(InvalidInput) as refused:
        world.app.register_community(world.district, "c9", name, "东丽区", "张贵庄街道", households=1, population=1)
    assert refused.value.field == "name" and bad_character(str(refused.value.value)) is None
    assert notification_count(world.app) == before


def test_every_event_is_checked_whatever_command_made_it(world):
    """The last gate: text that slipped past a command's own checks (here a free-form
    reason of a correction) is refused when the events are about to be recorded."""
    before = notification_count(world.app)
    with pytest.raises(InvalidInput) as refused:
        world.app.correct_community(world.district, world.communities["c1"], {"population": 3100}, "普查\x00")
    assert refused.value.field == "reason"
    assert notification_count(world.app) == before


def test_a_lone_surrogate_in_a_json_key_is_a_422_not_a_500(world):
    answer = world.http.post("/tenants/tianjin/communities", content=_json('{"te\\udfffxt": "a"}'),
                             headers=world.auth(world.district, **{"Content-Type": "application/json"}))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "te\\udfffxt"
    unauthenticated = world.http.post("/tenants/tianjin/communities", content=_json('{"te\\udfffxt": "a"}'),
                                      headers={"Content-Type": "application/json"})
    assert unauthenticated.status_code in (401, 422) and unauthenticated.status_code != 500


def test_query_strings_and_paths_are_checked_too(world):
    answer = world.http.get("/me?on=2020%0001", headers=world.auth(world.owner))
    assert answer.status_code == 422 and answer.json()["field"] == "query.on", answer.text
    path = world.http.get("/tenants/tian%00jin", headers=world.auth(world.owner))
    assert path.status_code == 422 and path.json()["field"] == "path", path.text


def test_a_command_line_argument_with_such_text_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "plugins", "a\x01b"],
                          capture_output=True, text=True, env={"CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
                                                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "argument 2" in done.stderr and "U+0001" in done.stderr and "第2个参数无效" in done.stderr


# -- one bad event never stops a read model ---------------------------------------------------------


def _record_unchecked(app, code: str, name) -> str:
    """A community event recorded past the platform's checks (as an older version, or a
    store edited by hand, may hold one): straight through the library's ``save``."""
    community = Community(meta=app.meta(_district(app), TENANT), tenant=TENANT, code=code, name=name,
                          district="东丽区", street="张贵庄街道", households=1, population=1)
    app.save(community)
    return str(community.id)


def _district(app):
    from tests.helpers import actor
    from core.actors import Role

    return actor(Role.DISTRICT_OFFICER, "district", "东丽区民政局", TENANT)


def test_an_event_a_model_cannot_apply_is_recorded_as_a_problem_and_the_rest_keeps_serving(world, store_url):
    app = world.app
    models = read_models(app)
    models.catch_up()
    poisoned = [_record_unchecked(app, "bad1", {"not": "text"})]  # no store binds an object to a TEXT column
    if store_url.startswith("postgresql"):
        poisoned.append(_record_unchecked(app, "bad2", "a\x00b"))  # PostgreSQL text cannot hold NUL
    after = app.register_community(world.district, "c10", "后来社区", "东丽区", "张贵庄街道", households=1, population=1)
    other = world.stranger_owner
    app.register_tenant(other, other.tenant, "北京市")

    applied = models.catch_up()  # no exception: the model goes past the bad events
    assert applied["communities"] >= 2
    problems = models.problems("communities")
    assert [p["stream"] for p in problems] == poisoned
    assert all(p["position"] > 0 and p["version"] == 1 and p["topic"].endswith("Registered") for p in problems)
    rows = {r[0]: r for r in models.dump("communities")["communities"]}
    assert after in rows and not set(poisoned) & set(rows)  # the later event was applied; the bad ones were not
    assert all(world.communities[c] in rows for c in ("c1", "c2", "c3"))
    status = {s["model"]: s for s in models.status()}
    assert status["communities"]["up_to_date"] and len(status["communities"]["problems"]) == len(poisoned)
    # every list keeps answering, for this tenant and for every other
    for who in (world.owner, world.district):
        listed = world.http.get(f"/campaigns/{world.campaign}/findings/overdue", headers=world.auth(who))
        assert listed.status_code == 200, listed.text
    other_campaign = app.create_campaign(other, "bj-2020", "2020年北京", 2020, "tianjin-meili", on="2020-03-09") \
        if False else None
    assert other_campaign is None
    # a rebuild gives the same rows and the same problems
    before = models.dump("communities")
    models.rebuild("communities")
    assert models.dump("communities") == before
    assert [p["stream"] for p in models.problems("communities")] == poisoned


def test_readmodels_status_shows_the_problems_with_their_positions(tmp_path, plugins):
    from typer.testing import CliRunner

    from core.cli import app as cli
    from core.services import CivicLedger
    from tests.helpers import World

    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    ledger = CivicLedger(url, plugins=plugins)
    try:
        World(ledger).setup()
        stream = _record_unchecked(ledger, "bad", {"not": "text"})
    finally:
        ledger.close()
    runner = CliRunner()
    caught = runner.invoke(cli, ["readmodels", "catch-up"], env={"CIVIC_DATABASE_URL": url})
    assert caught.exit_code == 0, caught.output
    shown = runner.invoke(cli, ["readmodels", "status"], env={"CIVIC_DATABASE_URL": url})
    assert shown.exit_code == 0, shown.output
    assert "events not applied" in shown.output and stream in shown.output
    as_json = runner.invoke(cli, ["readmodels", "status", "--json"], env={"CIVIC_DATABASE_URL": url})
    import json

    communities = next(m for m in json.loads(as_json.output) if m["model"] == "communities")
    assert [p["stream"] for p in communities["problems"]] == [stream]


# -- idempotency keys ---------------------------------------------------------------------------------


def _communities(app) -> int:
    return len(app.tenant(_district(app), TENANT).communities)


def test_the_same_key_sent_in_parallel_gives_one_write_and_never_a_500(world):
    headers = world.auth(world.district, **{"Idempotency-Key": "parallel-1"})
    before = _communities(world.app)
    answers: list = []
    lock = threading.Lock()

    def send() -> None:
        answer = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    assert all(a.json()["type"].endswith("/request_in_progress") for a in answers if a.status_code == 409)
    assert 201 in statuses
    assert len({a.text for a in answers if a.status_code == 201}) == 1
    assert _communities(world.app) == before + 1
    # once answered, every retry is the replayed first answer
    again = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"


def test_the_key_belongs_to_the_token_whatever_the_spelling_of_the_scheme(world):
    token = world.auth(world.district)["Authorization"].split(" ", 1)[1]
    before = _communities(world.app)
    answers = [
        world.http.post("/tenants/tianjin/communities", json=COMMUNITY,
                        headers={"Authorization": f"{scheme} {token}", "Idempotency-Key": "scheme-1"})
        for scheme in ("Bearer", "bearer", "BEARER")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert _communities(world.app) == before + 1


def test_an_unknown_token_claims_no_key(world):
    log: RequestLog = world.http.app.state.request_log
    answer = world.http.post("/tenants/tianjin/communities", json=COMMUNITY,
                             headers={"Authorization": "Bearer civic_" + "x" * 43, "Idempotency-Key": "k"})
    assert answer.status_code == 401
    with log.side.transaction() as c:
        assert c.query(f"SELECT COUNT(*) FROM {log.table}")[0][0] == 0


def _claim_row(world, key: str, person=None):
    log: RequestLog = world.http.app.state.request_log
    token = world.auth(person or world.district)["Authorization"].split(" ", 1)[1]
    with log.side.transaction() as c:
        return log, token_digest(token), c.query(
            f"SELECT holder, lease_until, written, status FROM {log.table} WHERE scope = ? AND key = ?",
            (token_digest(token), key))


def test_a_request_killed_before_it_recorded_anything_frees_its_key_after_the_lease(world):
    headers = world.auth(world.district, **{"Idempotency-Key": "crashed-before"})
    log, scope, _ = _claim_row(world, "crashed-before")
    # the claim a killed server left behind: claimed, nothing written, no answer
    import hashlib

    fingerprint = hashlib.sha256(b"\n".join([b"POST", b"/tenants/tianjin/communities", b"",
                                             __import__("json").dumps(COMMUNITY).encode()])).hexdigest()
    body = __import__("json").dumps(COMMUNITY).encode()
    assert log.claim(scope, "crashed-before", fingerprint, "dead-holder") is None
    busy = world.http.post("/tenants/tianjin/communities", content=body,
                           headers={**headers, "Content-Type": "application/json"})
    assert busy.status_code == 409 and busy.json()["type"].endswith("/request_in_progress")
    assert int(busy.headers["Retry-After"]) >= 1
    with log.side.transaction() as c:  # the lease runs out
        c.execute(f"UPDATE {log.table} SET lease_until = ? WHERE scope = ? AND key = ?", (time.time() - 1, scope, "crashed-before"))
    before = _communities(world.app)
    fresh = world.http.post("/tenants/tianjin/communities", content=body,
                            headers={**headers, "Content-Type": "application/json"})
    assert fresh.status_code == 201, fresh.text
    assert _communities(world.app) == before + 1


def test_a_request_killed_after_recording_is_answered_from_what_it_recorded(world, monkeypatch):
    headers = world.auth(world.district, **{"Idempotency-Key": "crashed-after"})
    world.auth(world.district)
    log: RequestLog = world.http.app.state.request_log
    monkeypatch.setattr(log, "answer", lambda *args, **kwargs: None)  # the server dies before it keeps its answer
    first = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
    assert first.status_code == 201
    monkeypatch.undo()
    log, scope, rows = _claim_row(world, "crashed-after")
    assert rows and rows[0][3] is None and rows[0][2]  # no answer kept, but written in the events' transaction
    before = notification_count(world.app)
    busy = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
    assert busy.status_code == 409  # within the lease the first request may still be answering
    with log.side.transaction() as c:  # the lease runs out
        c.execute(f"UPDATE {log.table} SET lease_until = ? WHERE scope = ? AND key = ?", (time.time() - 1, scope, "crashed-after"))
    retry = world.http.post("/tenants/tianjin/communities", json=COMMUNITY, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.headers["Idempotent-Recovered"] == "true"
    recovered = retry.json()
    assert recovered["recovered"] is True
    assert {r["id"] for r in recovered["recorded"]} >= {first.json()["id"]}
    assert notification_count(world.app) == before


def test_a_write_whose_claim_was_taken_over_records_nothing(world):
    log: RequestLog = world.http.app.state.request_log
    scope = token_digest("civic_" + "y" * 43)
    assert log.claim(scope, "taken", "f", "new-holder") is None
    before = notification_count(world.app)
    token = FENCE.set(log.fence(scope, "taken", "old-holder"))
    try:
        with pytest.raises(RequestTakenOver):
            world.app.register_community(world.district, "c11", "被接管社区", "东丽区", "张贵庄街道", households=1, population=1)
    finally:
        FENCE.reset(token)
    assert notification_count(world.app) == before
    # the holder's own fence marks the row in the events' transaction
    token = FENCE.set(log.fence(scope, "taken", "new-holder"))
    try:
        community = world.app.register_community(world.district, "c11", "被接管社区", "东丽区", "张贵庄街道", households=1, population=1)
    finally:
        FENCE.reset(token)
    with log.side.transaction() as c:
        written = c.query(f"SELECT written FROM {log.table} WHERE scope = ? AND key = ?", (scope, "taken"))[0][0]
    assert str(UUID(community)) in written


def test_a_rubric_with_such_text_is_refused_by_the_python_api_too(world):
    """A rubric is recorded as JSON text, where a NUL is an escape: it is checked as a
    whole before it is recorded, whichever interface hands it over."""
    rubric = world.rubric.model_copy(update={"id": "nul-rubric", "title": "美丽\x00社区"})
    before = notification_count(world.app)
    with pytest.raises(InvalidInput) as refused:
        world.app.import_rubric(world.owner, rubric, reason="导入")
    assert refused.value.field == "rubric.title"
    assert notification_count(world.app) == before


# -- the text rule, stated generally -------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


def _refused_by_definition(c: str) -> bool:
    """The rule of core/text.py restated from Unicode's own properties."""
    import unicodedata

    cp = ord(c)
    return ((unicodedata.category(c) == "Cc" and c not in "\t\n\r") or unicodedata.category(c) == "Cs"
            or 0xFDD0 <= cp <= 0xFDEF or cp & 0xFFFE == 0xFFFE)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40))
def test_the_text_rule_refuses_exactly_the_characters_it_names(text):
    expected = next((i for i, c in enumerate(text) if _refused_by_definition(c)), None)
    assert bad_character(text) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_a_value_is_refused_if_and_only_if_one_of_its_texts_is(value):
    from core.text import find_bad_text

    def texts(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from texts(x)
        elif isinstance(v, list):
            for x in v:
                yield from texts(x)

    assert (find_bad_text(value) is not None) == any(bad_character(t) is not None for t in texts(value))


def test_raw_bytes_of_a_surrogate_are_refused_at_the_door(world):
    headers = world.auth(world.owner, **{"Content-Type": "application/json"})
    before = notification_count(world.app)
    answer = world.http.post("/tenants", content=b'{"code": "zz\xed\xa0\x80", "name": "x"}', headers=headers)
    assert answer.status_code == 422 and answer.json()["field"] == "code", answer.text
    assert notification_count(world.app) == before


def test_a_huge_number_in_a_rubric_file_is_a_located_refusal_not_a_500(world):
    answer = world.http.post("/rubrics/validate", content=('{"id": ' + "9" * 4301 + "}").encode(),
                             headers=world.auth(world.owner, **{"Content-Type": "application/json"}))
    assert answer.status_code == 422, answer.text
    assert "MAX_NUMBER_CHARACTERS" in answer.text


# -- a lost race is transient: its key is not kept -------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def racing(request, tmp_path, plugins):
    """Two ledgers on one store: the HTTP service and another process writing beside it."""
    from core.services import CivicLedger

    url = f"sqlite:///{tmp_path}/race.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    first, second = CivicLedger(url, plugins=plugins), CivicLedger(url, plugins=plugins)
    yield first, second
    first.close()
    second.close()


def test_a_write_that_loses_a_race_is_a_transient_409_and_its_key_runs_afresh(racing):
    from tests.helpers import sheet

    served, other = racing
    world = ApiWorld(served)
    campaign = world.setup()
    served.open_campaign(world.owner, campaign)
    cid = world.apply(campaign, "c1")
    served.review(world.district, cid, "approve", on="2020-03-11")
    served.candidacy(world.owner, cid)  # the service holds the candidacy in its cache
    real_save, raced = served.save, []

    def another_writer_gets_there_first(*aggregates, **kwargs):
        if not raced and str(aggregates[0].id) == cid:  # between the service's load and its write, once
            # another process: none of this request's context (its write fence) goes with it
            raced.append(contextvars.Context().run(
                other.submit_score_sheet, world.assessors[0], cid, "official", sheet(world.rubric, 90), on="2020-10-15"))
        return real_save(*aggregates, **kwargs)

    served.save = another_writer_gets_there_first
    headers = world.auth(world.assessors[1], **{"Idempotency-Key": "raced-1"})
    body = {"kind": "official", "scores": sheet(world.rubric, 85), "on": "2020-10-16"}
    before = notification_count(served)
    lost = world.http.post(f"/candidacies/{cid}/score-sheets", json=body, headers=headers)
    assert lost.status_code == 409, lost.text
    assert lost.json()["type"].endswith("/concurrent_change") and lost.headers["Retry-After"] == "1"
    assert "on the same stream at the same time" in lost.json()["detail"]
    assert notification_count(served) == before + 1  # the other writer's sheet, nothing of the loser's
    log, scope, rows = _claim_row(world, "raced-1", world.assessors[1])
    assert rows == []  # the key is not kept for an answer that says "try again"
    again = world.http.post(f"/candidacies/{cid}/score-sheets", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert sorted(served.candidacy(world.owner, cid).scores["official"]) == ["assessor-1", "assessor-2"]
    replayed = world.http.post(f"/candidacies/{cid}/score-sheets", json=body, headers=headers)
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"


def test_a_stale_if_match_is_not_transient_and_its_answer_is_kept(world):
    community = world.communities["c1"]
    version = world.app.community(world.district, community).version
    headers = world.auth(world.district, **{"Idempotency-Key": "stale-1", "If-Match": f'"{version + 5}"'})
    body = {"changes": {"population": 3100}, "reason": "人口普查"}
    stale = world.http.post(f"/communities/{community}/corrections", json=body, headers=headers)
    assert stale.status_code == 409 and stale.json()["type"].endswith("/version_conflict")
    assert "Retry-After" not in stale.headers
    again = world.http.post(f"/communities/{community}/corrections", json=body, headers=headers)
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    assert world.app.community(world.district, community).version == version

"""What-if replay: a campaign's recorded decisions recomputed from the same evidence under
another rubric version (``AuditQueries.whatif`` and ``civic audit whatif``). Every
scenario runs on each storage backend and must record nothing."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.actors import Actor, Role
from core.cli import app as cli
from core.errors import InvalidInput, NotFound
from core.rubric_files import read_rubric_file
from core.services import CivicLedger
from plugins.tianjin_meili import demo
from tests.helpers import TENANT, World, actor, notification_count, sheet

AUDITOR = Actor(id="auditor", role=Role.AUDITOR, organisation="审计", tenant="*")
PLUGIN_REF = "tianjin-meili@2017"
runner = CliRunner()


def meili_line_file(app: CivicLedger, tmp_path: Path, version: str, line: int) -> Path:
    """A rubric file: tianjin-meili@2017 with the 美丽社区 pass line (min_total) moved."""
    data = app.plugins.rubric("tianjin-meili", "2017").rubric.model_dump(mode="json")
    data["version"] = version
    data["derived_from"] = PLUGIN_REF
    meili = next(lv for lv in data["levels"] if lv["id"] == "meili")
    meili["rules"] = {**meili["rules"], "min_total": line}
    path = tmp_path / f"tianjin-meili-{version}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def import_file(app: CivicLedger, owner: Actor, path: Path) -> str:
    """Import a rubric file the way ``civic rubric import`` does; returns its id@version."""
    loaded = read_rubric_file(path)
    assert loaded.ok, [str(p) for p in loaded.problems]
    app.import_rubric(owner, loaded.rubric, loaded.derived_from, reason="市民政局调整美丽社区分数线")
    return loaded.rubric.ref


def with_line(app: CivicLedger, tmp_path: Path, owner: Actor, line: int) -> str:
    return import_file(app, owner, meili_line_file(app, tmp_path, f"2017-line{line}", line))


@pytest.fixture
def dongli(app) -> str:
    """The Tianjin demo campaign (decided, one decision later revoked)."""
    return demo.build(app)


def recorded_totals(app: CivicLedger, campaign_id: str) -> dict[str, tuple[str, Fraction, str, bool]]:
    """candidacy -> (level, exact official total, published total, named at the decision) as recorded."""
    rows = {}
    for cid in app.campaign(demo.DEMO.reader, campaign_id).candidacies:
        derivation = app.candidacy(demo.DEMO.reader, cid).decision["derivation"]
        total = derivation["outcome"]["total"]
        rows[cid] = (derivation["level"], Fraction(total["exact"]), total["published"], derivation["named"])
    return rows


# --------------------------------------------------------------------------------------
# the application layer, every backend
# --------------------------------------------------------------------------------------


def test_the_recorded_version_changes_nothing_and_nothing_is_recorded(app, dongli):
    before = notification_count(app)
    result = app.whatif(AUDITOR, dongli, PLUGIN_REF)
    assert notification_count(app) == before
    assert (result.recorded_rubric, result.rubric, result.provided_by) == (PLUGIN_REF, PLUGIN_REF, "plugin tianjin_meili")
    assert result.rubric_hash == result.recorded_hash
    assert len(result.decisions) == 15 and len(result.unchanged) == 15
    for row in result.decisions:
        assert (row.status, row.changed, row.whatif_named, row.differences) == ("unchanged", False, row.recorded_named, [])
        assert row.reasons[: len(row.recorded_reasons)] == row.recorded_reasons
        assert row.whatif_total == row.recorded_total
    assert result.notes == []


def test_a_raised_pass_line_unnames_exactly_the_totals_below_it(app, dongli, tmp_path):
    ref = with_line(app, tmp_path, demo.DEMO.reader, 85)
    recorded = recorded_totals(app, dongli)
    expected = {cid for cid, (level, total, _, named) in recorded.items() if level == "meili" and named and 80 <= total < 85}
    assert len(expected) == 3  # 安澜里 81, 兰亭 82, 德馨苑 84 (锦绣坊 84 was refused for an upheld objection)

    before = notification_count(app)
    result = app.whatif(AUDITOR, dongli, ref)
    assert notification_count(app) == before

    assert result.rubric == ref and result.provided_by == f"tenant {demo.TENANT}"
    assert {row.candidacy_id for row in result.changed} == expected
    assert len(result.unchanged) == 12 and result.unscorable == []
    for row in result.changed:
        assert (row.recorded_named, row.whatif_named, row.changed) == (True, False, True)
        total = recorded[row.candidacy_id][2]
        assert total == f"{recorded[row.candidacy_id][1]}.00"  # whole points, published to 2 places
        assert row.reasons == [f"综合得分 {total} 低于 85 分 (official total {total} is below 85)"]
        assert 'outcome.rules.min_total: "80" -> "85"' in row.differences
        assert "outcome.checks[min_total].passed: true -> false" in row.differences
        assert row.differences[0] == "named: true -> false"
    # unchanged decisions still show the moved line among their differing figures
    refused = next(r for r in result.decisions if r.community == "锦绣坊社区")
    assert (refused.status, refused.whatif_named) == ("unchanged", False)
    assert any("低于 85 分" in reason for reason in refused.reasons)


def test_a_lowered_pass_line_names_candidacies_the_recorded_line_kept_off_the_notice(app, dongli, tmp_path):
    ref = with_line(app, tmp_path, demo.DEMO.reader, 75)
    before = notification_count(app)
    result = app.whatif(AUDITOR, dongli, ref)
    assert notification_count(app) == before

    (flipped,) = result.changed
    assert (flipped.community, flipped.recorded_total, flipped.on_notice) == ("清溪苑社区", "77.00", False)
    assert (flipped.recorded_named, flipped.whatif_named) == (False, True)
    assert flipped.reasons == ["达到美丽社区标准 (meets every rule of meili)"]
    assert "preliminary.listed: false -> true" in flipped.differences
    assert 'preliminary.rules.min_total: "80" -> "75"' in flipped.differences
    assert "not on the recorded public notice list" in flipped.notes[0]
    still_off = next(r for r in result.decisions if r.community == "鸿运里社区")
    assert (still_off.status, still_off.whatif_named) == ("unchanged", False)
    assert still_off.reasons == [
        "综合得分 74.00 低于 75 分 (official total 74.00 is below 75)", "未列入公示名单 (not on the public notice list)"
    ]


def test_lowering_the_line_back_reverses_a_raised_campaign(app, tmp_path):
    """A campaign decided under a raised line (85) names again, under the plugin's 80,
    exactly the candidacies with totals in [80, 85)."""
    world = World(app)
    app.register_tenant(world.owner, TENANT, "天津市")
    raised = with_line(app, tmp_path, world.owner, 85)
    campaign = app.create_campaign(world.owner, "meili-85", "2020年美丽社区创建（85分线）", 2020, "tianjin-meili",
                                   raised.split("@")[1], on="2020-03-09")
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    rubric = app.rubric_of(app.campaign(world.owner, campaign))
    totals = {"c1": 92, "c2": 82, "c3": 84, "c4": 78}
    ids = {}
    for code, total in totals.items():
        community = app.register_community(world.district, code, f"社区{code}", "东丽区", "张贵庄街道",
                                           households=1000, population=2500, on="2020-03-01")
        ids[code] = app.apply(world.street_a, campaign, community, "meili", sheet(rubric, 88), on="2020-03-10")
        app.review(world.district, ids[code], "approve", on="2020-03-11")
        app.submit_score_sheet(world.assessors[0], ids[code], "official", sheet(rubric, total), on="2020-10-15")
        world.survey(ids[code])
    assert app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07", on="2020-11-01") == [ids["c1"]]
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    assert app.decide(world.owner, campaign, on="2020-11-20") == {ids["c1"]: True, ids["c2"]: False,
                                                                   ids["c3"]: False, ids["c4"]: False}

    before = notification_count(app)
    result = app.whatif(world.auditor, campaign, PLUGIN_REF)
    assert notification_count(app) == before
    assert result.recorded_rubric == raised
    assert {r.candidacy_id for r in result.changed} == {ids["c2"], ids["c3"]}
    assert all((r.recorded_named, r.whatif_named) == (False, True) for r in result.changed)
    below = next(r for r in result.decisions if r.candidacy_id == ids["c4"])
    assert below.reasons == [
        "综合得分 78.00 低于 80 分 (official total 78.00 is below 80)", "未列入公示名单 (not on the public notice list)"
    ]
    # and the same version again changes nothing
    assert app.whatif(world.auditor, campaign, raised).changed == []


def test_candidacies_the_other_version_cannot_score_are_reported_not_crashed_on(app, dongli, tmp_path):
    owner = demo.DEMO.reader
    data = app.plugins.rubric("tianjin-meili", "2017").rubric.model_dump(mode="json")
    data.update(version="2017-meili-only", derived_from=PLUGIN_REF)
    data["levels"] = [lv for lv in data["levels"] if lv["id"] == "meili"]
    path = tmp_path / "meili-only.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ref = import_file(app, owner, path)
    before = notification_count(app)
    result = app.whatif(AUDITOR, dongli, ref)
    premium = {r.candidacy_id for r in result.decisions if r.level == "jingpin"}
    assert len(premium) == 3 and {r.candidacy_id for r in result.unscorable} == premium
    for row in result.unscorable:
        assert (row.whatif_named, row.changed) == (None, False)
        assert "level 'jingpin' is not defined by tianjin-meili@2017-meili-only" in row.reasons[0]
    assert len(result.unchanged) == 12

    # a rubric of other items and levels: every decision is reported, none is scored
    other = app.whatif(AUDITOR, dongli, "brand-community@2019")
    assert len(other.unscorable) == 15 and other.changed == []
    assert any("not items of brand-community@2019" in reason for reason in other.unscorable[0].reasons)
    assert notification_count(app) == before


def test_an_unknown_or_foreign_version_is_invalid_input_naming_the_allowed_ones(app, dongli, tmp_path):
    with_line(app, tmp_path, demo.DEMO.reader, 85)
    beijing = actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", tenant="beijing")
    app.register_tenant(beijing, "beijing", "北京市")
    data = app.plugins.rubric("tianjin-meili", "2017").rubric.model_dump(mode="json")
    data.update(version="2017-beijing")
    path = tmp_path / "beijing.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    beijing_ref = import_file(app, beijing, path)
    for bad in ("tianjin-meili@1999", "tianjin-meili", "", beijing_ref, 2017):
        with pytest.raises(InvalidInput) as caught:
            app.whatif(AUDITOR, dongli, bad)
        err = caught.value
        assert (err.field, err.value) == ("rubric", bad)
        assert "tianjin-meili@2017, tianjin-meili@2017-line85" in err.allowed and beijing_ref not in err.allowed
        assert repr(bad) in str(err)


def test_another_tenant_cannot_see_the_campaign(app, dongli):
    beijing = actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", tenant="beijing")
    app.register_tenant(beijing, "beijing", "北京市")
    with pytest.raises(NotFound):
        app.whatif(beijing, dongli, PLUGIN_REF)
    with pytest.raises(NotFound):
        app.whatif(beijing, dongli, "no-such@1")  # the campaign is checked before the version
    # the tenant's own people may ask
    assert app.whatif(demo.DEMO.reader, dongli, PLUGIN_REF).changed == []


def test_an_undecided_campaign_has_nothing_to_recompute(app):
    world = World(app)
    campaign = world.setup()
    with pytest.raises(NotFound, match="decision of campaign"):
        app.whatif(AUDITOR, campaign, PLUGIN_REF)


def test_progress_is_reported_once_per_decision(app, dongli):
    calls = []
    app.whatif(AUDITOR, dongli, PLUGIN_REF, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(n, 15) for n in range(16)]


# --------------------------------------------------------------------------------------
# civic audit whatif
# --------------------------------------------------------------------------------------


def test_whatif_through_the_cli(tmp_path, plugins):
    env = {"CIVIC_DATABASE_URL": f"sqlite:///{tmp_path}/civic.sqlite3"}
    assert runner.invoke(cli, ["demo", "tianjin-dongli-2020"], env=env).exit_code == 0
    campaign_id = json.loads(runner.invoke(cli, ["campaigns", demo.TENANT, "--json"], env=env).stdout)[0]["id"]
    path = meili_line_file(CivicLedger("memory://", plugins=plugins), tmp_path, "2017-85", 85)
    imported = runner.invoke(cli, ["rubric", "import", str(path), "--tenant", demo.TENANT], env=env)
    assert imported.exit_code == 0, imported.output
    store = CivicLedger(env["CIVIC_DATABASE_URL"], plugins=plugins)
    try:
        before = notification_count(store)
    finally:
        store.close()

    args = ["audit", "whatif", "--campaign", campaign_id, "--rubric", "tianjin-meili@2017-85"]
    as_json = runner.invoke(cli, [*args, "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)  # the progress bar goes to stderr only
    assert data["rubric"] == "tianjin-meili@2017-85" and data["recorded_rubric"] == PLUGIN_REF
    changed = {d["community"] for d in data["decisions"] if d["changed"]}
    assert changed == {"安澜里社区", "德馨苑社区", "兰亭社区"}
    assert sum(not d["changed"] for d in data["decisions"]) == 12

    text = runner.invoke(cli, args, env=env)
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert "decisions that would change (3)" in out and "推演 what-if" in out
    assert "3 项改变 would change, 12 项不变 unchanged" in out and "nothing was recorded" in out
    assert 'outcome.rules.min_total: "80" -> "85"' in out and "低于 85 分" in out
    # the changed decisions come before the count of unchanged ones
    assert out.index("安澜里社区") < out.index("12 项不变")

    store = CivicLedger(env["CIVIC_DATABASE_URL"], plugins=plugins)
    try:
        assert notification_count(store) == before
    finally:
        store.close()

    unknown = runner.invoke(cli, ["audit", "whatif", "--campaign", campaign_id, "--rubric", "tianjin-meili@1999"], env=env)
    assert unknown.exit_code == 1
    flat = " ".join(unknown.output.split())
    assert "rubric: 'tianjin-meili@1999' is not allowed" in flat and "tianjin-meili@2017-85" in flat

    help_text = runner.invoke(cli, ["audit", "whatif", "--help"])
    assert help_text.exit_code == 0 and "RUBRIC@VERSION" in help_text.output and "Records nothing" in help_text.output


def test_the_docs_describe_every_field_of_the_result():
    from dataclasses import fields

    from core.services.audit import WhatIf, WhatIfDecision

    text = (Path(__file__).resolve().parents[1] / "docs" / "audit.md").read_text(encoding="utf-8")
    section = text.split("## What-if: the same evidence under another rubric version", 1)[1].split("\n## ", 1)[0]
    assert "civic audit whatif --campaign CAMPAIGN_ID --rubric RUBRIC@VERSION [--json]" in section
    for name in [f.name for f in fields(WhatIf)] + [f.name for f in fields(WhatIfDecision)]:
        assert f"`{name}`" in section or f"`{name}[]`" in section, name

"""Rubrics configured without code: rubric files, their import as tenant-only versions,
version listings and lineage, through the file reader, the application layer (every
backend) and the ``civic rubric`` command line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.actors import Role
from core.cli import app as cli
from core.errors import AlreadyExists, CivicError, InvalidInput, NotFound, PermissionDenied, RuleViolation
from core.rubric import Rubric
from core.rubric_files import read_rubric_file
from core.services import CivicLedger
from tests.helpers import TENANT, World, actor, notification_count, sheet

DOC = Path(__file__).resolve().parents[1] / "docs" / "rubric-files.md"
EXAMPLE = re.search(r"### Example.*?```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
runner = CliRunner()



def known(*extra: str) -> str:
    """The rubric versions every tenant sees (those of the installed plugins), as a
    not-found message lists them."""
    from core.plugins import PluginHost

    return ", ".join(sorted([p.rubric.ref for p in PluginHost.discover().rubrics()] + list(extra)))

def write(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first line containing ``fragment``."""
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def problems(tmp_path: Path, text: str, name: str = "rubric.yaml") -> list[str]:
    loaded = read_rubric_file(write(tmp_path, text, name))
    assert loaded.rubric is None and not loaded.ok
    return [str(p) for p in loaded.problems]


def tianjin_jingpin_file(app: CivicLedger, version: str = "2017-jingpin.1", min_total: int = 95) -> str:
    """A JSON rubric file derived from tianjin-meili@2017 whose jingpin level is the
    municipality's own (no longer provisional)."""
    data = app.plugins.rubric("tianjin-meili", "2017").rubric.model_dump(mode="json")
    data["version"] = version
    data["derived_from"] = "tianjin-meili@2017"
    jingpin = next(lv for lv in data["levels"] if lv["id"] == "jingpin")
    jingpin.update(label="精品美丽社区", provisional=False, note="", rules={"min_total": min_total, "requires_level": "meili"})
    return json.dumps(data, ensure_ascii=False, indent=2)


def load(tmp_path: Path, text: str, name: str = "rubric.yaml"):
    loaded = read_rubric_file(write(tmp_path, text, name))
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded


# --------------------------------------------------------------------------------------
# The file format
# --------------------------------------------------------------------------------------


def test_the_example_in_the_docs_is_a_valid_rubric(tmp_path):
    loaded = load(tmp_path, EXAMPLE)
    rubric = loaded.rubric
    assert (rubric.ref, len(rubric.categories), len(rubric.items()), str(rubric.max_total)) == ("xinqu-hexie@2021.1", 2, 4, "10.5")
    assert [lv.id for lv in rubric.levels] == ["hexie", "jingpin"] and rubric.is_provisional
    assert loaded.derived_from is None
    result = runner.invoke(cli, ["rubric", "validate", str(write(tmp_path, EXAMPLE))])
    assert result.exit_code == 0, result.output
    assert rubric.content_hash in result.output and "10.5" in result.output


def test_yaml_and_json_of_the_same_rubric_have_the_same_hash(tmp_path):
    yaml_rubric = load(tmp_path, EXAMPLE).rubric
    as_json = json.dumps(yaml_rubric.model_dump(mode="json"), ensure_ascii=False, indent=1)
    assert load(tmp_path, as_json, "rubric.json").rubric.content_hash == yaml_rubric.content_hash


def test_derived_from_is_read_beside_the_full_definition(tmp_path):
    loaded = load(tmp_path, 'derived_from: "xinqu-hexie@2020"\n' + EXAMPLE)
    assert loaded.derived_from == "xinqu-hexie@2020"
    assert "derived_from" not in loaded.rubric.canonical_json()


# Each case: (replace this, with this) in the example, then the line (found by a fragment
# of the changed file), field path and message parts the problem must carry.
MUTATIONS = {
    "not a multiple of step": (
        ("max_points: 2.5", "max_points: 2.3"), "max_points: 2.3", "categories[1].items[0].max_points",
        "2.3 is not a multiple of step 0.5 / 分值不是步长0.5的整数倍",
    ),
    "category sum": (
        ("max_points: 4.5", "max_points: 5"), "max_points: 5", "categories[1].max_points",
        "5 but its items add up to 4.5 / 类别分值5与其小项分值合计4.5不符",
    ),
    "duplicate item id": (
        ('id: "4"', 'id: "1"  # again'), "# again", "categories[1].items[1].id",
        "item id '1' is already used by categories[0].items[0] / 小项编号“1”重复",
    ),
    "duplicate level id": (
        ("- id: jingpin", "- id: hexie  # again"), "# again", "levels[1].id", "id 'hexie' is used twice in levels / 级别编号“hexie”重复",
    ),
    "duplicate veto id": (
        ("  - {id: V1, text: 发生重大安全责任事故}", "  - {id: V1, text: 甲}\n  - {id: V1, text: 乙}"), "text: 乙",
        "veto_items[1].id", "used twice in veto_items / 一票否决项编号“V1”重复",
    ),
    "unknown field": (
        ("    label: 和谐社区", "    label: 和谐社区\n    colour: red"), "colour", "levels[0].colour",
        "unknown field 'colour' / 不允许的字段",
    ),
    "number where text is needed": (
        ('version: "2021.1"', "version: 2021"), "version: 2021", "version",
        'write it in quotes: "2021" / 应为文本，请加引号写作 "2021"',
    ),
    "empty text": (
        ("text: 为老服务有台账", "text: ''"), "text: ''", "categories[1].items[1].text", "/ 不能为空",
    ),
    "bad id": (
        ("id: xinqu-hexie", "id: Xinqu Hexie"), "id: Xinqu", "id", "String should match pattern '^[a-z0-9][a-z0-9_.-]*$' / 格式不符",
    ),
    "points not above zero": (
        ("max_points: 2\n", "max_points: 0\n"), "max_points: 0", "categories[1].items[1].max_points", "应大于0",
    ),
    "points not a number": (
        ("max_points: 2\n", "max_points: two\n"), "max_points: two", "categories[1].items[1].max_points", "应为数字",
    ),
    "missing field": (
        ("title: 新区和谐社区创建评分标准（2021，示例）\n", ""), "id: xinqu-hexie", "title",
        "required field is missing / 缺少必填字段",
    ),
    "bad derived_from": (
        ("id: xinqu-hexie", "derived_from: tianjin-meili\nid: xinqu-hexie"), "derived_from", "derived_from",
        "'tianjin-meili' is not ID@VERSION / 应为“标准编号@版本”",
    ),
    "key given twice": (
        ("step: 0.5", "step: 0.5\nstep: 1"), "step: 1", "step", "given twice (first on line",
    ),
    "no items": (
        ("    items:\n      - {id: \"1\"", "    items: []\n    xitems:\n      - {id: \"1\""), "items: []", "categories[0].items",
        "at least 1 item after validation, not 0 / 条目数量不足",
    ),
    "a level's rules not an object": (
        ("rules: {min_total: 8, min_self_total: 8}", "rules: 8"), "rules: 8", "levels[0].rules", "应为映射",
    ),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_every_problem_names_the_file_line_and_field_in_english_and_chinese(tmp_path, case):
    (old, new), fragment, path, message = MUTATIONS[case]
    assert old in EXAMPLE
    text = EXAMPLE.replace(old, new, 1)
    found = problems(tmp_path, text)
    prefix = f"rubric.yaml: line {line_of(text, fragment)}: {path}: "
    matching = [p for p in found if p.startswith(prefix)]
    assert matching, f"no problem starts with {prefix!r}: {found}"
    assert any(message in p for p in matching), f"{message!r} not in {matching}"
    assert all(" / " in p for p in found)  # English / 中文


def test_all_problems_are_reported_at_once_in_line_order(tmp_path):
    text = (EXAMPLE.replace("max_points: 2.5", "max_points: 2.3").replace('version: "2021.1"', "version: 2021")
            .replace("    label: 和谐社区", "    label: 和谐社区\n    colour: red"))
    found = problems(tmp_path, text)
    assert len(found) == 4  # the step, the category sum, the unquoted version, the unknown field
    lines = [int(re.match(r"rubric.yaml: line (\d+): ", p).group(1)) for p in found]
    assert lines == sorted(lines)


def test_json_files_are_located_by_line_too(tmp_path):
    data = load(tmp_path, EXAMPLE).rubric.model_dump(mode="json")
    data["categories"][1]["items"][0]["max_points"] = 2.3
    text = json.dumps(data, ensure_ascii=False, indent=2)
    line = line_of(text, '"max_points": 2.3')
    found = problems(tmp_path, text, "rubric.json")
    assert f"rubric.json: line {line}: categories[1].items[0].max_points: 2.3 is not a multiple of step 0.5 / 分值不是步长0.5的整数倍" in found


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("rubric.yaml", "id: [a\n", "rubric.yaml: line 2: not valid YAML"),
        ("rubric.json", '{"id": "a",\n "version": }', "rubric.json: line 2: not valid JSON"),
        ("rubric.yaml", "# nothing\n", "rubric.yaml: the file is empty / 文件为空"),
        ("rubric.yaml", "- id: a\n", "rubric.yaml: line 1: the file must hold one mapping of fields, not list"),
        ("rubric.txt", "id: a\n", "rubric.txt: unknown file type; use one of .yaml, .yml, .json / 文件类型不支持"),
    ],
    ids=["yaml-syntax", "json-syntax", "empty", "not-a-mapping", "unknown-type"],
)
def test_unreadable_files_are_reported_with_where(tmp_path, name, text, expected):
    found = problems(tmp_path, text, name)
    assert any(p.startswith(expected) for p in found), found


def test_a_missing_file_is_reported(tmp_path):
    loaded = read_rubric_file(tmp_path / "nowhere.yaml")
    assert [str(p) for p in loaded.problems][0].startswith("nowhere.yaml: cannot read the file")


# --------------------------------------------------------------------------------------
# civic rubric validate
# --------------------------------------------------------------------------------------


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def flat(output: str) -> str:
    """The output with the console's line wrapping undone."""
    return " ".join(output.split())


def test_validate_prints_a_summary(tmp_path):
    path = write(tmp_path, 'derived_from: "xinqu-hexie@2020"\n' + EXAMPLE)
    result = invoke("rubric", "validate", str(path), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    rubric = read_rubric_file(path).rubric
    assert summary["hash"] == rubric.content_hash
    assert {k: summary[k] for k in ("id", "version", "categories", "items", "points", "veto_items", "provisional", "derived_from")} == {
        "id": "xinqu-hexie", "version": "2021.1", "categories": 2, "items": 4, "points": 10.5, "veto_items": 1,
        "provisional": True, "derived_from": "xinqu-hexie@2020",
    }
    assert summary["levels"] == [
        {"id": "hexie", "label": "和谐社区", "provisional": False},
        {"id": "jingpin", "label": "精品和谐社区（暂行）", "provisional": True},
    ]
    text = invoke("rubric", "validate", str(path)).output
    assert "xinqu-hexie@2021.1" in text and "小项 items: 4" in text and "暂行 provisional" in text


def test_validate_lists_every_problem_and_exits_1(tmp_path):
    text = EXAMPLE.replace("max_points: 2.5", "max_points: 2.3").replace('version: "2021.1"', "version: 2021")
    result = invoke("rubric", "validate", str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert f"rubric.yaml: line {line_of(text, 'max_points: 2.3')}: categories[1].items[0].max_points: 2.3 is not a multiple" in result.output
    assert "rubric.yaml: line 3: version: 2021" in result.output
    assert "3 problem(s)" in result.output


@pytest.mark.parametrize(
    "old, new, fragment, expected",
    [
        ("style: threshold", "style: lottery", "style:", "style: decision style 'lottery' is not provided by any installed plugin"),
        ("aggregation: mean", "aggregation: trimmed", "aggregation:", "aggregation: aggregation 'trimmed' is not provided"),
        ("min_total: 10,", "min_total: 11,", "min_total: 11", "levels[1].rules: decision style 'threshold' rejects the rules: "
                                                           "level 'jingpin': min_total 11 exceeds the rubric's 10.5 points"),
        ("rules: {min_total: 8, min_self_total: 8}", "rules: {min_self_total: 8}", "rules: {min_self", "levels[0].rules: "),
    ],
    ids=["style", "aggregation", "rules-rejected", "rule-missing"],
)
def test_validate_checks_the_installed_styles_and_aggregations(tmp_path, old, new, fragment, expected):
    text = EXAMPLE.replace(old, new)
    result = invoke("rubric", "validate", str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert f"rubric.yaml: line {line_of(text, fragment)}: {expected}" in result.output, result.output


# --------------------------------------------------------------------------------------
# The application layer, on every backend
# --------------------------------------------------------------------------------------


def rejected(app, error: type[CivicError], call) -> CivicError:
    before = notification_count(app)
    with pytest.raises(CivicError) as info:
        call()
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}: {info.value}"
    assert notification_count(app) == before
    return info.value


@pytest.fixture
def world(app) -> World:
    world = World(app)
    world.setup()
    return world


def other_tenant(app) -> Any:
    owner = actor(Role.CITY_OWNER, "bj-owner", "北京市民政局", tenant="beijing")
    app.register_tenant(owner, "beijing", "北京市")
    return owner


def example(tmp_path, version: str = "2021.1", derived_from: str | None = None):
    text = EXAMPLE.replace('version: "2021.1"', f'version: "{version}"')
    if derived_from:
        text = f'derived_from: "{derived_from}"\n{text}'
    return load(tmp_path, text, f"hexie-{version}.yaml")


def test_an_imported_rubric_is_a_tenant_version_campaigns_pin(world, tmp_path):
    app = world.app
    loaded = example(tmp_path)
    content_hash = app.import_rubric(world.owner, loaded.rubric, reason="区民政局发布")
    assert content_hash == loaded.rubric.content_hash
    assert app.tenant(world.owner, TENANT).rubrics["xinqu-hexie@2021.1"] == content_hash
    assert app.rubric_by_hash(content_hash).canonical_json() == loaded.rubric.canonical_json()
    campaign = app.create_campaign(world.owner, "hexie-2021", "2021年和谐社区创建", 2021, "xinqu-hexie", "2021.1", on="2021-03-01")
    assert app.campaign(world.owner, campaign).rubric == {"id": "xinqu-hexie", "version": "2021.1", "hash": content_hash}
    history = [e for e in app.history(world.owner, str(app.tenant(world.owner, TENANT).id)) if e["event"] == "Tenant.RubricConfigured"]
    assert history[-1]["reason"] == "区民政局发布" and history[-1]["actor"]["id"] == "owner"


def test_reimport_with_a_new_version_adds_one_and_campaigns_keep_theirs(world, tmp_path):
    app = world.app
    first = app.import_rubric(world.owner, example(tmp_path, "2021.1").rubric, reason="初版")
    pinned = app.create_campaign(world.owner, "hexie-2021", "2021", 2021, "xinqu-hexie", on="2021-03-01")
    revised = example(tmp_path, "2022.1", "xinqu-hexie@2021.1")
    second = app.import_rubric(world.owner, revised.rubric, revised.derived_from, reason="修订")
    assert first != second
    assert app.campaign(world.owner, pinned).rubric["hash"] == first  # unchanged by the new version
    assert app.rubric_of(app.campaign(world.owner, pinned)).version == "2021.1"
    latest = app.create_campaign(world.owner, "hexie-2022", "2022", 2022, "xinqu-hexie", on="2021-03-01")
    assert app.campaign(world.owner, latest).rubric["hash"] == second  # no plugin has the id: the tenant's highest
    assert app.rubric_by_hash(first).version == "2021.1"  # older versions stay readable
    rows = app.rubric_versions(world.owner, "xinqu-hexie")
    assert [(r["ref"], r["hash"], r["provided_by"], r["derived_from"]) for r in rows] == [
        ("xinqu-hexie@2021.1", first, "tenant tianjin", []),
        ("xinqu-hexie@2022.1", second, "tenant tianjin", ["xinqu-hexie@2021.1"]),
    ]
    assert rows[1]["reason"] == "修订" and rows[1]["recorded_by"]["id"] == "owner" and rows[1]["provisional"] is True


def test_an_existing_version_is_refused(world, tmp_path):
    app = world.app
    app.import_rubric(world.owner, example(tmp_path).rubric, reason="初版")
    again = example(tmp_path)
    err = rejected(app, AlreadyExists, lambda: app.import_rubric(world.owner, again.rubric, reason="再次"))
    assert "rubric xinqu-hexie@2021.1 already exists for tenant tianjin; choose a new version" in str(err)
    plugin_copy = world.rubric.model_copy(update={"title": "改"})
    err = rejected(app, AlreadyExists, lambda: app.import_rubric(world.owner, plugin_copy, reason="覆盖"))
    assert "rubric tianjin-meili@2017 already exists (plugin tianjin_meili)" in str(err)


def test_import_is_refused_when_it_does_not_fit(world, tmp_path):
    app = world.app
    rubric = example(tmp_path).rubric
    rejected(app, PermissionDenied, lambda: app.import_rubric(world.district, rubric, reason="区里"))
    rejected(app, PermissionDenied, lambda: app.import_rubric(world.auditor, rubric, reason="审计"))
    err = rejected(app, NotFound, lambda: app.import_rubric(world.owner, rubric, "xinqu-hexie@2019", reason="x"))
    assert f"rubric xinqu-hexie@2019 not found; known: {known()}" in str(err)
    rejected(app, NotFound, lambda: app.import_rubric(actor(Role.CITY_OWNER, "x", "x", tenant="nowhere"), rubric, reason="x"))
    unusable = Rubric.model_validate({**rubric.model_dump(), "style": "lottery"})
    err = rejected(app, RuleViolation, lambda: app.import_rubric(world.owner, unusable, reason="x"))
    assert "imported rubric xinqu-hexie@2021.1: decision style 'lottery' is not provided" in str(err)
    rejected(app, InvalidInput, lambda: app.import_rubric(world.owner, rubric, reason=" "))
    rejected(app, InvalidInput, lambda: app.import_rubric(world.owner, rubric.model_dump(), reason="x"))


def test_an_imported_version_is_invisible_to_other_tenants(world, tmp_path):
    app = world.app
    content_hash = app.import_rubric(world.owner, example(tmp_path).rubric, reason="天津")
    beijing = other_tenant(app)
    err = rejected(app, NotFound, lambda: app.resolve_rubric(beijing, "xinqu-hexie", "2021.1"))
    assert str(err) == f"rubric xinqu-hexie@2021.1 not found; known: {known()}"
    rejected(app, NotFound, lambda: app.create_campaign(beijing, "h", "h", 2021, "xinqu-hexie", "2021.1"))
    rejected(app, NotFound, lambda: app.rubric_versions(beijing, "xinqu-hexie"))
    rejected(app, NotFound, lambda: app.rubric_lineage(beijing, content_hash))
    assert [r["ref"] for r in app.rubric_versions(beijing, "tianjin-meili")] == ["tianjin-meili@2017"]
    # Beijing may import its own version under the same id@version: the tenants' versions never meet
    own = app.import_rubric(beijing, example(tmp_path).rubric.model_copy(update={"title": "北京和谐社区"}), reason="北京")
    assert app.resolve_rubric(beijing, "xinqu-hexie", "2021.1")[0].content_hash == own != content_hash
    assert app.resolve_rubric(world.owner, "xinqu-hexie", "2021.1")[0].content_hash == content_hash


def test_lineage_follows_derived_from_to_the_plugin_version(world, tmp_path):
    app = world.app
    jingpin = load(tmp_path, tianjin_jingpin_file(app), "jingpin.json")
    first = app.import_rubric(world.owner, jingpin.rubric, jingpin.derived_from, reason="精品标准")
    configured = app.configure_rubric(world.owner, "tianjin-meili@2017-jingpin.1", "2017-jingpin.2",
                                      {"veto_items": [{"id": "V1", "text": "发生重大刑事案件"}]}, "增加一票否决")
    plugin_hash = world.rubric.content_hash
    assert [(s["ref"], s["hash"], s["provided_by"]) for s in app.rubric_lineage(world.owner, configured)] == [
        ("tianjin-meili@2017-jingpin.2", configured, "tenant tianjin"),
        ("tianjin-meili@2017-jingpin.1", first, "tenant tianjin"),
        ("tianjin-meili@2017", plugin_hash, "plugin tianjin_meili"),
    ]
    rows = {r["ref"]: r for r in app.rubric_versions(world.owner, "tianjin-meili")}
    assert list(rows) == ["tianjin-meili@2017", "tianjin-meili@2017-jingpin.1", "tianjin-meili@2017-jingpin.2"]
    assert rows["tianjin-meili@2017-jingpin.2"]["derived_from"] == ["tianjin-meili@2017-jingpin.1", "tianjin-meili@2017"]
    assert rows["tianjin-meili@2017"]["provided_by"] == "plugin tianjin_meili" and rows["tianjin-meili@2017"]["provisional"]
    assert not rows["tianjin-meili@2017-jingpin.1"]["provisional"]
    rejected(app, NotFound, lambda: app.rubric_lineage(world.owner, "sha256:" + "0" * 64))


@pytest.mark.parametrize("imported", [False, True], ids=["provisional", "imported"])
def test_an_imported_jingpin_standard_drives_the_tenants_campaign_and_no_other(world, tmp_path, imported):
    """Tianjin's provisional 精品 level replaced by a file: 92 points pass the provisional
    standard (90) but not the imported one (95)."""
    app = world.app
    version = None
    if imported:
        loaded = load(tmp_path, tianjin_jingpin_file(app), "jingpin.json")
        app.import_rubric(world.owner, loaded.rubric, loaded.derived_from, reason="市民政局发布精品标准")
        version = "2017-jingpin.1"
        beijing = other_tenant(app)
        err = rejected(app, NotFound, lambda: app.create_campaign(beijing, "jp", "精品", 2020, "tianjin-meili", version))
        assert str(err).endswith(f"not found; known: {known()}")
    campaign = app.create_campaign(world.owner, "jingpin-2020", "2020年精品美丽社区创建", 2020, "tianjin-meili", version,
                                   on="2020-03-09")
    pinned = app.rubric_of(app.campaign(world.owner, campaign))
    assert pinned.level("jingpin").provisional is not imported
    app.open_campaign(world.owner, campaign, on="2020-03-09")
    basic = world.apply(campaign, "c1", "meili", 92)
    premium = world.apply(campaign, "c1", "jingpin", 92)
    for cid in (basic, premium):
        app.review(world.district, cid, "approve", on="2020-03-11")
        app.submit_score_sheet(world.assessors[0], cid, "official", sheet(pinned, 92), on="2020-10-15")
        world.survey(cid, satisfied=190, basic=5, dissatisfied=5)
    listed = app.open_public_notice(world.owner, campaign, "2020-11-01", "2020-11-07")
    assert listed == ([basic] if imported else [basic, premium])
    app.close_public_notice(world.owner, campaign, on="2020-11-08")
    assert app.decide(world.owner, campaign, on="2020-11-20") == {basic: True, premium: not imported}
    # the plugin's version is untouched and still what a campaign without a version pins
    other = app.create_campaign(world.owner, "meili-2021", "2021", 2021, "tianjin-meili", on="2020-03-09")
    assert app.campaign(world.owner, other).rubric["hash"] == world.rubric.content_hash


# --------------------------------------------------------------------------------------
# civic rubric import / versions
# --------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, plugins):
    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    app.register_tenant(actor(Role.CITY_OWNER, "owner", "天津市民政局"), TENANT, "天津市")
    app.register_tenant(actor(Role.CITY_OWNER, "bj", "北京市民政局", tenant="beijing"), "beijing", "北京市")
    app.close()
    return {"CIVIC_DATABASE_URL": url}


def test_import_and_versions_through_the_cli(tmp_path, cli_env, plugins):
    jingpin = write(tmp_path, tianjin_jingpin_file(CivicLedger("memory://", plugins=plugins)), "jingpin.json")
    result = invoke("rubric", "import", str(jingpin), "--tenant", TENANT, "--as", "zhang", env=cli_env)
    assert result.exit_code == 0, result.output
    content_hash = read_rubric_file(jingpin).rubric.content_hash
    assert "tianjin-meili@2017-jingpin.1" in result.output and content_hash in result.output

    again = invoke("rubric", "import", str(jingpin), "--tenant", TENANT, env=cli_env)
    assert again.exit_code == 1 and "already exists for tenant tianjin; choose a new version" in flat(again.output)

    data = json.loads(invoke("rubric", "versions", "tianjin-meili", "--tenant", TENANT, "--json", env=cli_env).output)
    assert [(r["ref"], r["provided_by"], r["derived_from"]) for r in data] == [
        ("tianjin-meili@2017", "plugin tianjin_meili", []),
        ("tianjin-meili@2017-jingpin.1", "tenant tianjin", ["tianjin-meili@2017"]),
    ]
    assert data[1]["hash"] == content_hash and data[1]["recorded_by"]["id"] == "zhang"
    assert "imported from rubric file jingpin.json" in data[1]["reason"]

    text = invoke("rubric", "versions", "tianjin-meili", "--tenant", TENANT, env=cli_env).output
    assert content_hash in text and "derived from: tianjin-meili@2017" in text and "tenant tianjin" in text

    beijing = json.loads(invoke("rubric", "versions", "tianjin-meili", "--tenant", "beijing", "--json", env=cli_env).output)
    assert [r["ref"] for r in beijing] == ["tianjin-meili@2017"]


def test_cli_import_refuses_bad_files_and_unknown_tenants(tmp_path, cli_env):
    bad = write(tmp_path, EXAMPLE.replace("max_points: 2.5", "max_points: 2.3"))
    result = invoke("rubric", "import", str(bad), "--tenant", TENANT, env=cli_env)
    assert result.exit_code == 1 and "is not a multiple of step 0.5" in result.output
    good = write(tmp_path, EXAMPLE, "good.yaml")
    result = invoke("rubric", "import", str(good), "--tenant", "nowhere", env=cli_env)
    assert result.exit_code == 1 and "tenant 'nowhere' not found" in flat(result.output)
    result = invoke("rubric", "import", str(good), "--tenant", TENANT, "--reason", "区民政局发布", env=cli_env)
    assert result.exit_code == 0, result.output
    unknown = invoke("rubric", "versions", "no-such", "--tenant", TENANT, env=cli_env)
    assert unknown.exit_code == 1 and f"rubric no-such not found; known: {known('xinqu-hexie@2021.1')}" in flat(unknown.output)


@pytest.mark.parametrize("command", [["validate"], ["import"], ["versions"]])
def test_rubric_file_commands_have_help(command):
    result = invoke("rubric", *command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output

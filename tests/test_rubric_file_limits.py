"""What a rubric file may hold before any of its values is built: no YAML anchors or
aliases, at most MAX_FILE_BYTES bytes of UTF-8, MAX_DEPTH levels of nesting and MAX_NODES
values, and only text the platform stores. Through the reader, ``civic rubric validate`` /
``import`` and ``POST /rubrics/validate`` / ``POST /tenants/{tenant}/rubrics`` (every role),
each refusal is located, in English and Chinese, answered fast and records nothing."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import rubric_files
from core.actors import Actor, Role
from core.cli import app as cli
from core.rubric_files import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, read_rubric_file
from core.services import CivicLedger
from tests.api_support import ApiWorld
from tests.helpers import TENANT, actor, notification_count

DOC = Path(__file__).resolve().parents[1] / "docs" / "rubric-files.md"
EXAMPLE = re.search(r"### Example.*?```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
PROBLEM = "application/problem+json"
runner = CliRunner()


def alias_bomb(levels: int = 6, fan: int = 10) -> str:
    """A few hundred bytes of YAML whose aliases expand to ``fan ** levels`` leaves (10^6)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * fan)}]"]
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * fan)}]")
    return "id: bomb\n" + "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str | bytes, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


def refused(tmp_path: Path, text: str | bytes, name: str = "rubric.yaml") -> list[str]:
    """The problems of the file (it must have some, and no rubric), each ``file: line: …``
    with an English and a Chinese part."""
    loaded = read_rubric_file(write(tmp_path, text, name))
    assert loaded.rubric is None and loaded.problems
    found = [str(p) for p in loaded.problems]
    assert all(" / " in p for p in found), found
    for p in found:
        p.encode("utf-8")  # printable: refused characters are shown escaped
    return found


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def test_the_limits_are_the_documented_ones():
    assert (MAX_FILE_BYTES, MAX_DEPTH, MAX_NODES) == (256 * 1024, 32, 10_000)
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Limits 限制"):]
    for value in ("256 KiB", "262144", "32", "10000", "MAX_FILE_BYTES", "MAX_DEPTH", "MAX_NODES", "CIVIC_MAX_RUBRIC_BYTES"):
        assert value in section, value


# --------------------------------------------------------------------------------------
# Anchors and aliases
# --------------------------------------------------------------------------------------


def test_the_alias_bomb_is_refused_at_its_first_anchor_fast_and_small(tmp_path):
    bomb = alias_bomb()
    assert len(bomb.encode()) < 400
    tracemalloc.start()
    started = time.perf_counter()
    found = refused(tmp_path, bomb)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 5_000_000, (elapsed, peak)
    assert found == [
        "rubric.yaml: line 2: l0: anchor &l0 (column 5): YAML anchors (&) and aliases (*) are not allowed in a rubric "
        "file; allowed: every value written out in full / 锚点 &l0（第5列）：评分标准文件不允许使用YAML锚点（&）和别名（*），请完整写出每个值"
    ]


@pytest.mark.parametrize(
    "text, fragment, expected",
    [
        (EXAMPLE.replace("step: 0.5", "step: &half 0.5"), "&half", "step: anchor &half (column 7)"),
        (EXAMPLE.replace("aggregation: mean", "aggregation: *mean"), "*mean", "aggregation: alias *mean (column 14)"),
        (EXAMPLE.replace("rules:\n  require_survey: true", "rules:\n  <<: *base"), "<<: *base", "rules.<<: alias *base"),
        (EXAMPLE.replace("    rules: {min_total: 8", "    rules: &r {min_total: 8"), "&r", "levels[0].rules: anchor &r"),
    ],
    ids=["anchor-on-a-scalar", "alias-undefined", "merge-key", "anchor-on-a-mapping"],
)
def test_any_anchor_or_alias_is_refused_where_it_is(tmp_path, text, fragment, expected):
    found = refused(tmp_path, text)
    assert len(found) == 1 and found[0].startswith(f"rubric.yaml: line {line_of(text, fragment)}: {expected}"), found
    assert "锚点" in found[0] or "别名" in found[0]


def test_anchor_and_alias_characters_in_quoted_text_are_just_text(tmp_path):
    text = EXAMPLE.replace("text: 为老服务有台账", "text: '为老服务 &台账 *记录'")
    assert read_rubric_file(write(tmp_path, text)).ok
    as_json = json.dumps({"id": "x", "title": "&a *b"}, ensure_ascii=False)
    assert not any("anchor" in p or "alias" in p for p in refused(tmp_path, as_json, "rubric.json"))


def test_the_command_line_refuses_the_alias_bomb_with_its_normal_error_exit(tmp_path, plugins):
    path = write(tmp_path, alias_bomb(), "bomb.yaml")
    started = time.perf_counter()
    result = invoke("rubric", "validate", str(path))
    assert time.perf_counter() - started < 2
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "bomb.yaml: line 2: l0: anchor &l0" in " ".join(result.output.split())

    url = f"sqlite:///{tmp_path}/civic.sqlite3"
    app = CivicLedger(url, plugins=plugins)
    app.register_tenant(actor(Role.CITY_OWNER, "owner", "天津市民政局"), TENANT, "天津市")
    before = notification_count(app)
    app.close()
    result = invoke("rubric", "import", str(path), "--tenant", TENANT, env={"CIVIC_DATABASE_URL": url})
    assert result.exit_code == 1 and "anchor &l0" in result.output
    app = CivicLedger(url, plugins=plugins)
    assert notification_count(app) == before
    app.close()


# --------------------------------------------------------------------------------------
# Size, depth and count
# --------------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_without_being_read_whole(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:
        out.write(b"# " + b"x" * (MAX_FILE_BYTES - 3) + b"\n")  # exactly MAX_FILE_BYTES
        out.write(b"y" * 10 * MAX_FILE_BYTES)
    started = time.perf_counter()
    found = refused(tmp_path, path.read_bytes(), "huge.yaml")
    assert time.perf_counter() - started < 1
    assert found == [f"huge.yaml: the file is larger than {MAX_FILE_BYTES} bytes; allowed: a rubric file of at most "
                     f"{MAX_FILE_BYTES} bytes (MAX_FILE_BYTES) / 文件超过{MAX_FILE_BYTES}字节；评分标准文件最多{MAX_FILE_BYTES}字节"]


def test_a_file_of_exactly_the_size_limit_is_read(tmp_path, monkeypatch):
    data = EXAMPLE.encode("utf-8")
    monkeypatch.setattr(rubric_files, "MAX_FILE_BYTES", len(data))
    assert read_rubric_file(write(tmp_path, data)).ok
    found = refused(tmp_path, data + b"\n")
    assert found[0].startswith(f"rubric.yaml: the file is larger than {len(data)} bytes")


def nested(levels: int, kind: str) -> str:
    """A file whose ``deep`` field nests ``levels`` lists (the file's own mapping is one more)."""
    if kind == "json":
        return '{"id": "x",\n "deep": ' + "[" * levels + "]" * levels + "}"
    if kind == "flow":
        return "id: x\ndeep: " + "[" * levels + "]" * levels + "\n"
    return "id: x\ndeep:\n" + "".join("  " * n + "-\n" for n in range(levels - 1)) + "  " * (levels - 1) + "- 1\n"


@pytest.mark.parametrize("kind", ["json", "flow", "block"])
def test_nesting_deeper_than_the_limit_is_refused_where_it_passes_it(tmp_path, kind):
    name = "rubric.json" if kind == "json" else "rubric.yaml"
    found = refused(tmp_path, nested(MAX_DEPTH, kind), name)  # the top mapping and MAX_DEPTH lists
    assert len(found) == 1 and f"nested more than {MAX_DEPTH} levels deep" in found[0]
    line = 2 + MAX_DEPTH if kind == "block" else 2  # where the list one level too deep starts
    assert f"{name}: line {line}: deep" in found[0] and f"嵌套超过{MAX_DEPTH}层" in found[0] and "(MAX_DEPTH)" in found[0]
    within = refused(tmp_path, nested(MAX_DEPTH - 1, kind), name)
    assert not any("nested" in p for p in within), within  # only the rubric's own problems


def test_deep_nesting_is_refused_fast(tmp_path):
    started = time.perf_counter()
    assert "nested more than" in refused(tmp_path, "id: x\ndeep: " + "[" * 200_000 + "\n")[0]
    assert "nested more than" in refused(tmp_path, '{"deep": ' + "[" * 200_000, "rubric.json")[0]
    assert time.perf_counter() - started < 1


def test_more_values_than_the_limit_are_refused_at_the_first_one_too_many(tmp_path):
    values = ", ".join(["1"] * MAX_NODES)  # with the mapping, its key and the list: MAX_NODES + 3
    text = '{"notes":\n [' + values + "]}"
    started = time.perf_counter()
    found = refused(tmp_path, text, "rubric.json")
    assert time.perf_counter() - started < 1
    assert len(found) == 1 and found[0].startswith(f"rubric.json: line 2: notes[{MAX_NODES - 3}]: more than {MAX_NODES} values")
    assert f"值超过{MAX_NODES}个" in found[0] and "(MAX_NODES)" in found[0]


@pytest.mark.parametrize("name", ["rubric.yaml", "rubric.json"])
def test_the_value_count_counts_keys_lists_and_mappings(tmp_path, monkeypatch, name):
    data = read_rubric_file(write(tmp_path, EXAMPLE)).rubric.model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, indent=1)

    def count(value) -> int:
        if isinstance(value, dict):
            return 1 + sum(1 + count(v) for v in value.values())
        if isinstance(value, list):
            return 1 + sum(count(v) for v in value)
        return 1

    monkeypatch.setattr(rubric_files, "MAX_NODES", count(data))
    assert read_rubric_file(write(tmp_path, text, name)).ok
    monkeypatch.setattr(rubric_files, "MAX_NODES", count(data) - 1)
    assert f"more than {count(data) - 1} values" in refused(tmp_path, text, name)[0]


def test_the_largest_real_rubric_is_far_within_the_limits(tmp_path, plugins):
    data = plugins.rubric("tianjin-meili", "2017").rubric.model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, indent=2)
    assert len(text.encode()) < MAX_FILE_BYTES / 10
    assert read_rubric_file(write(tmp_path, text, "tianjin.json")).ok


# --------------------------------------------------------------------------------------
# The text rule, and UTF-8
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, fragment, expected",
    [
        ("rubric.yaml", EXAMPLE.replace("title: 新区和谐社区创建评分标准（2021，示例）", 'title: "新区\\0标准"'), "title:",
         "title: text '新区\\u0000标准' (column 8): U+0000 at character 3 is not allowed"),
        ("rubric.yaml", EXAMPLE.replace("text: 为老服务有台账", 'text: "为老\\ud800服务"'), "为老",
         "categories[1].items[1].text: text '为老\\ud800服务' (column 15): U+D800 at character 3 is not allowed"),
        ("rubric.yaml", EXAMPLE.replace("label: 和谐社区\n", 'label: "和谐\\x07社区"\n'), "和谐\\x07",
         "levels[0].label: text '和谐\\u0007社区'"),
        ("rubric.yaml", EXAMPLE.replace("style: threshold", '"sty\\x1ble": threshold'), "sty\\x1b",
         "sty\\u001ble: text 'sty\\u001ble' (column 1)"),
        ("rubric.json", '{"id": "x",\n "title": "a\\u0000b"}', "title", "title: text 'a\\u0000b' (column 11): U+0000 at character 2"),
        ("rubric.json", '{"id": "x",\n "title": "a\\udfffb"}', "title", "title: text 'a\\udfffb'"),
        ("rubric.json", '{"id": "x",\n "title": "a\\ufffeb"}', "title", "title: text 'a\\ufffeb'"),
        ("rubric.json", '{"id": "x",\n "t\\u0000": 1}', "t\\u0000", "t\\u0000: text 't\\u0000'"),
    ],
    ids=["nul-escape", "lone-surrogate-escape", "control-escape", "control-in-a-key", "json-nul", "json-surrogate",
         "json-nonchar", "json-key"],
)
def test_refused_characters_written_as_escapes_are_located_by_field(tmp_path, name, text, fragment, expected):
    found = refused(tmp_path, text, name)
    assert len(found) == 1 and found[0].startswith(f"{name}: line {line_of(text, fragment)}: {expected}"), found
    assert "孤立代理项" in found[0] and "lone surrogates" in found[0]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"id: x\ntitle: a\x00b\n", "rubric.yaml: line 2: character U+0000 at column 9 is not allowed"),
        (b"id: x\n# note \x01\n", "rubric.yaml: line 2: character U+0001 at column 8 is not allowed"),
        ("id: x\ntitle: a\ufdd0b\n".encode(), "rubric.yaml: line 2: character U+FDD0 at column 9 is not allowed"),
        ("id: x\ntitle: a\x85b\n".encode(), "rubric.yaml: line 2: character U+0085 at column 9 is not allowed"),
    ],
    ids=["nul", "control-in-a-comment", "noncharacter", "c1-control"],
)
def test_refused_characters_in_the_file_itself_are_located_by_line_and_column(tmp_path, raw, expected):
    found = refused(tmp_path, raw)
    assert found[0].startswith(expected) and "/ 第" in found[0], found


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"id: x\ntitle: \xed\xa0\x80\n", "rubric.yaml: line 2: not valid UTF-8: byte 0xed at column 8"),  # an encoded lone surrogate
        (b"id: x\n\ntitle: \xff\xfe\n", "rubric.yaml: line 3: not valid UTF-8: byte 0xff at column 8"),
        (b"id: x\ntitle: \xe4\xb8", "rubric.yaml: line 2: not valid UTF-8: byte 0xe4 at column 8"),
    ],
    ids=["encoded-surrogate", "bad-start-byte", "truncated"],
)
def test_a_file_that_is_not_utf8_is_a_located_error(tmp_path, raw, expected):
    found = refused(tmp_path, raw)
    assert len(found) == 1 and found[0].startswith(expected) and "不是有效的UTF-8文本" in found[0], found


def test_the_command_line_reports_refused_text_without_a_traceback(tmp_path):
    for raw in (b"id: x\ntitle: \"\\ud800\"\n", b"id: x\ntitle: a\x00\n", b"id: \xed\xa0\x80\n"):
        result = invoke("rubric", "validate", str(write(tmp_path, raw)))
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "rubric.yaml: line" in result.output and "1 problem(s)" in result.output


# --------------------------------------------------------------------------------------
# Over HTTP: every role may validate, so every role meets the limits
# --------------------------------------------------------------------------------------


@pytest.fixture
def world(app) -> ApiWorld:
    world = ApiWorld(app)
    world.setup()
    return world


def people() -> list[Actor]:
    """Someone of every role in the tenant (a street officer of a registered street, a
    community of a registered community)."""
    organisation = {Role.STREET_OFFICER: "张贵庄街道", Role.COMMUNITY: "詹滨里社区"}
    return [actor(role, f"limit-{role.value}", organisation.get(role, "某机构")) for role in Role]


def answered_422(world: ApiWorld, path: str, headers: dict[str, str], content: bytes) -> dict:
    before = notification_count(world.app)
    started = time.perf_counter()
    answer = world.http.post(path, headers=headers, content=content)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert elapsed < 2, elapsed
    assert notification_count(world.app) == before
    return answer.json()


def test_every_role_gets_422_for_the_alias_bomb_fast(world):
    for person in people():
        headers = {**world.auth(person), "Content-Type": "application/yaml"}
        body = answered_422(world, "/rubrics/validate", headers, alias_bomb().encode())
        (problem,) = body["problems"]
        assert (problem["line"], problem["field"]) == (2, "l0"), (person.role, problem)
        assert "anchor &l0" in problem["message"] and "锚点" in problem["message_zh"]
        assert body["field"] == "l0" and "1 problem(s)" in body["detail"]


def test_importing_the_alias_bomb_records_nothing(world):
    headers = {**world.auth(world.owner), "Content-Type": "application/yaml"}
    body = answered_422(world, f"/tenants/{TENANT}/rubrics?filename=bomb.yaml", headers, alias_bomb().encode())
    assert body["problems"][0]["file"] == "bomb.yaml" and "anchor" in body["problems"][0]["message"]


@pytest.mark.parametrize(
    "content, content_type, expected",
    [
        (nested(MAX_DEPTH, "flow").encode(), "application/yaml", "nested more than 32 levels deep"),
        (nested(MAX_DEPTH, "json").encode(), "application/json", "nested more than 32 levels deep"),
        (('{"notes": [' + ", ".join(["0"] * MAX_NODES) + "]}").encode(), "application/json", "more than 10000 values"),
        (b'id: x\ntitle: "\\0"\n', "application/yaml", "U+0000 at character 1 is not allowed"),
        (b'id: x\ntitle: "\\udc00"\n', "application/yaml", "U+DC00 at character 1 is not allowed"),
        (b"id: x\ntitle: a\x00\n", "application/yaml", "character U+0000 at column 9 is not allowed"),
        (b"id: x\ntitle: \xed\xa0\x80\n", "application/yaml", "not valid UTF-8: byte 0xed at column 8"),
    ],
    ids=["depth-yaml", "depth-json", "values", "nul-escape", "surrogate-escape", "raw-nul", "encoded-surrogate"],
)
def test_limits_and_refused_text_are_422_problems_over_http(world, content, content_type, expected):
    headers = {**world.auth(world.resident), "Content-Type": content_type}
    body = answered_422(world, "/rubrics/validate", headers, content)
    assert expected in body["problems"][0]["message"], body["problems"]
    assert body["problems"][0]["message_zh"] and body["problems"][0]["line"]


def test_a_body_over_the_file_limit_is_refused_by_the_reader_when_the_http_limit_is_raised(app, monkeypatch):
    monkeypatch.setenv("CIVIC_MAX_RUBRIC_BYTES", str(4 * MAX_FILE_BYTES))
    world = ApiWorld(app)
    headers = {**world.auth(world.district), "Content-Type": "application/yaml"}
    body = answered_422(world, "/rubrics/validate", headers, b"#" * (MAX_FILE_BYTES + 1))
    assert str(MAX_FILE_BYTES) in body["detail"]

"""The Tianjin 2017 美丽社区创建指标体系 data matches the published table item by item.

``plugins/tianjin_meili/data/meili_2017_items.json`` is a transcription of 附件1 of
津民发〔2017〕18号 (seed 001). Two kinds of check live here:

* invariants of the JSON alone (6 categories, 60 items, ids "1".."60", category sums
  18/17/20/20/12/13 = 100, each item worth 1-3 points in steps of 0.5); these always run;
* a comparison with the seed text itself, parsed here by a small parser of its own, item by
  item: category titles and declared totals, item numbers, texts and points. The seeds are
  not part of the repository: they are looked for in ``$CIVIC_SEEDS_DIR`` or in
  ``<repo root>/../shared/seeds``; without them these tests are skipped.

The seed is a flattened table, one cell per line, cells separated by blank lines: a
category name one character per line followed by its item count ("（8）" or "(16)"), then
each item "（N）text" followed by its points (小项分值), and after the first item of a
category the category total (分值). A cell may be broken over several lines (item 43 is);
such pieces are joined with nothing between them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "plugins" / "tianjin_meili" / "data" / "meili_2017_items.json"
SEEDS_ENV = "CIVIC_SEEDS_DIR"
SEED_GLOB = "001_*.txt"

CATEGORY_IDS = ["self_governance", "management", "services", "environment", "civility", "participation"]
CATEGORY_SUMS = [Decimal(n) for n in (18, 17, 20, 20, 12, 13)]
STEP = Decimal("0.5")

# --------------------------------------------------------------------------------------
# Locating and parsing the seed
# --------------------------------------------------------------------------------------


def seed_path() -> Path | None:
    """The seed 001 file: in $CIVIC_SEEDS_DIR if set, else in <repo root>/../shared/seeds."""
    dirs: list[Path] = []
    env = os.environ.get(SEEDS_ENV, "").strip()
    if env:
        dirs.append(Path(env))
    dirs.append(ROOT.parent / "shared" / "seeds")
    for d in dirs:
        if d.is_dir():
            found = sorted(d.glob(SEED_GLOB))
            if len(found) > 1:
                raise AssertionError(f"several seed files match {SEED_GLOB} in {d}: {[p.name for p in found]}")
            if found:
                return found[0]
    return None


@dataclass
class ParsedItem:
    number: int
    text: str
    points: Decimal | None = None


@dataclass
class ParsedCategory:
    title: str
    declared_count: int
    total: Decimal | None = None
    items: list[ParsedItem] = field(default_factory=list)


TABLE_HEADER = ["项目", "内容", "小项分值", "分值"]
TABLE_END = "美丽社区创建指标说明"

_ITEM = re.compile(r"[（(](\d+)[）)]\s*(\S.*)")
_COUNT = re.compile(r"[（(](\d+)[）)]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TITLE_CHAR = re.compile(r"[\u4e00-\u9fff]")


class SeedFormatError(ValueError):
    pass


def table_lines(text: str) -> list[str]:
    """The non-blank, stripped lines of the table body: after the header row, before the notes."""
    lines = [s for s in (raw.strip() for raw in text.splitlines()) if s]
    for start in range(len(lines) - len(TABLE_HEADER) + 1):
        if lines[start : start + len(TABLE_HEADER)] == TABLE_HEADER:
            break
    else:
        raise SeedFormatError(f"table header {TABLE_HEADER} not found")
    body = lines[start + len(TABLE_HEADER) :]
    try:
        end = body.index(TABLE_END)
    except ValueError:
        raise SeedFormatError(f"end of table ({TABLE_END!r}) not found") from None
    return body[:end]


def parse_table(text: str) -> list[ParsedCategory]:
    """Parse the seed's table into categories with their items; raise SeedFormatError on anything odd."""
    categories: list[ParsedCategory] = []
    title_chars: list[str] = []
    item: ParsedItem | None = None

    for line in table_lines(text):
        if m := _ITEM.fullmatch(line):
            if title_chars or not categories:
                raise SeedFormatError(f"item line before a complete category heading: {line!r}")
            if item is not None and item.points is None:
                raise SeedFormatError(f"item ({item.number}) has no points before {line!r}")
            item = ParsedItem(int(m.group(1)), m.group(2))
            categories[-1].items.append(item)
        elif m := _COUNT.fullmatch(line):
            if not title_chars:
                raise SeedFormatError(f"item count {line!r} without a category name before it")
            categories.append(ParsedCategory("".join(title_chars), int(m.group(1))))
            title_chars = []
            item = None
        elif _NUMBER.fullmatch(line):
            if item is None or title_chars:
                raise SeedFormatError(f"number {line!r} outside an item")
            category = categories[-1]
            if item.points is None:
                item.points = Decimal(line)
            elif category.total is None and category.items == [item]:
                category.total = Decimal(line)
            else:
                raise SeedFormatError(f"unexpected number {line!r} after item ({item.number})")
        elif _TITLE_CHAR.fullmatch(line):
            if item is not None and item.points is None:
                raise SeedFormatError(f"single character {line!r} inside the text of item ({item.number})")
            title_chars.append(line)
        else:
            # A cell broken over several lines: the rest of the current item's text.
            if item is None or item.points is not None:
                raise SeedFormatError(f"stray text {line!r}")
            item.text += line

    if title_chars:
        raise SeedFormatError(f"category name {''.join(title_chars)!r} without items")
    expected_number = 1
    for category in categories:
        if category.total is None:
            raise SeedFormatError(f"category {category.title!r} has no total (分值)")
        if len(category.items) != category.declared_count:
            raise SeedFormatError(
                f"category {category.title!r} announces {category.declared_count} items, has {len(category.items)}"
            )
        for it in category.items:
            if it.points is None:
                raise SeedFormatError(f"item ({it.number}) has no points")
            if it.number != expected_number:
                raise SeedFormatError(f"item ({it.number}) found where ({expected_number}) was expected")
            expected_number += 1
    return categories


def parse_summary(text: str) -> tuple[int, int, Decimal]:
    """(categories, items, total points) from the note 美丽社区创建指标共分6个大项目，60个子项目，总分值100分。"""
    m = re.search(r"共分(\d+)个大项目[，,](\d+)个子项目[，,]总分值(\d+(?:\.\d+)?)分", text)
    if not m:
        raise SeedFormatError("summary sentence (共分…个大项目…) not found")
    return int(m.group(1)), int(m.group(2)), Decimal(m.group(3))


# --------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------


def load_data(path: Path = DATA) -> dict:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal, parse_int=Decimal)


def mismatches(parsed: list[ParsedCategory], data: dict) -> list[str]:
    """Every difference between the parsed seed table and the JSON data, item by item."""
    out: list[str] = []
    cats = data["categories"]
    if len(cats) != len(parsed):
        out.append(f"{len(cats)} categories in the data, {len(parsed)} in the seed")
    for k, (pc, dc) in enumerate(zip(parsed, cats), 1):
        where = f"category {k} ({pc.title})"
        if dc["title"] != pc.title:
            out.append(f"{where}: title {dc['title']!r} != seed {pc.title!r}")
        if dc["max_points"] != pc.total:
            out.append(f"{where}: max_points {dc['max_points']} != seed 分值 {pc.total}")
        if len(dc["items"]) != len(pc.items):
            out.append(f"{where}: {len(dc['items'])} items in the data, {len(pc.items)} in the seed")
        for pi, di in zip(pc.items, dc["items"]):
            if di["id"] != str(pi.number):
                out.append(f"{where}: item id {di['id']!r} where the seed has ({pi.number})")
            if di["text"] != pi.text:
                out.append(f"item ({pi.number}): text differs\n  data: {di['text']!r}\n  seed: {pi.text!r}")
            if di["max_points"] != pi.points:
                out.append(f"item ({pi.number}): max_points {di['max_points']} != seed {pi.points}")
    return out


@pytest.fixture(scope="module")
def seed_text() -> str:
    path = seed_path()
    if path is None:
        pytest.skip(
            f"seed 001 ({SEED_GLOB}) not found in ${SEEDS_ENV} or {ROOT.parent / 'shared' / 'seeds'}; "
            "the seeds are not part of the repository"
        )
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data() -> dict:
    return load_data()


# --------------------------------------------------------------------------------------
# Against the seed
# --------------------------------------------------------------------------------------


def test_seed_table_parses_into_the_published_shape(seed_text):
    parsed = parse_table(seed_text)
    n_categories, n_items, total = parse_summary(seed_text)
    assert len(parsed) == n_categories == 6
    assert sum(len(c.items) for c in parsed) == n_items == 60
    assert sum((c.total for c in parsed), Decimal(0)) == total == 100
    for c in parsed:
        assert sum((i.points for i in c.items), Decimal(0)) == c.total, c.title


def test_data_matches_the_seed_item_by_item(seed_text, data):
    problems = mismatches(parse_table(seed_text), data)
    assert not problems, "\n".join(problems)


def test_data_matches_the_seed_summary(seed_text, data):
    n_categories, n_items, total = parse_summary(seed_text)
    cats = data["categories"]
    assert len(cats) == n_categories
    assert sum(len(c["items"]) for c in cats) == n_items
    assert sum((c["max_points"] for c in cats), Decimal(0)) == total


def test_a_one_character_change_is_caught(seed_text, data):
    # Item (43) is the one broken over two lines in the seed; alter one character of it.
    tampered = seed_text.replace("无种菜", "无种花", 1)
    assert tampered != seed_text
    problems = mismatches(parse_table(tampered), data)
    assert len(problems) == 1 and problems[0].startswith("item (43): text differs"), problems


def test_a_changed_point_value_is_caught(seed_text, data):
    # Item (41) is worth 2.5; a 2 would leave its category 0.5 short of its 分值.
    lines = seed_text.split("\n")
    i = next(k for k, s in enumerate(lines) if s.strip().startswith("（41）"))
    j = next(k for k in range(i + 1, len(lines)) if lines[k].strip())
    assert lines[j].strip() == "2.5"
    lines[j] = "2"
    parsed = parse_table("\n".join(lines))
    problems = mismatches(parsed, data)
    assert problems == ["item (41): max_points 2.5 != seed 2"], problems


# --------------------------------------------------------------------------------------
# The parser on small hand-made tables (no seed needed)
# --------------------------------------------------------------------------------------

_MINI = "\n".join(
    [
        "项目", "", "内容", "", "小项分值", "", "分值", "",
        "甲", "", "乙", "", "(2)", "", " ",
        "（1）第一项；", "", "1.5", "", "2.5", "",
        "（2）第二项前半", "", "后半。", "", "1", "",
        "丙", "", "（1）", "",
        "（3）第三项;", "", "2", "", "2", "",
        TABLE_END,
    ]
)  # fmt: skip


def test_parser_on_a_small_table():
    parsed = parse_table(_MINI)
    assert [(c.title, c.declared_count, c.total) for c in parsed] == [
        ("甲乙", 2, Decimal("2.5")),
        ("丙", 1, Decimal(2)),
    ]
    assert [(i.number, i.text, i.points) for c in parsed for i in c.items] == [
        (1, "第一项；", Decimal("1.5")),
        (2, "第二项前半后半。", Decimal(1)),
        (3, "第三项;", Decimal(2)),
    ]


@pytest.mark.parametrize(
    "old, new",
    [
        ("(2)", "(3)"),  # announced item count disagrees
        ("\n2.5\n", "\n"),  # category total missing
        ("（2）", "（4）"),  # numbering gap
        ("\n1\n", "\n1\n\n7\n"),  # an extra number
    ],
)
def test_parser_rejects_malformed_tables(old, new):
    assert old in _MINI
    with pytest.raises(SeedFormatError):
        parse_table(_MINI.replace(old, new, 1))


# --------------------------------------------------------------------------------------
# Invariants of the data alone (no seed needed)
# --------------------------------------------------------------------------------------


def test_data_invariants(data):
    assert data["source"].startswith("天津市民政局")
    assert "津民发〔2017〕18号" in data["source"]
    cats = data["categories"]
    assert [c["id"] for c in cats] == CATEGORY_IDS
    assert len(cats) == 6
    items = [i for c in cats for i in c["items"]]
    assert len(items) == 60
    assert [i["id"] for i in items] == [str(n) for n in range(1, 61)]

    for c, expected in zip(cats, CATEGORY_SUMS):
        assert isinstance(c["max_points"], Decimal), c["id"]
        assert c["max_points"] == expected, c["id"]
        assert sum((i["max_points"] for i in c["items"]), Decimal(0)) == expected, c["id"]
    assert sum(CATEGORY_SUMS, Decimal(0)) == 100
    assert sum((i["max_points"] for i in items), Decimal(0)) == 100

    for i in items:
        points = i["max_points"]
        assert isinstance(points, Decimal), f"item {i['id']}: max_points must be a JSON number"
        assert Decimal(1) <= points <= Decimal(3), f"item {i['id']}: {points}"
        assert points % STEP == 0, f"item {i['id']}: {points} is not a multiple of 0.5"
        assert set(i) == {"id", "text", "max_points"}, i["id"]
        assert i["text"] and i["text"] == i["text"].strip(), f"item {i['id']}: text"
        assert not re.match(r"[（(]\d+[）)]", i["text"]), f"item {i['id']}: number prefix left in text"
        assert "\n" not in i["text"], f"item {i['id']}: line break in text"

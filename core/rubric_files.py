"""Rubric files: read a YAML or JSON file into a :class:`~core.rubric.Rubric`, or into
every problem it has, each located by file, line and field path (in English and Chinese).

A rubric file holds one complete rubric (the same fields as ``civic rubric show --json``
minus ``hash``) and, optionally, ``derived_from: "ID@VERSION"`` naming the version it was
derived from. The file is the whole definition: what is in it is exactly what gets
hashed and recorded. See docs/rubric-files.md.

This module only reads and checks the file itself. Whether the style and aggregation it
names are installed, and whether a tenant may import it, are the application's checks
(``core.services.registry``).

A file is refused before any of its values is built when it is larger than
:data:`MAX_FILE_BYTES`, is not UTF-8, nests deeper than :data:`MAX_DEPTH`, holds more than
:data:`MAX_NODES` values, or uses YAML anchors or aliases; every text in it (keys too) must
pass the platform's text rule (:mod:`core.text`). See "Limits 限制" in docs/rubric-files.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.rubric import Rubric
from core.text import bad_character, shown

#: The largest rubric file read, in bytes (256 KiB; the 60-item Tianjin rubric is about 15 kB as JSON).
MAX_FILE_BYTES = 256 * 1024
#: How deeply lists and mappings may nest (the top-level mapping is level 1).
MAX_DEPTH = 32
#: How many values a file may hold: every scalar (keys included), list and mapping.
MAX_NODES = 10_000
#: The longest number (digits, sign, point, exponent) a rubric file may hold.
MAX_NUMBER_CHARACTERS = 100
_NUMERIC = re.compile(r"^[+-]?[0-9][0-9_.eE+-]*$")
#: How many refused texts are reported before the reading stops.
MAX_TEXT_PROBLEMS = 20

#: Keys a rubric file may hold besides the Rubric model's own fields.
FILE_KEYS = ("derived_from",)
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}

PathParts = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One located problem: ``rubric.yaml: line 12: levels[1].id: … / …``."""

    file: str
    line: int | None
    path: str
    message: str
    message_zh: str

    def __str__(self) -> str:
        where = f"{self.file}: " + (f"line {self.line}: " if self.line else "")
        return f"{where}{self.path + ': ' if self.path else ''}{self.message} / {self.message_zh}"


@dataclass
class RubricFile:
    """What reading a rubric file gave: the rubric (when it has no problems), the version
    it says it derives from, and every problem found."""

    path: str
    rubric: Rubric | None = None
    derived_from: str | None = None
    problems: list[Problem] = field(default_factory=list)
    _lines: dict[PathParts, int] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.rubric is not None and not self.problems

    def line_of(self, parts: PathParts) -> int | None:
        """The line of the field at ``parts``, or of its nearest ancestor present in the file."""
        for end in range(len(parts), -1, -1):
            if parts[:end] in self._lines:
                return self._lines[parts[:end]]
        return None

    def problem(self, parts: PathParts, message: str, message_zh: str) -> Problem:
        """A problem located at the field ``parts`` (e.g. ``("levels", 1, "rules")``)."""
        return Problem(Path(self.path).name, self.line_of(parts), dotted(parts), message, message_zh)


def dotted(parts: PathParts) -> str:
    """``("categories", 1, "items", 3, "max_points")`` -> ``categories[1].items[3].max_points``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_rubric_file(path: str | Path) -> RubricFile:
    """Read and validate a rubric file (``.yaml``, ``.yml`` or ``.json``).

    Never raises for a bad file: the result's ``problems`` list every problem found,
    located as precisely as the file allows. ``rubric`` is set only when there are none.
    """
    result = RubricFile(path=str(path))
    name = Path(path).name
    kind = SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        result.problems.append(Problem(name, None, "", f"unknown file type; use one of {', '.join(SUFFIXES)}",
                                       f"文件类型不支持，应为 {'、'.join(SUFFIXES)}"))
        return result
    text = _read_text(Path(path), result)
    if text is None:
        return result
    data = _parse(text, kind, result)
    if data is _UNREADABLE:
        return result
    if not isinstance(data, dict):
        result.problems.append(result.problem((), f"the file must hold one mapping of fields, not {type(data).__name__}",
                                              "文件内容应为字段映射（键: 值）"))
        return result
    derived_from = data.pop("derived_from", None)
    if derived_from is not None:
        if not isinstance(derived_from, str) or not _is_ref(derived_from):
            result.problems.append(result.problem(("derived_from",), f"{derived_from!r} is not ID@VERSION",
                                                  "应为“标准编号@版本”，如 tianjin-meili@2017"))
        else:
            result.derived_from = derived_from
    result.problems.extend(_cross_checks(data, result))
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            # The cross-field rules are also the model's validators; when they were already
            # reported with their location, the model's unlocated copy adds nothing.
            if error["type"] == "value_error" and result.problems:
                continue
            result.problems.append(_from_pydantic(error, result))
    else:
        if not result.problems:
            result.rubric = rubric
    result.problems.sort(key=lambda p: p.line or 0)
    return result


def _is_ref(text: str) -> bool:
    rubric_id, at, version = text.partition("@")
    return bool(rubric_id.strip() and at and version.strip())


# -- reading the bytes, and the limits checked while parsing -------------------------------------


def _read_text(path: Path, result: RubricFile) -> str | None:
    """The file's text, or None with the problem recorded: unreadable, larger than
    :data:`MAX_FILE_BYTES` (never read further than that), not UTF-8, or holding a
    character the platform does not store (anywhere, comments included)."""
    name = path.name
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        result.problems.append(Problem(name, None, "", f"cannot read the file: {exc}", "无法读取文件（须为UTF-8文本）"))
        return None
    if len(data) > MAX_FILE_BYTES:
        result.problems.append(Problem(
            name, None, "", f"the file is larger than {MAX_FILE_BYTES} bytes; allowed: a rubric file of at most "
                            f"{MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)",
            f"文件超过{MAX_FILE_BYTES}字节；评分标准文件最多{MAX_FILE_BYTES}字节"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = data.count(b"\n", 0, exc.start) + 1, exc.start - data.rfind(b"\n", 0, exc.start)
        byte = data[exc.start:exc.start + 1].hex()
        result.problems.append(Problem(
            name, line, "", f"not valid UTF-8: byte 0x{byte} at column {column} ({exc.reason}); allowed: UTF-8 text",
            f"不是有效的UTF-8文本：第{line}行第{column}列的字节0x{byte}；文件须为UTF-8文本"))
        return None
    start, found = 0, 0
    while found < MAX_TEXT_PROBLEMS and (at := bad_character(text[start:])) is not None:
        at += start
        line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        result.problems.append(Problem(
            name, line, "", f"character U+{ord(text[at]):04X} at column {column} is not allowed; allowed: {_TEXT_EN}",
            f"第{column}列的字符 U+{ord(text[at]):04X} 不允许；{_TEXT_ZH}"))
        start, found = at + 1, found + 1
    return None if found else text


_TEXT_EN = "text without NUL, control characters (other than tab and line breaks), lone surrogates or noncharacters"
_TEXT_ZH = "只允许不含 NUL、控制字符（制表符和换行除外）、孤立代理项或非字符的文本"


class _Refused(Exception):
    """The file breaks a limit: reading stops at once, with this problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Shape:
    """The limits and the text rule, checked on every value as the parser meets it, before
    any value is built: depth (:data:`MAX_DEPTH`), count (:data:`MAX_NODES`) and the text of
    every scalar (keys too). Refused texts are collected (``problems``); a broken limit
    raises :class:`_Refused`. Tracks each value's field path, for the messages."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes = 0
        self.problems: list[Problem] = []
        # one frame per open collection: [path, is_mapping, items so far, current key, expecting a key]
        self.frames: list[list[Any]] = []

    def where(self) -> tuple[PathParts, bool]:
        """The path of the value about to be met, and whether it is a mapping's key."""
        if not self.frames:
            return (), False
        parts, mapping, n, key, at_key = self.frames[-1]
        if mapping:
            return (parts, True) if at_key else ((*parts, key), False)
        return (*parts, n), False

    def refuse(self, line: int, message: str, message_zh: str) -> None:
        raise _Refused(Problem(self.name, line, shown(dotted(self.where()[0]), 200), message, message_zh))

    def _count(self, line: int, column: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.refuse(line, f"more than {MAX_NODES} values (column {column}); allowed: at most {MAX_NODES} values "
                              "(scalars, lists and mappings) in a rubric file (MAX_NODES)",
                        f"值超过{MAX_NODES}个（第{column}列）；评分标准文件最多{MAX_NODES}个值（标量、列表与映射）")

    def _done(self) -> None:
        """A value is complete: its collection moves on to the next key, value or item."""
        if self.frames:
            frame = self.frames[-1]
            if frame[1]:  # a mapping: a key is followed by its value, a value by the next key
                frame[4] = not frame[4]
                if frame[4]:
                    frame[2] += 1
            else:
                frame[2] += 1

    def scalar(self, value: str, line: int, column: int) -> None:
        self._count(line, column)
        parts, is_key = self.where()
        if len(value) > MAX_NUMBER_CHARACTERS and _NUMERIC.match(value) and len(self.problems) < MAX_TEXT_PROBLEMS:
            self.problems.append(Problem(
                self.name, line, shown(dotted((*parts, value[:20] + "…") if is_key else parts), 200),
                f"a number of {len(value)} characters (column {column}); allowed: numbers of at most "
                f"{MAX_NUMBER_CHARACTERS} characters (MAX_NUMBER_CHARACTERS)",
                f"第{column}列的数字长达{len(value)}个字符；数字最多{MAX_NUMBER_CHARACTERS}个字符"))
            value = value[:MAX_NUMBER_CHARACTERS]
        at = bad_character(value)
        if at is not None and len(self.problems) < MAX_TEXT_PROBLEMS:
            where = (*parts, value) if is_key else parts
            self.problems.append(Problem(
                self.name, line, shown(dotted(where), 200),
                f"text '{shown(value)}' (column {column}): U+{ord(value[at]):04X} at character {at + 1} is not allowed; "
                f"allowed: {_TEXT_EN}",
                f"第{column}列的文本含不允许的字符 U+{ord(value[at]):04X}（第{at + 1}个字符）；{_TEXT_ZH}"))
        if is_key:
            self.frames[-1][3] = value
        self._done()

    def start(self, mapping: bool, line: int, column: int) -> None:
        self._count(line, column)
        if len(self.frames) >= MAX_DEPTH:
            self.refuse(line, f"nested more than {MAX_DEPTH} levels deep (column {column}); allowed: lists and "
                              f"mappings nested at most {MAX_DEPTH} levels deep (MAX_DEPTH)",
                        f"嵌套超过{MAX_DEPTH}层（第{column}列）；列表与映射最多嵌套{MAX_DEPTH}层")
        parts, is_key = self.where()
        if is_key:
            self.frames[-1][3] = "?"
            parts = (*parts, "?")
        self.frames.append([parts, mapping, 0, None, True])

    def end(self) -> None:
        self.frames.pop()
        self._done()


# -- parsing, keeping the line of every field ----------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML with exact decimals: ``2.3`` is Decimal("2.3"), never a binary float.

    Every event the composer takes passes :class:`_Shape` first, so an anchor, an alias,
    too deep a nesting or too many values stop the reading before the node is made."""

    def __init__(self, stream: str, name: str = "rubric") -> None:
        super().__init__(stream)
        self.shape = _Shape(name)

    def get_event(self) -> yaml.Event:
        event = super().get_event()
        mark = event.start_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:  # an alias, or a node with an anchor
            alias = isinstance(event, yaml.AliasEvent)
            what, what_zh = (f"alias *{shown(str(event.anchor))}", f"别名 *{shown(str(event.anchor))}") if alias else \
                            (f"anchor &{shown(str(event.anchor))}", f"锚点 &{shown(str(event.anchor))}")
            self.shape.refuse(line, f"{what} (column {column}): YAML anchors (&) and aliases (*) are not allowed in a "
                                    "rubric file; allowed: every value written out in full",
                              f"{what_zh}（第{column}列）：评分标准文件不允许使用YAML锚点（&）和别名（*），请完整写出每个值")
        if isinstance(event, yaml.ScalarEvent):
            self.shape.scalar(event.value, line, column)
        elif isinstance(event, yaml.CollectionStartEvent):
            self.shape.start(isinstance(event, yaml.MappingStartEvent), line, column)
        elif isinstance(event, yaml.CollectionEndEvent):
            self.shape.end()
        return event


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    try:
        value = Decimal(str(text).replace("_", ""))
    except InvalidOperation:
        return loader.construct_yaml_float(node)  # .inf, .nan: left to the model to refuse
    return value if value.is_finite() else loader.construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)


_UNREADABLE = object()

#: JSON's tokens, for :func:`_scan_json`: a string, a bracket, a bare literal (number, true,
#: false, null), an unterminated string's quote, a separator.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]|[^\s{}\[\]:,"]+|"|[:,]', re.S)


def _scan_json(text: str, shape: _Shape) -> None:
    """Every value of a JSON text through ``shape`` (limits and text rule) before
    ``json.loads`` builds any; stops quietly where the text is not JSON (then
    ``json.loads`` reports the syntax error)."""
    line, last, line_start = 1, 0, 0
    for token in _JSON_TOKEN.finditer(text):
        at = token.start()
        newline = text.rfind("\n", last, at)
        if newline >= 0:
            line += text.count("\n", last, at)
            line_start = newline + 1
        last = at
        column = at - line_start + 1
        value = token.group()
        if value == "{" or value == "[":
            shape.start(value == "{", line, column)
        elif value == "}" or value == "]":
            if not shape.frames:
                return
            shape.end()
        elif value == ":" or value == ",":
            continue
        elif value == '"':
            return
        else:
            if value.startswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    return
            shape.scalar(value, line, column)


def _parse(text: str, kind: str, result: RubricFile) -> Any:
    """The file's data (``_UNREADABLE`` on a syntax error, a broken limit or refused text),
    indexing every field's line. Limits and the text rule are checked on the parser's
    events, before any value is built."""
    name = Path(result.path).name
    if kind == "json":
        shape = _Shape(name)
        try:
            _scan_json(text, shape)
        except _Refused as exc:
            result.problems.extend([*shape.problems, exc.problem])
            return _UNREADABLE
        if shape.problems:
            result.problems.extend(shape.problems)
            return _UNREADABLE
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(name, exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})",
                                           "JSON格式错误"))
            return _UNREADABLE
        except RecursionError:
            result.problems.append(Problem(name, None, "", "nested too deeply to be a rubric", "嵌套层次过深"))
            return _UNREADABLE
        try:  # JSON is YAML, so the same composer gives every field's line
            _index_lines(yaml.compose(text, Loader=_Loader), (), result)
        except (yaml.YAMLError, RecursionError, _Refused):
            pass  # data is fine; problems are then located by path only
        return data
    try:
        loader = _Loader(text, name)
        try:
            node = loader.get_single_node()
            if loader.shape.problems:
                return _UNREADABLE  # the refused texts are added below
            if node is None:
                result.problems.append(Problem(name, None, "", "the file is empty", "文件为空"))
                return _UNREADABLE
            _index_lines(node, (), result)
            return loader.construct_document(node)
        finally:
            loader.dispose()
            result.problems[:0] = loader.shape.problems
    except _Refused as exc:
        result.problems.append(exc.problem)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        result.problems.append(Problem(name, line, "", f"not valid YAML: {exc.problem or exc}", "YAML格式错误"))
    except yaml.YAMLError as exc:
        result.problems.append(Problem(name, None, "", f"not valid YAML: {exc}", "YAML格式错误"))
    except RecursionError:
        result.problems.append(Problem(name, None, "", "nested too deeply to be a rubric", "嵌套层次过深"))
    return _UNREADABLE


def _index_lines(node: yaml.Node, parts: PathParts, result: RubricFile) -> None:
    """Record the line of every field; a key given twice in one mapping is a problem
    (YAML would otherwise keep the last one silently)."""
    result._lines.setdefault(parts, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                result.problems.append(Problem(Path(result.path).name, line, dotted((*parts, key)),
                                               f"given twice (first on line {seen[key]})", f"字段重复（首次出现在第{seen[key]}行）"))
                continue
            seen[key] = line
            result._lines[(*parts, key)] = line
            _index_lines(value_node, (*parts, key), result)
    elif isinstance(node, yaml.SequenceNode):
        for n, child in enumerate(node.value):
            _index_lines(child, (*parts, n), result)


# -- the rules that span fields, located -------------------------------------------------


def _points(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    try:
        points = Decimal(str(value))
    except InvalidOperation:
        return None
    return points if points.is_finite() else None


def _cross_checks(data: dict[str, Any], result: RubricFile) -> list[Problem]:
    """The model's cross-field rules (step, category sums, unique ids), each reported at
    the field that breaks it. Values of the wrong type are left to the model's checks."""
    problems: list[Problem] = []
    step = _points(data.get("step", Decimal("0.5")))
    categories = data.get("categories")
    item_ids: dict[str, PathParts] = {}
    for c, category in enumerate(categories if isinstance(categories, list) else []):
        if not isinstance(category, dict) or not isinstance(category.get("items"), list):
            continue
        total, complete = Decimal(0), True
        for i, item in enumerate(category["items"]):
            if not isinstance(item, dict):
                complete = False
                continue
            where = ("categories", c, "items", i)
            points = _points(item.get("max_points"))
            if points is None:
                complete = False
            else:
                total += points
                if step and step > 0 and points > 0 and points % step:
                    problems.append(result.problem((*where, "max_points"), f"{points} is not a multiple of step {step}",
                                                   f"分值不是步长{step}的整数倍"))
            item_id = item.get("id")
            if isinstance(item_id, str) and item_id:
                if item_id in item_ids:
                    problems.append(result.problem((*where, "id"), f"item id {item_id!r} is already used by {dotted(item_ids[item_id])}",
                                                   f"小项编号“{item_id}”重复"))
                else:
                    item_ids[item_id] = where
        declared = _points(category.get("max_points"))
        if complete and declared is not None and declared != total:
            problems.append(result.problem(("categories", c, "max_points"), f"{declared} but its items add up to {total}",
                                           f"类别分值{declared}与其小项分值合计{total}不符"))
    for key, label in (("levels", "级别"), ("veto_items", "一票否决项")):
        seen: set[str] = set()
        entries = data.get(key)
        for n, entry in enumerate(entries if isinstance(entries, list) else []):
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(entry_id, str) and entry_id:
                if entry_id in seen:
                    problems.append(result.problem((key, n, "id"), f"id {entry_id!r} is used twice in {key}",
                                                   f"{label}编号“{entry_id}”重复"))
                seen.add(entry_id)
    return problems


# -- pydantic's errors, located and translated ------------------------------------------------

_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段（请检查拼写）",
    "string_type": "应为文本",
    "string_too_short": "不能为空",
    "string_pattern_mismatch": "格式不符（只能用小写字母、数字和 . _ -，以字母或数字开头）",
    "too_short": "条目数量不足",
    "list_type": "应为列表",
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "decimal_type": "应为数字",
    "decimal_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
}


def _from_pydantic(error: dict[str, Any], result: RubricFile) -> Problem:
    parts: PathParts = tuple(error["loc"])
    kind = error["type"]
    if kind == "value_error":
        return result.problem(parts, str(error["msg"]).removeprefix("Value error, "), "数值不符合规则")
    zh = _ZH.get(kind, "数值不符合要求")
    if kind in ("greater_than", "greater_than_equal"):
        limit = error.get("ctx", {}).get("gt", error.get("ctx", {}).get("ge"))
        zh = f"应{'大于' if kind == 'greater_than' else '不小于'}{limit}"
    message = error["msg"]
    if kind == "missing":
        return result.problem(parts, "required field is missing", zh)
    if kind == "extra_forbidden":
        return result.problem(parts, f"unknown field {parts[-1]!r}", zh)
    value = error.get("input")
    if kind == "string_type" and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        message += f"; write it in quotes: \"{value}\""
        zh += f"，请加引号写作 \"{value}\""
    return result.problem(parts, f"{_show(value)}: {message}", zh)


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"

"""The plugin host: discovery through entry points, refusal of broken plugins, conflicts
between plugins, every hook exercised, and a campaign run on a plugin that is not Tianjin's.

The plugins here are small fakes written in the tests (classes with ``@hookimpl`` methods,
or modules written to a temporary folder and found through a fake entry point); the core
itself is never mocked.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.metadata
import inspect
import json
import re
import sys
import uuid
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.actors import Role
from core.cli import app as cli
from core.errors import NotFound, PluginError, RuleViolation
from core.plugins import ENTRY_POINT_GROUP, PLUGIN_API_VERSION, PluginHost, hookimpl, hookspecs
from core.plugins.types import (
    Aggregation,
    CandidateEvidence,
    DecisionContext,
    DecisionStyle,
    Demo,
    Outcome,
    PhaseSpec,
)
from core.rubric import Rubric
from core.services import CivicLedger
from core.styles import BUILTIN_STYLES, ChecklistByTypeStyle, QuotaRankingStyle, ThresholdStyle
from core.testing import fresh_host
from tests.helpers import actor

TESTS_DIR = Path(__file__).resolve().parent
# the plugins this distribution installs (the fakes below are added to these)
INSTALLED = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
TIANJIN = "tianjin-meili"
BUILTIN_STYLE_NAMES = {"threshold", "checklist-by-type", "quota-ranking"}


def tiny_rubric(rubric_id: str = "demo-city", *, style: str = "pass-mark", aggregation: str = "mean") -> dict[str, Any]:
    """A two-item rubric as plain data, the way a plugin may return it."""
    return {
        "id": rubric_id,
        "version": "2024",
        "title": "示例社区评选标准",
        "style": style,
        "aggregation": aggregation,
        "categories": [
            {
                "id": "env",
                "title": "环境整洁",
                "max_points": 10,
                "items": [
                    {"id": "1", "text": "楼道无堆物", "max_points": 6},
                    {"id": "2", "text": "绿地养护良好", "max_points": 4},
                ],
            }
        ],
        "levels": [{"id": "good", "label": "示例优秀社区", "rules": {"min_total": 8}}],
    }


class PassMark:
    """A decision style following core.plugins.types.DecisionStyle: a level is awarded at a
    minimum total, unless an objection was upheld during the public notice."""

    name = "pass-mark"
    version = "1"

    @staticmethod
    def _bar(rubric: Rubric, level: str) -> Decimal:
        return Decimal(str(rubric.level(level).rules["min_total"]))

    def validate_rules(self, rubric: Rubric) -> None:
        for level in rubric.levels:
            bar = level.rules.get("min_total")
            if bar is None:
                raise ValueError(f"level {level.id!r}: rules.min_total is required")
            if Decimal(str(bar)) > rubric.max_total:
                raise ValueError(f"level {level.id!r}: min_total {bar} exceeds {rubric.max_total}")

    def check_application(self, rubric: Rubric, level: str, self_total: Decimal, facts: dict[str, Any]) -> list[str]:
        bar = self._bar(rubric, level)
        return [] if self_total >= bar else [f"self-assessed total {self_total} is below the pass mark {bar}"]

    def _judge(self, rubric: Rubric, level: str, c: CandidateEvidence, final: bool) -> Outcome:
        bar = self._bar(rubric, level)
        reasons = []
        if c.total < bar:
            reasons.append(f"total {c.total} is below the pass mark {bar}")
        if final and c.objections.get("upheld", 0):
            reasons.append("an objection was upheld")
        return Outcome(c.candidacy_id, not reasons, reasons or ["passed"], {"total": str(c.total), "bar": str(bar)})

    def preliminary(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        assert all(c.level in context.levels for c in candidates)
        return [self._judge(context.rubric, c.level, c, final=False) for c in candidates]

    def decide(self, context: DecisionContext, candidates: list[CandidateEvidence]) -> list[Outcome]:
        assert all(c.level in context.levels for c in candidates)
        return [self._judge(context.rubric, c.level, c, final=True) for c in candidates]


def tianjin_rubric(plugins: PluginHost) -> Rubric:
    return plugins.rubric(TIANJIN).rubric


# --------------------------------------------------------------------------------------
# Discovery through the civic.plugins entry point
# --------------------------------------------------------------------------------------


def test_installed_tianjin_plugin_is_discovered_through_its_entry_point():
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names.get("tianjin_meili") == "plugins.tianjin_meili"

    host = PluginHost.discover()
    assert host.failures == {}
    info = host.plugins["tianjin_meili"]
    assert info.source.startswith("entry point plugins.tianjin_meili")
    # its rubric names the threshold style, which the core provides: the plugin has no style hook
    assert info.hooks == ["civic_default_schedule", "civic_demos", "civic_rubrics"]
    provided = host.rubric(TIANJIN, "2017")
    assert provided.plugin == "tianjin_meili"
    assert provided.rubric.ref == "tianjin-meili@2017"
    assert len(provided.rubric.items()) == 60
    assert isinstance(host.style("threshold"), ThresholdStyle)
    # the core's own aggregations and styles are registered like any plugin, under "core"
    assert host.plugins["core"].hooks == ["civic_aggregations", "civic_decision_styles"]


def _fake_entry_points(monkeypatch, *extra: importlib.metadata.EntryPoint) -> None:
    """Make the host see the installed entry points plus ``extra`` ones."""
    real = importlib.metadata.entry_points

    def entry_points(**params: Any):
        found = list(real(**params))
        if params.get("group") == ENTRY_POINT_GROUP:
            found.extend(extra)
        return found

    import core.plugins.manager as manager

    monkeypatch.setattr(manager.importlib.metadata, "entry_points", entry_points)


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on sys.path for plugin modules written by a test; they are unloaded afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(source: str) -> str:
        module = f"civic_fake_plugin_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(inspect.cleandoc(source) + "\n", encoding="utf-8")
        written.append(module)
        return module

    yield write
    for module in written:
        sys.modules.pop(module, None)


def test_plugin_failing_on_import_is_reported_and_skipped(monkeypatch, plugin_dir):
    broken = plugin_dir(
        """
        raise RuntimeError("the city's config server is down")
        """
    )
    working = plugin_dir(
        """
        from core.plugins import hookimpl
        from core.plugins.types import Aggregation

        @hookimpl
        def civic_aggregations():
            return [Aggregation("max", lambda points: max(points), "the most generous assessor")]
        """
    )
    _fake_entry_points(
        monkeypatch,
        importlib.metadata.EntryPoint("broken_city", broken, ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("working_city", working, ENTRY_POINT_GROUP),
    )
    host = PluginHost.discover()

    assert set(host.failures) == {"broken_city"}
    why = host.failures["broken_city"]
    assert broken in why and "RuntimeError" in why and "config server is down" in why
    assert "broken_city" not in host.plugins
    # the others keep working
    assert set(host.plugins) == {"core", *INSTALLED, "working_city"}
    assert host.aggregation("max").combine([Decimal(1), Decimal(3)]) == Decimal(3)
    assert host.rubric(TIANJIN).plugin == "tianjin_meili"


# --------------------------------------------------------------------------------------
# Refused plugins
# --------------------------------------------------------------------------------------


def test_plugin_with_unknown_hook_is_refused_naming_the_hook():
    class Misspelt:
        @hookimpl
        def civic_rubrik(self):  # a typo of civic_rubrics
            return [tiny_rubric()]

        @hookimpl
        def civic_decision_styles(self):  # a good hook does not save a plugin with a bad one
            return [PassMark()]

    host = PluginHost()
    assert host.register(Misspelt(), name="misspelt") is False
    assert "misspelt" not in host.plugins
    assert "civic_rubrik" in host.failures["misspelt"]
    assert "civic_rubrics" in host.failures["misspelt"]  # the known hooks are listed
    assert host.pm.get_plugin("misspelt") is None
    assert host.rubrics() == [] and set(host.styles()) == BUILTIN_STYLE_NAMES


def test_plugin_for_another_interface_version_is_refused_naming_both_versions():
    class FromTheFuture:
        CIVIC_PLUGIN_API = 99

        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric()]

    host = PluginHost()
    assert host.register(FromTheFuture(), name="future_city") is False
    why = host.failures["future_city"]
    assert "99" in why and str(PLUGIN_API_VERSION) in why
    assert "future_city" not in host.plugins
    assert host.rubrics() == []


def test_second_plugin_under_the_same_name_is_refused():
    class First:
        @hookimpl
        def civic_decision_styles(self):
            return [PassMark()]

    class Second:
        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric()]

    host = PluginHost()
    assert host.register(First(), name="city") is True
    assert host.register(Second(), name="city") is False
    assert "already registered" in host.failures["city"] and "'city'" in host.failures["city"]
    assert host.plugins["city"].hooks == ["civic_decision_styles"]
    assert host.rubrics() == []  # the second one's rubric is not provided


# --------------------------------------------------------------------------------------
# A broken plugin is reported and skipped; the others keep working
# --------------------------------------------------------------------------------------


class Styles:
    """Provides the pass-mark style and nothing else."""

    @hookimpl
    def civic_decision_styles(self):
        return [PassMark()]


class GoodCity:
    """A plugin that works, registered beside broken ones."""

    @hookimpl
    def civic_rubrics(self):
        return [tiny_rubric("good-city")]


def host_with(*plugins: tuple[Any, str]) -> PluginHost:
    """A host with the pass-mark style, a working city and ``plugins`` (all registered)."""
    host = PluginHost()
    for plugin, name in [(Styles(), "styles"), *plugins, (GoodCity(), "good_city")]:
        assert host.register(plugin, name=name), host.failures
    return host


def assert_refused(host: PluginHost, name: str, *fragments: str) -> str:
    """``name`` is reported naming itself and each fragment, unregistered and left out."""
    why = host.failures[name]
    assert f"plugin {name!r}" in why
    for fragment in fragments:
        assert fragment in why, why
    assert name not in host.plugins
    assert host.pm.get_plugin(name) is None
    return why


def assert_others_work(host: PluginHost) -> None:
    assert [p.rubric.ref for p in host.rubrics()] == ["good-city@2024"]
    assert host.rubric("good-city").plugin == "good_city"
    assert isinstance(host.style("pass-mark"), DecisionStyle)
    assert host.aggregation("mean").combine([Decimal(1), Decimal(3)]) == Decimal(2)
    assert host.demos() == {}
    assert set(host.plugins) == {"core", "styles", "good_city"}


def _raise() -> Any:
    raise RuntimeError("the city's config server is down")


class NoDecide:
    name, version = "half-done", "1"

    def validate_rules(self, rubric):
        pass

    def check_application(self, rubric, level, self_total, facts):
        return []

    def preliminary(self, context, candidates):
        return []


class NamelessStyle(PassMark):
    name = 7  # type: ignore[assignment]


BROKEN_HOOKS = {
    "rubrics-raise": ("civic_rubrics", _raise, ["civic_rubrics raised RuntimeError", "config server is down"]),
    "rubrics-not-a-list": ("civic_rubrics", lambda: tiny_rubric("one"), ["civic_rubrics returned dict", "expected a list"]),
    "rubrics-a-string": ("civic_rubrics", lambda: ["tianjin"], ["civic_rubrics", "invalid rubric, item 0 (str 'tianjin')"]),
    "rubrics-twice": ("civic_rubrics", lambda: [tiny_rubric("twice")] * 2, ["civic_rubrics returns rubric 'twice@2024' twice"]),
    "styles-raise": ("civic_decision_styles", _raise, ["civic_decision_styles raised RuntimeError"]),
    "style-a-string": (
        "civic_decision_styles",
        lambda: ["threshold"],
        ["civic_decision_styles item 0 (str 'threshold') is not a decision style", "name must be a non-empty str"],
    ),
    "style-without-decide": (
        "civic_decision_styles",
        lambda: [NoDecide()],
        ["civic_decision_styles item 0", "missing method(s) ['decide']"],
    ),
    "style-without-a-str-name": ("civic_decision_styles", lambda: [NamelessStyle()], ["name must be a non-empty str"]),
    "aggregation-a-tuple": (
        "civic_aggregations",
        lambda: [("max", max)],
        ["civic_aggregations item 0 (tuple", "not a core.plugins.types.Aggregation"],
    ),
    "aggregation-not-callable": (
        "civic_aggregations",
        lambda: [Aggregation("max", "max")],
        ["civic_aggregations item 0", "callable combine"],
    ),
    "aggregations-raise": ("civic_aggregations", _raise, ["civic_aggregations raised RuntimeError"]),
    "demos-raise": ("civic_demos", _raise, ["civic_demos raised RuntimeError"]),
    "demo-a-dict": (
        "civic_demos",
        lambda: [{"name": "demo-city"}],
        ["civic_demos item 0 (dict", "not a core.plugins.types.Demo"],
    ),
    "demo-not-buildable": (
        "civic_demos",
        lambda: [Demo(name="demo-city", title="示例", stages=1, build=None, reader=None)],  # type: ignore[arg-type]
        ["civic_demos item 0", "callable build"],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_HOOKS))
def test_plugin_whose_hook_raises_or_returns_the_wrong_things_is_refused_and_the_others_work(case):
    hook, result, fragments = BROKEN_HOOKS[case]

    def implementation(self):
        return result()

    broken = type("Broken", (), {hook: hookimpl(implementation)})()
    host = host_with((broken, "broken"))
    assert "broken" in host.plugins  # refused when its contributions are first read
    assert_others_work(host)
    assert_refused(host, "broken", *fragments)


def test_broken_plugin_is_reported_by_discovery_and_civic_plugins_still_lists_the_others(monkeypatch, plugin_dir):
    broken = plugin_dir(
        """
        from core.plugins import hookimpl

        @hookimpl
        def civic_rubrics():
            return [{"id": "half-typed", "version": "2024"}]
        """
    )
    _fake_entry_points(monkeypatch, importlib.metadata.EntryPoint("half_typed", broken, ENTRY_POINT_GROUP))
    host = PluginHost.discover()
    # reported on discovery, before anything is looked up
    assert_refused(host, "half_typed", "civic_rubrics", "invalid rubric, rubric 'half-typed'", "title")
    assert set(host.plugins) == {"core", *INSTALLED}

    result = CliRunner().invoke(cli, ["plugins", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [p["name"] for p in listed["plugins"]] == ["core", *sorted(INSTALLED)]
    assert [f["name"] for f in listed["failures"]] == ["half_typed"]
    assert "plugin 'half_typed'" in listed["failures"][0]["error"]


def test_invalid_rubric_data_from_one_plugin_refuses_that_plugin_only():
    class Sloppy:
        @hookimpl
        def civic_rubrics(self):
            data = tiny_rubric()
            data["categories"][0]["max_points"] = 12  # the items add up to 10
            return [data]

    host = host_with((Sloppy(), "sloppy"))
    assert_others_work(host)
    assert_refused(host, "sloppy", "civic_rubrics", "invalid rubric", "'demo-city'", "declared maximum is 12")


def test_rubric_naming_a_style_nobody_provides_refuses_its_plugin_listing_available_styles():
    class City:
        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric(style="ranking")]

    host = host_with((City(), "city"))
    with pytest.raises(NotFound):
        host.rubric("demo-city")
    available = "available: ['checklist-by-type', 'pass-mark', 'quota-ranking', 'threshold']"
    assert_refused(host, "city", "civic_rubrics", "demo-city@2024", "'ranking'", available)
    assert_others_work(host)
    with pytest.raises(PluginError, match=f"decision style 'ranking'.*{re.escape(available)}"):
        host.style("ranking")


def test_rubric_naming_an_aggregation_nobody_provides_refuses_its_plugin():
    class City:
        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric(aggregation="trimmed-mean")]

    host = host_with((City(), "city"))
    assert_others_work(host)
    assert_refused(host, "city", "demo-city@2024", "aggregation 'trimmed-mean'", "available: ['mean', 'median', 'trimmed_mean']")


def test_rubric_rules_the_style_rejects_refuse_its_plugin():
    class City:
        @hookimpl
        def civic_rubrics(self):
            data = tiny_rubric()
            data["levels"][0]["rules"] = {"min_total": 11}  # more than the rubric's 10 points
            return [data]

    host = host_with((City(), "city"))
    assert_others_work(host)
    assert_refused(host, "city", "demo-city@2024", "'pass-mark' rejects its rules", "min_total 11 exceeds 10")


def test_style_failing_while_checking_rules_refuses_the_rubric_naming_the_style_plugin():
    class Fragile(PassMark):
        name = "fragile"

        def validate_rules(self, rubric):
            return rubric.levels[0].rules["bar"]  # KeyError, not the ValueError it should raise

    class City:
        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric(style="fragile")]

    class FragileStyles:
        @hookimpl
        def civic_decision_styles(self):
            return [Fragile()]

    host = host_with((FragileStyles(), "fragile_styles"), (City(), "city"))
    assert [p.rubric.ref for p in host.rubrics()] == ["good-city@2024"]
    assert_refused(host, "city", "demo-city@2024", "'fragile' (plugin 'fragile_styles')", "KeyError")
    assert "fragile" in host.styles()


def test_refusing_a_plugin_also_refuses_rubrics_that_needed_its_style():
    class Dependent:  # registered first: its rubric is fine until Shaky is refused
        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric("dependent", style="shaky-mark")]

    class ShakyMark(PassMark):
        name = "shaky-mark"

    class Shaky:
        @hookimpl
        def civic_rubrics(self):
            data = tiny_rubric("shaky", style="shaky-mark")
            data["levels"][0]["rules"] = {}  # its own style rejects it
            return [data]

        @hookimpl
        def civic_decision_styles(self):
            return [ShakyMark()]

    host = host_with((Dependent(), "dependent"), (Shaky(), "shaky"))
    assert_others_work(host)
    assert_refused(host, "shaky", "shaky@2024", "rules.min_total is required")
    assert_refused(host, "dependent", "dependent@2024", "'shaky-mark', which no plugin provides")


# --------------------------------------------------------------------------------------
# Conflicts between plugins are the operator's to resolve
# --------------------------------------------------------------------------------------


def test_two_plugins_providing_one_rubric_id_is_an_error_naming_both():
    class CityA:
        @hookimpl
        def civic_rubrics(self):
            return [tiny_rubric("shared-id")]

    class CityB:
        @hookimpl
        def civic_rubrics(self):
            data = tiny_rubric("shared-id")
            data["version"] = "2025"  # even another version of the same id
            return [data]

    host = PluginHost()
    for plugin, name in [(Styles(), "styles"), (CityA(), "city_a"), (CityB(), "city_b")]:
        assert host.register(plugin, name=name)
    with pytest.raises(PluginError) as caught:
        host.rubrics()
    message = str(caught.value)
    assert "shared-id" in message and "city_a" in message and "city_b" in message
    assert host.failures == {}  # a conflict refuses neither: the operator picks


# --------------------------------------------------------------------------------------
# Every hook is specified with an example and exercised by a test
# --------------------------------------------------------------------------------------


def _hook_specs() -> dict[str, Any]:
    return {name: getattr(hookspecs, name) for name in dir(hookspecs) if name.startswith("civic_")}


def _test_function_sources(skip: str) -> dict[str, str]:
    """``file::function`` -> source text of every test function under tests/, except ``skip``."""
    sources: dict[str, str] = {}
    for path in sorted(TESTS_DIR.glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                if node.name != skip:
                    sources[f"{path.name}::{node.name}"] = ast.get_source_segment(text, node) or ""
    return sources


def test_plugin_hooks_have_examples_and_tests():
    """In the spirit of datasette's test_plugin_hooks_have_tests: a new hook in hookspecs.py
    fails here until it is documented with an example and a test mentions it by name."""
    specs = _hook_specs()
    assert len(specs) >= 4
    sources = _test_function_sources(skip=inspect.currentframe().f_code.co_name)
    undocumented = [name for name, fn in specs.items() if "Example" not in (fn.__doc__ or "")]
    assert undocumented == [], f"hooks without an 'Example' in their docstring: {undocumented}"
    untested = [name for name in specs if not any(name in src for src in sources.values())]
    assert untested == [], f"hooks no test function mentions: {untested}"
    # and this module, the plugin interface's own tests, exercises every one of them
    here = {k: v for k, v in sources.items() if k.startswith(Path(__file__).name + "::")}
    assert [name for name in specs if not any(name in src for src in here.values())] == []


def test_civic_rubrics_hook_provides_validated_rubrics():
    class City:
        @hookimpl
        def civic_rubrics(self):
            # a Rubric instance or plain data: both are accepted and validated
            return [Rubric.model_validate(tiny_rubric("city-a")), tiny_rubric("city-b")]

        @hookimpl
        def civic_decision_styles(self):
            return [PassMark()]

    host = PluginHost()
    assert host.register(City(), name="city")
    assert [p.rubric.ref for p in host.rubrics()] == ["city-a@2024", "city-b@2024"]
    assert all(p.plugin == "city" for p in host.rubrics())
    assert host.rubric("city-b").rubric.max_total == Decimal(10)
    with pytest.raises(NotFound, match="rubric nowhere not found; known: city-a@2024, city-b@2024"):
        host.rubric("nowhere")


def test_civic_decision_styles_hook_provides_styles_and_refuses_duplicates():
    class City:
        @hookimpl
        def civic_decision_styles(self):
            return [PassMark()]

    class Copycat:
        @hookimpl
        def civic_decision_styles(self):
            return [PassMark()]

    host = PluginHost()
    assert host.register(City(), name="city")
    style = host.style("pass-mark")
    assert isinstance(style, DecisionStyle)
    assert host.register(Copycat(), name="copycat")
    with pytest.raises(PluginError, match="'pass-mark' is provided by both plugin 'city' and plugin 'copycat'"):
        host.styles()


# --------------------------------------------------------------------------------------
# The core's built-in decision styles
# --------------------------------------------------------------------------------------


def _no_entry_points(monkeypatch) -> None:
    """Make the host see no plugin installed under the civic.plugins entry-point group."""
    import core.plugins.manager as manager

    real = importlib.metadata.entry_points
    monkeypatch.setattr(
        manager.importlib.metadata,
        "entry_points",
        lambda **params: [] if params.get("group") == ENTRY_POINT_GROUP else real(**params),
    )


def test_a_host_with_no_plugin_installed_provides_exactly_the_three_builtin_styles(monkeypatch):
    """Threshold, checklist and quota decisions can be recomputed with the core alone."""
    _no_entry_points(monkeypatch)
    for host in (PluginHost(), fresh_host(), PluginHost.discover()):
        assert set(host.plugins) == {"core"} and host.failures == {}
        assert {name: (type(style), style.version) for name, style in host.styles().items()} == {
            "threshold": (ThresholdStyle, "2"),
            "checklist-by-type": (ChecklistByTypeStyle, "2"),
            "quota-ranking": (QuotaRankingStyle, "2"),
        }
        assert host.provided_by("core") == {"styles": sorted(BUILTIN_STYLE_NAMES), "aggregations": ["mean", "median", "trimmed_mean"]}
    assert [s.name for s in BUILTIN_STYLES] == ["threshold", "checklist-by-type", "quota-ranking"]


def test_a_plugin_providing_a_builtin_style_name_is_an_error_naming_the_core():
    class Threshold(PassMark):
        name = "threshold"

    class Copycat:
        @hookimpl
        def civic_decision_styles(self):
            return [Threshold()]

    host = PluginHost()
    assert host.register(Copycat(), name="copycat")
    with pytest.raises(PluginError, match="decision style 'threshold' is provided by both plugin 'core' and plugin 'copycat'"):
        host.styles()


def test_civic_plugins_says_the_core_provides_the_styles_the_in_repo_rubrics_name(monkeypatch):
    def listed() -> dict[str, dict[str, Any]]:
        result = CliRunner().invoke(cli, ["plugins", "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["failures"] == []
        return {row["name"]: row for row in data["plugins"]}

    rows = listed()
    core = rows.pop("core")
    assert core["source"] == "core (built in)" and core["rubrics"] == []
    assert core["hooks"] == ["civic_aggregations", "civic_decision_styles"]
    assert core["styles"] == sorted(BUILTIN_STYLE_NAMES) and core["aggregations"] == ["mean", "median", "trimmed_mean"]
    assert set(rows) == INSTALLED
    for row in rows.values():  # the in-repo plugins provide rubrics that name the core's styles
        assert row["styles"] == [] and "civic_decision_styles" not in row["hooks"], row
    used = {PluginHost.discover().rubric(ref.split("@")[0]).rubric.style for row in rows.values() for ref in row["rubrics"]}
    assert used == BUILTIN_STYLE_NAMES

    _no_entry_points(monkeypatch)
    assert listed() == {"core": core}


def test_decisions_of_the_in_repo_demos_verify_on_a_host_with_no_plugin_installed(tmp_path):
    """An auditor holding the store and the core, without the plugins that built it,
    recomputes every threshold, checklist and quota decision and confirms it."""
    url = f"sqlite:///{tmp_path / 'demos.sqlite3'}"
    built = CivicLedger(url, plugins=PluginHost.discover())
    try:
        demos = built.plugins.demos()
        campaigns = {name: demo.build(built, lambda _: None) for name, (demo, _plugin) in demos.items()}
        styles = {name: built.rubric_of(built.campaign(demo.reader, campaigns[name])).style for name, (demo, _) in demos.items()}
    finally:
        built.close()
    assert set(styles.values()) == BUILTIN_STYLE_NAMES

    auditor = actor(Role.AUDITOR, "auditor", "审计", "*")
    bare = CivicLedger(url, plugins=PluginHost())
    try:
        assert set(bare.plugins.plugins) == {"core"}
        for name, campaign_id in campaigns.items():
            verdicts = bare.verify_decisions(auditor, campaign_id)
            assert verdicts, name
            assert [(v.community, v.status, v.differences) for v in verdicts if v.status != "confirmed"] == [], name
    finally:
        bare.close()


def test_civic_aggregations_hook_adds_an_aggregation_to_the_core_ones():
    class Strict:
        @hookimpl
        def civic_aggregations(self):
            return [Aggregation("min", lambda points: min(points), "the strictest assessor")]

    host = PluginHost()
    with pytest.raises(PluginError, match="aggregation 'min' is not provided.*available: \\['mean', 'median', 'trimmed_mean'\\]"):
        host.aggregation("min")
    assert host.register(Strict(), name="strict")
    points = [Fraction(5, 2), Fraction(3, 2), Fraction(3)]
    assert host.aggregation("min").combine(points) == Fraction(3, 2)
    assert host.aggregation("mean").combine(points) == Fraction(7, 3)  # exact, not a rounded decimal
    assert host.aggregation("median").combine(points) == Fraction(5, 2)

    class Again:
        @hookimpl
        def civic_aggregations(self):
            return [Aggregation("min", min)]

    assert host.register(Again(), name="again")
    with pytest.raises(PluginError, match="aggregation 'min' is provided by both plugin 'strict' and plugin 'again'"):
        host.aggregation("min")


def test_civic_default_schedule_hook_gives_the_dongli_schedule_for_tianjin_only(plugins):
    import plugins.tianjin_meili as tianjin

    rubric = tianjin_rubric(plugins)
    schedule = plugins.default_schedule(rubric, 2020)
    assert len(schedule) == 12 and all(isinstance(p, PhaseSpec) for p in schedule)
    assert [p.id for p in schedule][:2] == ["plan", "application"]
    assert (schedule[1].start, schedule[1].end) == ("2020-03-01", "2020-03-12")
    assert (schedule[-1].id, schedule[-1].end) == ("supervision", "2021-11-30")
    assert [p.start[:4] for p in plugins.default_schedule(rubric, 2023)] == ["2023"] * 12

    other = Rubric.model_validate(tiny_rubric("elsewhere"))
    assert tianjin.civic_default_schedule(rubric=other, year=2020) is None
    assert plugins.pm.hook.civic_default_schedule(rubric=other, year=2020) is None
    assert plugins.default_schedule(other, 2020) == []


class Meddler:
    """Answers civic_default_schedule for every rubric, with a schedule no one asked it for."""

    @hookimpl
    def civic_default_schedule(self, rubric, year):
        return [{"id": "meddle", "label": "插手", "start": f"{year}-01-01", "end": "someday"}]


def test_civic_default_schedule_is_asked_of_the_plugin_providing_the_rubric_only():
    host = PluginHost()
    assert host.register(DemoCity(), name="demo_city")
    assert host.register(Meddler(), name="meddler")  # registered last: pluggy would ask it first
    assert host.register(GoodCity(), name="good_city")  # a rubric without a schedule

    rubric = host.rubric("demo-city").rubric
    assert host.pm.hook.civic_default_schedule(rubric=rubric, year=2024)[0]["id"] == "meddle"
    schedule = host.default_schedule(rubric, 2024)
    assert [(p.id, p.start, p.end) for p in schedule] == [
        ("apply", "2024-03-01", "2024-03-31"),
        ("notice", "2024-10-01", "2024-10-07"),
    ]
    # the owner has no civic_default_schedule: no schedule, whoever else answers
    assert host.default_schedule(host.rubric("good-city").rubric, 2024) == []
    # a rubric no plugin provides: nobody is asked
    assert host.default_schedule(Rubric.model_validate(tiny_rubric("nowhere")), 2024) == []
    assert host.failures == {}


@pytest.mark.parametrize(
    "returned, fragments",
    [
        (
            lambda year: [
                PhaseSpec(id="apply", label="申报", kind="application", start=f"{year}-03-01", end=f"{year}-03-31"),
                {"id": "notice", "label": "公示", "start": f"{year}-10-01", "end": "October"},
            ],
            ["invalid phase 1", "'notice'", "end: String should match pattern"],
        ),
        (lambda year: ["apply"], ["invalid phase 0 (str 'apply')"]),
        (lambda year: {"id": "apply"}, ["returned dict", "expected a list of PhaseSpec"]),
        (lambda year: _raise(), ["raised RuntimeError", "config server is down"]),
    ],
    ids=["bad-date", "a-string", "not-a-list", "raises"],
)
def test_civic_default_schedule_bad_answer_is_a_plugin_error_naming_the_plugin_and_phase(returned, fragments):
    class City(GoodCity):
        @hookimpl
        def civic_default_schedule(self, rubric, year):
            return returned(year)

    host = PluginHost()
    assert host.register(Styles(), name="styles") and host.register(City(), name="city")
    with pytest.raises(PluginError) as caught:
        host.default_schedule(host.rubric("good-city").rubric, 2024)
    message = str(caught.value)
    assert "plugin 'city': civic_default_schedule for rubric good-city@2024 and year 2024" in message
    for fragment in fragments:
        assert fragment in message, message


def _demo(name: str) -> Demo:
    return Demo(name=name, title="示例社区评选演示", stages=1, build=lambda app, step: "campaign-id", reader=None)


def test_civic_demos_hook_provides_demos_by_name():
    demo = _demo("demo-city")

    class City(DemoCity):
        @hookimpl
        def civic_demos(self):
            return [demo, _demo("demo-city-small")]

    host = PluginHost()
    assert host.demos() == {}
    assert host.register(City(), name="demo_city")
    assert "civic_demos" in host.plugins["demo_city"].hooks
    demos = host.demos()
    assert sorted(demos) == ["demo-city", "demo-city-small"]
    assert demos["demo-city"] == (demo, "demo_city")
    assert demos["demo-city"][0].build(None, print) == "campaign-id"
    assert host.failures == {}


def test_one_demo_name_from_two_plugins_is_an_error_naming_both():
    class First:
        @hookimpl
        def civic_demos(self):
            return [_demo("shared-demo")]

    class Second:
        @hookimpl
        def civic_demos(self):
            return [_demo("other-demo"), _demo("shared-demo")]

    host = host_with((First(), "first"), (Second(), "second"))
    with pytest.raises(PluginError, match="demo 'shared-demo' is provided by both plugin 'first' and plugin 'second'"):
        host.demos()
    assert host.failures == {}
    assert [p.rubric.ref for p in host.rubrics()] == ["good-city@2024"]  # demos do not hold up rubrics


def test_one_plugin_returning_a_demo_name_twice_is_refused():
    class Twice:
        @hookimpl
        def civic_demos(self):
            return [_demo("again"), _demo("again")]

    host = host_with((Twice(), "twice"))
    assert_others_work(host)
    assert_refused(host, "twice", "civic_demos returns demo 'again' twice")


# --------------------------------------------------------------------------------------
# The core runs a whole campaign on a plugin that is not Tianjin's
# --------------------------------------------------------------------------------------


class DemoCity:
    """A complete, tiny city plugin: rubric, style, aggregation and schedule."""

    __version__ = "0.0.1"
    CIVIC_PLUGIN_API = PLUGIN_API_VERSION

    @hookimpl
    def civic_rubrics(self):
        return [tiny_rubric("demo-city", aggregation="min")]

    @hookimpl
    def civic_decision_styles(self):
        return [PassMark()]

    @hookimpl
    def civic_aggregations(self):
        return [Aggregation("min", lambda points: min(points), "the strictest assessor")]

    @hookimpl
    def civic_default_schedule(self, rubric, year):
        if rubric.id != "demo-city":
            return None
        return [
            PhaseSpec(id="apply", label="申报", kind="application", start=f"{year}-03-01", end=f"{year}-03-31"),
            PhaseSpec(id="notice", label="公示", kind="notice", start=f"{year}-10-01", end=f"{year}-10-07"),
        ]


def test_a_campaign_runs_end_to_end_on_a_non_tianjin_plugin():
    """civic_rubrics, civic_decision_styles, civic_aggregations and civic_default_schedule of
    one small plugin are all the core needs; no Tianjin code is registered."""
    host = PluginHost()
    assert host.register(DemoCity(), name="demo_city")
    assert set(host.plugins) == {"core", "demo_city"} and host.failures == {}
    with pytest.raises(NotFound):
        host.rubric(TIANJIN)

    tenant = "demo"
    owner = actor(Role.CITY_OWNER, "owner", "示例市民政局", tenant)
    district = actor(Role.DISTRICT_OFFICER, "district", "示例区民政局", tenant)
    street = actor(Role.STREET_OFFICER, "street", "示例街道", tenant)
    assessors = [actor(Role.ASSESSOR, f"assessor-{n}", "评估组", tenant) for n in (1, 2)]
    resident = actor(Role.RESIDENT, "resident", "居民", tenant)

    clock = [dt.date(2024, 3, 1)]  # nothing may be recorded ahead of "today"
    app = CivicLedger("memory://", plugins=host, today=lambda: clock[0])
    try:
        app.register_tenant(owner, tenant, "示例市")
        east = app.register_community(district, "east", "东苑社区", "示例区", "示例街道", 800, 2000)
        west = app.register_community(district, "west", "西苑社区", "示例区", "示例街道", 600, 1500)
        campaign_id = app.create_campaign(owner, "demo-2024", "2024年示例社区评选", 2024, "demo-city")
        campaign = app.campaign(owner, campaign_id)
        assert campaign.rubric["id"] == "demo-city"
        assert [p["id"] for p in campaign.schedule] == ["apply", "notice"]  # from civic_default_schedule
        app.open_campaign(owner, campaign_id, on="2024-03-01")
        clock[0] = dt.date(2024, 10, 10)

        with pytest.raises(RuleViolation, match="below the pass mark 8"):  # the style's gate
            app.apply(street, campaign_id, east, "good", {"1": "3", "2": "2"}, on="2024-03-05")
        a = app.apply(street, campaign_id, east, "good", {"1": "6", "2": "3"}, on="2024-03-05")
        b = app.apply(street, campaign_id, west, "good", {"1": "5", "2": "4"}, on="2024-03-06")
        for cid in (a, b):
            app.review(district, cid, "approve", on="2024-03-10")

        sheets = {
            a: [{"1": "6", "2": "4"}, {"1": "5", "2": "3.5"}],  # min: 5 + 3.5 = 8.5 (mean would be 9.25)
            b: [{"1": "4", "2": "4"}, {"1": "6", "2": "2"}],  # min: 4 + 2 = 6 (mean would be 8)
        }
        for cid, pair in sheets.items():
            for assessor, scores in zip(assessors, pair):
                assert app.submit_score_sheet(assessor, cid, "official", scores, on="2024-09-15") == 2
            app.record_survey(owner, cid, respondents=50, households=50, satisfied=45,
                              basically_satisfied=4, dissatisfied=1, on="2024-09-20")

        assert app.open_public_notice(owner, campaign_id, "2024-10-01", "2024-10-07", on="2024-10-01") == [a]
        objection = app.file_objection(resident, a, "绿地有死角", ["2"], on="2024-10-03")
        app.resolve_objection(owner, a, objection, False, "复核不属实", on="2024-10-05")
        app.close_public_notice(owner, campaign_id, on="2024-10-08")
        assert app.decide(owner, campaign_id, on="2024-10-10") == {a: True, b: False}

        named = app.candidacy(owner, a)
        derivation = named.decision["derivation"]
        assert derivation["style"] == {"name": "pass-mark", "version": "1"}
        assert Fraction(derivation["outcome"]["total"]) == Fraction(17, 2)  # the style is given the exact total
        assert derivation["rubric"]["hash"] == host.rubric("demo-city").rubric.content_hash
        assert app.community(owner, east).held_levels() == ["good"]
        not_named = app.candidacy(owner, b).decision["derivation"]
        assert not_named["reasons"] == ["total 6 is below the pass mark 8", "未列入公示名单 (not on the public notice list)"]
        assert app.community(owner, west).held_levels() == []
    finally:
        app.close()

"""The plugin host: discovers plugins, refuses broken ones, and indexes what they provide."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pluggy
from pydantic import ValidationError

from core import __version__ as core_version
from core.errors import NotFound, PluginError
from core.exact import exact
from core.plugins import builtins, hookspecs
from core.plugins.builtins import BUILT_IN_AGGREGATIONS
from core.plugins.contributions import Contributions, Refused, collect, describe, explain
from core.plugins.types import PLUGIN_API_VERSION, Aggregation, DecisionStyle, Demo, PhaseSpec
from core.rubric import Rubric, TrimmedMean

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "civic.plugins"
PROJECT = "civic"


@dataclass
class PluginInfo:
    name: str
    source: str
    version: str
    hooks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProvidedRubric:
    rubric: Rubric
    plugin: str


class PluginHost:
    """A pluggy manager with the civic hook specifications and registries built from it.

    Broken plugins (failing import, unknown hooks, an incompatible ``CIVIC_PLUGIN_API``, a
    hook that raises or returns the wrong things, a rubric whose style or aggregation is
    missing or whose rules its style rejects) are recorded in :attr:`failures` and skipped;
    the others keep working. Two plugins providing one rubric id, style, aggregation or demo
    name is a :class:`PluginError` naming both.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: dict[str, str] = {}
        self._indexed: _Index | None = None
        self.register(builtins, name="core", source="core (built in)", version=core_version)

    # -- loading ---------------------------------------------------------------

    @classmethod
    def discover(cls) -> PluginHost:
        """A host with every plugin installed under the ``civic.plugins`` entry-point group.

        Their contributions are read at once, so :attr:`failures` reports the broken ones
        before anything is looked up.
        """
        host = cls()
        host.load_entry_points()
        try:
            host._index()
        except PluginError:
            pass  # a conflict between two plugins: every lookup reports it
        return host

    def load_entry_points(self) -> None:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the platform down
                self._fail(ep.name, f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}")
                continue
            self.register(plugin, name=ep.name, source=f"entry point {ep.value} ({dist} {version})", version=version)

    def register(self, plugin: Any, name: str, source: str = "registered in code", version: str = "") -> bool:
        """Register one plugin; returns False (and records why) when it is refused."""
        if name in self.plugins:
            self._fail(name, f"another plugin is already registered under the name {name!r}")
            return False
        api = getattr(plugin, "CIVIC_PLUGIN_API", PLUGIN_API_VERSION)
        if api != PLUGIN_API_VERSION:
            self._fail(name, f"built for plugin interface {api!r}; this platform provides {PLUGIN_API_VERSION}")
            return False
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._fail(name, f"registration failed: {exc}")
            return False
        unknown = [hook for hook in self._hook_names(name) if hook not in self._spec_names()]
        if unknown:
            self.pm.unregister(name=name)
            self._fail(name, f"implements unknown hook(s) {sorted(unknown)}; known hooks: {sorted(self._spec_names())}")
            return False
        if not version:
            version = str(getattr(plugin, "__version__", ""))
        self.plugins[name] = PluginInfo(
            name=name,
            source=source,
            version=version,
            hooks=self._hook_names(name),
        )
        self._indexed = None
        return True

    def _fail(self, name: str, why: str) -> None:
        log.warning("plugin %s refused: %s", name, why)
        self.failures[name] = why

    def _spec_names(self) -> set[str]:
        return {n for n in dir(hookspecs) if n.startswith("civic_")}

    def _hook_names(self, name: str) -> list[str]:
        callers = self.pm.get_hookcallers(self.pm.get_plugin(name)) or []
        return sorted(caller.name for caller in callers)

    # -- registries ------------------------------------------------------------

    def _index(self) -> _Index:
        """Collect every plugin's contributions, one plugin at a time.

        A plugin whose hook raises or returns something that is not what the hook promises,
        or whose rubric names a style or aggregation nobody provides (or rules its style
        rejects), is refused: recorded in :attr:`failures`, unregistered, and left out.
        Two plugins providing one rubric id, style name or aggregation name is a
        :class:`PluginError` naming both: a configuration the operator must resolve.
        """
        if self._indexed is not None:
            return self._indexed
        collected: list[Contributions] = []
        for name in list(self.plugins):
            try:
                collected.append(collect(self.pm, name))
            except Refused as exc:
                self._refuse(name, str(exc))
            except Exception as exc:  # e.g. an attribute of a returned object raising on access
                self._refuse(name, f"plugin {name!r}: checking its contributions failed: {type(exc).__name__}: {exc}")
        _unique("rubric id", ((r.id, c.plugin) for c in collected for r in c.rubrics))
        _unique("decision style", ((s.name, c.plugin) for c in collected for s in c.styles))
        _unique("aggregation", ((a.name, c.plugin) for c in collected for a in c.aggregations))
        # Refusing a plugin can take away a style or aggregation another plugin's rubric
        # uses, so the links are checked again until every remaining rubric is satisfied.
        while (refused := self._first_unusable_rubric(collected)) is not None:
            contributions, why = refused
            collected.remove(contributions)
            self._refuse(contributions.plugin, why)
        self._indexed = _Index(
            rubrics={(r.id, r.version): ProvidedRubric(r, c.plugin) for c in collected for r in c.rubrics},
            styles={s.name: s for c in collected for s in c.styles},
            aggregations={a.name: a for c in collected for a in c.aggregations},
            demos=[(d, c.plugin) for c in collected for d in c.demos],
            providers={
                c.plugin: {"styles": sorted(s.name for s in c.styles), "aggregations": sorted(a.name for a in c.aggregations)}
                for c in collected
            },
        )
        return self._indexed

    def _refuse(self, name: str, why: str) -> None:
        """Unregister a registered plugin whose contributions are unusable."""
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.plugins.pop(name, None)
        self._fail(name, why)

    def _first_unusable_rubric(self, collected: list[Contributions]) -> tuple[Contributions, str] | None:
        styles = {s.name: (s, c.plugin) for c in collected for s in c.styles}
        aggregations = {a.name for c in collected for a in c.aggregations}
        for contributions in collected:
            for rubric in contributions.rubrics:
                why = self._link_problem(contributions.plugin, rubric, styles, aggregations)
                if why:
                    return contributions, why
        return None

    @staticmethod
    def _link_problem(
        plugin: str, rubric: Rubric, styles: dict[str, tuple[DecisionStyle, str]], aggregations: set[str]
    ) -> str | None:
        """Why ``rubric`` (provided by ``plugin``) cannot be used, or None."""
        where = f"plugin {plugin!r}: civic_rubrics: rubric {rubric.ref}"
        if rubric.style not in styles:
            return f"{where} uses decision style {rubric.style!r}, which no plugin provides; available: {sorted(styles)}"
        if rubric.aggregation_name not in aggregations:
            return (
                f"{where} uses aggregation {rubric.aggregation_name!r}, which no plugin provides; "
                f"available: {sorted(aggregations)}"
            )
        style, style_plugin = styles[rubric.style]
        try:
            style.validate_rules(rubric)
        except ValueError as exc:
            return f"{where}: its decision style {rubric.style!r} rejects its rules: {exc}"
        except Exception as exc:
            return (
                f"{where}: decision style {rubric.style!r} (plugin {style_plugin!r}) failed checking its rules: "
                f"{type(exc).__name__}: {exc}"
            )
        return None

    def rubrics(self) -> list[ProvidedRubric]:
        return sorted(self._index().rubrics.values(), key=lambda p: (p.rubric.id, p.rubric.version))

    def rubric(self, rubric_id: str, version: str | None = None) -> ProvidedRubric:
        """A provided rubric by id, at ``version`` or the highest version."""
        provided = self._index().rubrics
        matches = [p for (rid, _), p in provided.items() if rid == rubric_id]
        if version is not None:
            matches = [p for p in matches if p.rubric.version == version]
        if not matches:
            known = sorted({f"{rid}@{ver}" for rid, ver in provided})
            raise NotFound("rubric", f"{rubric_id}@{version}" if version else rubric_id, known=known)
        return max(matches, key=lambda p: _version_key(p.rubric.version))

    def style(self, name: str) -> DecisionStyle:
        styles = self._index().styles
        if name not in styles:
            raise PluginError(f"decision style {name!r} is not provided by any installed plugin; available: {sorted(styles)}")
        return styles[name]

    def aggregation(self, name: str) -> Aggregation:
        aggs = self._index().aggregations
        if name not in aggs:
            raise PluginError(f"aggregation {name!r} is not provided by any installed plugin; available: {sorted(aggs)}")
        return aggs[name]

    def combiner(self, rubric: Rubric) -> Callable[[list[Fraction]], Fraction]:
        """The rubric's aggregation over assessors as a function of exact points giving an
        exact result (a ``trimmed_mean`` with the rubric's parameters; a plugin's
        aggregation with its result taken exactly)."""
        spec = rubric.aggregation
        combine = self.aggregation(rubric.aggregation_name).combine
        if isinstance(spec, TrimmedMean):
            return functools.partial(combine, drop=spec.drop, min_count=spec.min_count)
        if rubric.aggregation_name in BUILT_IN_AGGREGATIONS:
            return combine
        return lambda points: exact(combine(points))

    def styles(self) -> dict[str, DecisionStyle]:
        return dict(self._index().styles)

    def provided_by(self, plugin: str) -> dict[str, list[str]]:
        """The names of the decision styles and aggregations ``plugin`` provides (``core``
        for the built-in ones), as ``{"styles": [...], "aggregations": [...]}``."""
        return self._index().providers.get(plugin, {"styles": [], "aggregations": []})

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """Every plugin (the core's built-ins as ``core``) with its version, origin, hooks,
        rubrics, styles and aggregations, and the refused ones with why (`civic plugins
        --json`, ``GET /plugins``)."""
        provided = self.rubrics()
        rows = [
            {
                "name": info.name,
                "version": info.version,
                "source": info.source,
                "hooks": info.hooks,
                "rubrics": [p.rubric.ref for p in provided if p.plugin == info.name],
                **self.provided_by(info.name),
            }
            for info in self.plugins.values()
        ]
        return {"plugins": rows, "failures": [{"name": n, "error": why} for n, why in self.failures.items()]}

    def demos(self) -> dict[str, tuple[Demo, str]]:
        """Demo name -> (demo, the plugin providing it). Two plugins providing one demo name
        is a :class:`PluginError` naming both (raised here only: it does not affect rubrics)."""
        found: dict[str, tuple[Demo, str]] = {}
        for demo, plugin in self._index().demos:
            if demo.name in found:
                raise PluginError(
                    f"demo {demo.name!r} is provided by both plugin {found[demo.name][1]!r} and plugin {plugin!r}"
                )
            found[demo.name] = (demo, plugin)
        return found

    def default_schedule(self, rubric: Rubric, year: int) -> list[PhaseSpec]:
        """The default schedule from the plugin that provides ``rubric.id`` (and from no
        other); [] for a rubric no plugin provides or whose plugin has no schedule."""
        owner = next((p.plugin for (rid, _), p in self._index().rubrics.items() if rid == rubric.id), None)
        if owner is None:
            return []
        impl = next(
            (i for i in self.pm.hook.civic_default_schedule.get_hookimpls() if i.plugin_name == owner), None
        )
        if impl is None:
            return []
        where = f"plugin {owner!r}: civic_default_schedule for rubric {rubric.ref} and year {year}"
        try:
            raw = impl.function(rubric=rubric, year=year)
        except Exception as exc:
            raise PluginError(f"{where} raised {type(exc).__name__}: {exc}") from exc
        if raw is None:
            return []
        if not isinstance(raw, (list, tuple)):
            raise PluginError(f"{where} returned {describe(raw)}; expected a list of PhaseSpec")
        phases: list[PhaseSpec] = []
        for i, phase in enumerate(raw):
            if isinstance(phase, PhaseSpec):
                phases.append(phase)
                continue
            try:
                phases.append(PhaseSpec.model_validate(phase))
            except (ValidationError, ValueError, TypeError) as exc:
                raise PluginError(f"{where} returned an invalid phase {i} ({describe(phase)}): {explain(exc)}") from exc
        return phases


@dataclass(frozen=True)
class _Index:
    rubrics: dict[tuple[str, str], ProvidedRubric]
    styles: dict[str, DecisionStyle]
    aggregations: dict[str, Aggregation]
    demos: list[tuple[Demo, str]]
    providers: dict[str, dict[str, list[str]]]  # plugin -> {"styles": names, "aggregations": names}


def _unique(kind: str, pairs: Any) -> dict[str, str]:
    """name -> plugin; a name from two plugins is a PluginError naming both."""
    owner: dict[str, str] = {}
    for name, plugin in pairs:
        first = owner.setdefault(name, plugin)
        if first != plugin:
            raise PluginError(f"{kind} {name!r} is provided by both plugin {first!r} and plugin {plugin!r}")
    return owner


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in version.replace("-", ".").split("."))

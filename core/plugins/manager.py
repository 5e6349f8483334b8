"""The plugin host: discovers plugins, refuses broken ones, and indexes what they provide."""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ValidationError

from core.errors import NotFound, PluginError
from core.plugins import builtins, hookspecs
from core.plugins.types import PLUGIN_API_VERSION, Aggregation, DecisionStyle, PhaseSpec
from core.rubric import Rubric

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

    Broken plugins (failing import, unknown hooks, an incompatible ``CIVIC_PLUGIN_API``)
    are recorded in :attr:`failures` and skipped; the others keep working. Two plugins
    providing one rubric id, style or aggregation name is a :class:`PluginError`.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: dict[str, str] = {}
        self._indexed: tuple[dict[tuple[str, str], ProvidedRubric], dict[str, DecisionStyle], dict[str, Aggregation]] | None = None
        self.register(builtins, name="core", source="core")

    # -- loading ---------------------------------------------------------------

    @classmethod
    def discover(cls) -> PluginHost:
        """A host with every plugin installed under the ``civic.plugins`` entry-point group."""
        host = cls()
        host.load_entry_points()
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

    def _index(self):  # type: ignore[no-untyped-def]
        if self._indexed is not None:
            return self._indexed
        rubrics: dict[tuple[str, str], ProvidedRubric] = {}
        owners: dict[str, str] = {}
        styles: dict[str, DecisionStyle] = {}
        aggregations: dict[str, Aggregation] = {}
        for impl in self.pm.hook.civic_rubrics.get_hookimpls():
            plugin_name = self.pm.get_name(impl.plugin) or "?"
            for raw in impl.function() or []:
                rubric = self._as_rubric(raw, plugin_name)
                owner = owners.setdefault(rubric.id, plugin_name)
                if owner != plugin_name:
                    raise PluginError(
                        f"rubric id {rubric.id!r} is provided by both plugin {owner!r} and plugin {plugin_name!r}"
                    )
                if (rubric.id, rubric.version) in rubrics:
                    raise PluginError(f"plugin {plugin_name!r} provides rubric {rubric.ref} twice")
                rubrics[(rubric.id, rubric.version)] = ProvidedRubric(rubric, plugin_name)
        style_owner: dict[str, str] = {}
        for impl in self.pm.hook.civic_decision_styles.get_hookimpls():
            plugin_name = self.pm.get_name(impl.plugin) or "?"
            for style in impl.function() or []:
                if style.name in styles:
                    raise PluginError(
                        f"decision style {style.name!r} is provided by both plugin "
                        f"{style_owner[style.name]!r} and plugin {plugin_name!r}"
                    )
                styles[style.name] = style
                style_owner[style.name] = plugin_name
        for impl in self.pm.hook.civic_aggregations.get_hookimpls():
            for agg in impl.function() or []:
                if agg.name in aggregations:
                    raise PluginError(f"aggregation {agg.name!r} is provided twice")
                aggregations[agg.name] = agg
        for provided in rubrics.values():
            self._check_rubric_links(provided, styles, aggregations)
        self._indexed = (rubrics, styles, aggregations)
        return self._indexed

    @staticmethod
    def _as_rubric(raw: Any, plugin_name: str) -> Rubric:
        if isinstance(raw, Rubric):
            return raw
        try:
            return Rubric.model_validate(raw)
        except ValidationError as exc:
            raise PluginError(f"plugin {plugin_name!r} provides an invalid rubric: {exc}") from exc

    @staticmethod
    def _check_rubric_links(provided: ProvidedRubric, styles: dict[str, Any], aggregations: dict[str, Any]) -> None:
        rubric = provided.rubric
        if rubric.style not in styles:
            raise PluginError(
                f"rubric {rubric.ref} (plugin {provided.plugin!r}) uses decision style {rubric.style!r}, "
                f"which no plugin provides; available: {sorted(styles)}"
            )
        if rubric.aggregation not in aggregations:
            raise PluginError(
                f"rubric {rubric.ref} uses aggregation {rubric.aggregation!r}; available: {sorted(aggregations)}"
            )
        try:
            styles[rubric.style].validate_rules(rubric)
        except ValueError as exc:
            raise PluginError(f"rubric {rubric.ref} (plugin {provided.plugin!r}): {exc}") from exc

    def rubrics(self) -> list[ProvidedRubric]:
        return sorted(self._index()[0].values(), key=lambda p: (p.rubric.id, p.rubric.version))

    def rubric(self, rubric_id: str, version: str | None = None) -> ProvidedRubric:
        """A provided rubric by id, at ``version`` or the highest version."""
        matches = [p for (rid, _), p in self._index()[0].items() if rid == rubric_id]
        if version is not None:
            matches = [p for p in matches if p.rubric.version == version]
        if not matches:
            known = sorted({f"{rid}@{ver}" for rid, ver in self._index()[0]})
            raise NotFound("rubric", f"{rubric_id}@{version}" if version else rubric_id, known=known)
        return max(matches, key=lambda p: _version_key(p.rubric.version))

    def style(self, name: str) -> DecisionStyle:
        styles = self._index()[1]
        if name not in styles:
            raise PluginError(f"decision style {name!r} is not provided by any installed plugin; available: {sorted(styles)}")
        return styles[name]

    def aggregation(self, name: str) -> Aggregation:
        aggs = self._index()[2]
        if name not in aggs:
            raise PluginError(f"aggregation {name!r} is not provided by any installed plugin; available: {sorted(aggs)}")
        return aggs[name]

    def styles(self) -> dict[str, DecisionStyle]:
        return dict(self._index()[1])

    def default_schedule(self, rubric: Rubric, year: int) -> list[PhaseSpec]:
        schedule = self.pm.hook.civic_default_schedule(rubric=rubric, year=year)
        return [PhaseSpec.model_validate(p) if not isinstance(p, PhaseSpec) else p for p in schedule or []]

    def plugin_of(self, module: ModuleType | Any) -> str | None:
        return self.pm.get_name(module)


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in version.replace("-", ".").split("."))

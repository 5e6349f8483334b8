"""Collecting one plugin's contributions and checking they are what each hook promises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy
from pydantic import ValidationError

from core.plugins.types import Aggregation, DecisionStyle, Demo
from core.rubric import Rubric

STYLE_METHODS = ("validate_rules", "check_application", "preliminary", "decide")


class Refused(Exception):
    """Why one plugin's contributions cannot be used (a message naming plugin and hook)."""


@dataclass
class Contributions:
    plugin: str
    rubrics: list[Rubric]
    styles: list[DecisionStyle]
    aggregations: list[Aggregation]
    demos: list[Demo]


def collect(pm: pluggy.PluginManager, name: str) -> Contributions:
    """Plugin ``name``'s rubrics, styles, aggregations and demos, each checked; raises
    :class:`Refused` naming the plugin, the hook and what was wrong."""
    rubrics = [_as_rubric(raw, name, i) for i, raw in enumerate(call_hook(pm, name, "civic_rubrics"))]
    _no_repeats(name, "civic_rubrics", "rubric", [r.ref for r in rubrics])
    styles = _checked(pm, name, "civic_decision_styles", _style_problem)
    _no_repeats(name, "civic_decision_styles", "decision style", [s.name for s in styles])
    aggregations = _checked(pm, name, "civic_aggregations", _record_problem(Aggregation, "combine"))
    _no_repeats(name, "civic_aggregations", "aggregation", [a.name for a in aggregations])
    demos = _checked(pm, name, "civic_demos", _record_problem(Demo, "build"))
    _no_repeats(name, "civic_demos", "demo", [d.name for d in demos])
    return Contributions(name, rubrics, styles, aggregations, demos)


def call_hook(pm: pluggy.PluginManager, name: str, hook: str) -> list[Any]:
    """The list plugin ``name``'s implementation of ``hook`` returns ([] when it has none)."""
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.plugin_name != name:
            continue
        try:
            result = impl.function()
        except Exception as exc:
            raise Refused(f"plugin {name!r}: {hook} raised {type(exc).__name__}: {exc}") from exc
        if result is None:
            return []
        if not isinstance(result, (list, tuple)):
            raise Refused(f"plugin {name!r}: {hook} returned {describe(result)}; expected a list")
        return list(result)
    return []


def _checked(pm: pluggy.PluginManager, name: str, hook: str, problem_of: Callable[[Any], str | None]) -> list[Any]:
    items = call_hook(pm, name, hook)
    for i, item in enumerate(items):
        problem = problem_of(item)
        if problem:
            raise Refused(f"plugin {name!r}: {hook} item {i} ({describe(item)}) {problem}")
    return items


def _no_repeats(name: str, hook: str, kind: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise Refused(f"plugin {name!r}: {hook} returns {kind} {key!r} twice")
        seen.add(key)


def _record_problem(cls: type, action: str) -> Callable[[Any], str | None]:
    """A check that an item is a ``cls`` record with a non-empty str name and a callable ``action``."""

    def problem(item: Any) -> str | None:
        if not isinstance(item, cls):
            return f"is not a {cls.__module__}.{cls.__name__}"
        if not isinstance(item.name, str) or not item.name or not callable(getattr(item, action)):
            return f"needs a non-empty str name and a callable {action}"
        return None

    return problem


def _style_problem(style: Any) -> str | None:
    """What keeps ``style`` from following :class:`DecisionStyle`, or None."""
    problems = [
        f"{attr} must be a non-empty str"
        for attr in ("name", "version")
        if not isinstance(getattr(style, attr, None), str) or not getattr(style, attr)
    ]
    missing = [m for m in STYLE_METHODS if not callable(getattr(style, m, None))]
    if missing:
        problems.append(f"missing method(s) {missing}")
    return f"is not a decision style: {'; '.join(problems)}" if problems else None


def _as_rubric(raw: Any, plugin: str, index: int) -> Rubric:
    if isinstance(raw, Rubric):
        return raw
    try:
        return Rubric.model_validate(raw)
    except (ValidationError, ValueError, TypeError) as exc:
        rubric_id = raw.get("id") if isinstance(raw, dict) else None
        label = f"rubric {rubric_id!r}" if isinstance(rubric_id, str) else f"item {index} ({describe(raw)})"
        raise Refused(f"plugin {plugin!r}: civic_rubrics returns an invalid rubric, {label}: {explain(exc)}") from exc


def describe(value: Any, limit: int = 80) -> str:
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(value).__name__} {text}"


def explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '(value)'}: {err['msg']}" for err in exc.errors()
        )
    return f"{type(exc).__name__}: {exc}"

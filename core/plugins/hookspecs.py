"""Hook specifications: the whole contract between the core and a plugin.

A plugin is a module (or object) registered under the entry-point group
``civic.plugins`` that implements some of these hooks with ``@hookimpl``::

    # pyproject.toml
    [project.entry-points."civic.plugins"]
    my_city = "my_city_plugin"

    # my_city_plugin/__init__.py
    from core.plugins import hookimpl

    @hookimpl
    def civic_rubrics():
        return [MY_RUBRIC]
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("civic")


@hookspec
def civic_rubrics():  # type: ignore[no-untyped-def]
    """Return the rubrics this plugin provides, as a list of :class:`core.rubric.Rubric`.

    Each rubric is validated on load; its ``(id, version)`` must not be provided by any
    other plugin. A campaign pins one rubric version by content hash, and the core stores
    the rubric's definition in the ledger, so recorded decisions stay verifiable after the
    plugin is upgraded or removed.

    Example::

        from core.rubric import Rubric

        @hookimpl
        def civic_rubrics():
            return [Rubric.model_validate({
                "id": "demo-city", "version": "2024", "title": "示例社区标准",
                "style": "pass-mark",
                "categories": [{"id": "env", "title": "环境", "max_points": 10,
                                "items": [{"id": "1", "text": "干净整洁", "max_points": 10}]}],
                "levels": [{"id": "good", "label": "优秀社区", "rules": {"min_total": 8}}],
            })]
    """


@hookspec
def civic_decision_styles():  # type: ignore[no-untyped-def]
    """Return decision styles (objects following :class:`core.plugins.types.DecisionStyle`).

    A rubric names its style in ``Rubric.style``; the style checks the application gate,
    draws the preliminary list for public notice and decides every candidate of the
    campaign, all levels at once (a :class:`core.plugins.types.DecisionContext` carries the
    rubric, the campaign's levels and its quota). Its outcomes are recorded with their
    derivation, so replaying history never calls the style again. Two plugins providing the
    same style name is an error; the core provides ``threshold``, ``checklist-by-type`` and
    ``quota-ranking`` through this hook (:mod:`core.styles`, plugin ``core``). Decisions
    made with a style only a plugin provides can be recomputed only where it is installed.

    Example::

        from core.plugins.types import Outcome

        class PassMark:
            name, version = "pass-mark", "1"
            def validate_rules(self, rubric):
                for level in rubric.levels:
                    if "min_total" not in level.rules:
                        raise ValueError(f"level {level.id!r}: rules.min_total is required")
            def check_application(self, rubric, level, self_total, facts):
                return []
            def preliminary(self, context, candidates):
                return self.decide(context, candidates)
            def decide(self, context, candidates):
                return [Outcome(c.candidacy_id,
                                c.total >= context.rubric.level(c.level).rules["min_total"],
                                [], {"total": str(c.total)})
                        for c in candidates]

        @hookimpl
        def civic_decision_styles():
            return [PassMark()]
    """


@hookspec
def civic_aggregations():  # type: ignore[no-untyped-def]
    """Return :class:`core.plugins.types.Aggregation` records: ways to combine several
    assessors' points for one item into the official item score.

    The core provides ``mean`` and ``median``; a rubric picks one by name in
    ``Rubric.aggregation``.

    Example::

        from decimal import Decimal
        from core.plugins.types import Aggregation

        @hookimpl
        def civic_aggregations():
            return [Aggregation("min", lambda points: min(points), "the strictest assessor")]
    """


@hookspec(firstresult=True)
def civic_default_schedule(rubric, year):  # type: ignore[no-untyped-def]
    """Return the default phase schedule for a campaign of ``year`` under ``rubric``, as a
    list of :class:`core.plugins.types.PhaseSpec`, or ``None`` when the rubric is not yours.

    The city owner may reschedule any phase later; the first plugin returning a schedule wins.

    Example::

        from core.plugins.types import PhaseSpec

        @hookimpl
        def civic_default_schedule(rubric, year):
            if rubric.id != "demo-city":
                return None
            return [PhaseSpec(id="apply", label="申报", kind="application",
                              start=f"{year}-03-01", end=f"{year}-03-31")]
    """


@hookspec
def civic_demos():  # type: ignore[no-untyped-def]
    """Return :class:`core.plugins.types.Demo` records: demonstration campaigns that
    ``civic demo NAME`` builds through the platform's own commands.

    Example::

        from core.plugins.types import Demo

        @hookimpl
        def civic_demos():
            return [Demo(name="demo-city", title="示例活动", stages=1,
                         build=build_demo_campaign, reader=DEMO_OWNER)]
    """

"""The plugin test kit itself (core.testing): a well-behaved fake plugin passes the whole
contract, and each way a plugin can break a promise makes the matching check fail with a
message that says what is wrong."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import Any

import pytest

from core.actors import Role
from core.plugins import PluginHost, hookimpl
from core.plugins.types import Aggregation, Demo, Outcome, PhaseSpec
from core.errors import PluginError
from core.rubric import sheet_for_total
from core.services import CivicLedger
from core.testing import PluginContract, civic_app, civic_host, fresh_host, memory_app  # noqa: F401 (fixtures)
from tests.helpers import actor


def rubric_data(title: str = "契约样例标准") -> dict[str, Any]:
    return {
        "id": "kit-city", "version": "1", "title": title, "style": "kit-mark", "aggregation": "mean",
        "categories": [{"id": "env", "title": "环境", "max_points": 10, "items": [
            {"id": "1", "text": "楼道整洁", "max_points": 6}, {"id": "2", "text": "绿化养护", "max_points": 4}]}],
        "levels": [{"id": "good", "label": "样例优秀社区", "rules": {"min_total": 8}}],
    }


class KitMark:
    """Named at a minimum total; ties and order play no part."""

    name, version = "kit-mark", "1"

    def validate_rules(self, rubric):
        for level in rubric.levels:
            if "min_total" not in level.rules:
                raise ValueError(f"level {level.id!r}: rules.min_total is required")

    def check_application(self, rubric, level, self_total, facts):
        return []

    def preliminary(self, context, candidates):
        return self.decide(context, candidates)

    def decide(self, context, candidates):
        bar = Decimal(str(context.rubric.level("good").rules["min_total"]))
        return [Outcome(c.candidacy_id, c.total >= bar, [f"total {c.total} against {bar}"], {"total": c.total, "bar": bar})
                for c in candidates]


class KitCity:
    """A complete small plugin built from overridable parts."""

    style: Any = KitMark()

    @hookimpl
    def civic_rubrics(self):
        return [rubric_data()]

    @hookimpl
    def civic_decision_styles(self):
        return [self.style]

    @hookimpl
    def civic_default_schedule(self, rubric, year):
        return [PhaseSpec(id="apply", label="申报", kind="application", start=f"{year}-03-01", end=f"{year}-03-31")]


class TestAWellBehavedPluginObjectPassesTheContract(PluginContract):
    plugin = KitCity()
    plugin_name = "kit_city"


def contract_for(plugin: Any) -> type[PluginContract]:
    return type("Contract", (PluginContract,), {"plugin": plugin, "plugin_name": "kit_city"})


def failing(plugin: Any, check: str, with_runs: bool = True) -> str:
    """The assertion message of contract check ``check`` run against ``plugin``."""
    contract = contract_for(plugin)
    host = contract.make_host()
    argument = contract.run_campaigns(host) if with_runs else host
    with pytest.raises(AssertionError) as caught:
        getattr(contract(), check)(argument)
    return str(caught.value)


def city_with(style: Any) -> KitCity:
    city = KitCity()
    city.style = style
    return city


def test_a_style_that_depends_on_the_candidates_order_fails_determinism():
    class FirstComeFirstServed(KitMark):
        def decide(self, context, candidates):
            return [Outcome(c.candidacy_id, n == 0, ["first" if n == 0 else "later"], {"place": n})
                    for n, c in enumerate(candidates)]

    assert "depends on the candidates' order" in failing(city_with(FirstComeFirstServed()), "test_decisions_are_deterministic")


def test_a_style_that_reads_the_clock_fails_determinism_and_replay():
    class Timed(KitMark):
        def decide(self, context, candidates):
            return [Outcome(o.candidacy_id, o.named, o.reasons, {**o.derivation, "at": time.perf_counter_ns()})
                    for o in super().decide(context, candidates)]

    city = city_with(Timed())
    assert "twice differs" in failing(city, "test_decisions_are_deterministic")
    assert "recomputed derivation differs" in failing(city, "test_decisions_replay_identically")


def test_an_outcome_without_reasons_fails_explained():
    class Terse(KitMark):
        def decide(self, context, candidates):
            return [Outcome(o.candidacy_id, o.named, [], o.derivation) for o in super().decide(context, candidates)]

    message = failing(city_with(Terse()), "test_decisions_are_explained")
    assert "kit-city@1 level 'good'" in message and "[]" in message


def test_a_rubric_that_changes_between_calls_fails_the_stable_hash_check():
    class Drifting(KitCity):
        counter = itertools.count()

        @hookimpl
        def civic_rubrics(self):
            return [rubric_data(f"契约样例标准 第{next(self.counter)}版")]

    message = failing(Drifting(), "test_civic_rubrics_validate_with_stable_hashes", with_runs=False)
    assert "different rubrics on a second call" in message


def test_an_aggregation_outside_the_assessors_points_fails():
    class Summing(KitCity):
        @hookimpl
        def civic_aggregations(self):
            return [Aggregation("sum", lambda points: sum(points), "not an item score")]

    message = failing(Summing(), "test_civic_aggregations_combine_deterministically", with_runs=False)
    assert "sum" in message and "outside the assessors' points" in message


def test_a_demo_that_records_again_on_a_second_build_fails():
    owner = actor(Role.CITY_OWNER, "owner", "样例市民政局", "kit")

    def build(app: CivicLedger, step) -> str:
        app.ensure_tenant(owner, "kit", "样例市")
        n = len(app.tenant(owner, "kit").campaigns)
        return app.create_campaign(owner, f"kit-{n}", "样例活动", 2020, "kit-city", on="2020-03-01")

    class Demoing(KitCity):
        @hookimpl
        def civic_demos(self):
            return [Demo(name="kit-demo", title="样例", stages=1, build=build, reader=owner)]

    message = failing(Demoing(), "test_civic_demos_build_once", with_runs=False)
    assert "kit-demo" in message and "another campaign" in message


def test_a_level_nobody_can_reach_with_the_sample_inputs_says_which_hooks_to_override():
    class Unreachable(KitCity):
        @hookimpl
        def civic_rubrics(self):
            data = rubric_data()
            data["levels"][0]["rules"]["min_total"] = 11
            return [data]

    message = failing(Unreachable(), "test_every_level_runs_a_campaign")
    assert "no sample candidate was named" in message and "sample_official_scores" in message


def test_fresh_host_registers_only_what_it_is_given_and_is_strict_about_refusals():
    host = fresh_host("plugins.tianjin_meili")
    assert set(host.plugins) == {"core", "tianjin_meili"}

    class Misspelt:
        @hookimpl
        def civic_rubrik(self):
            return []

    with pytest.raises(PluginError, match="plugin 'misspelt' refused: implements unknown hook"):
        fresh_host((Misspelt(), "misspelt"))
    assert "misspelt" in fresh_host((Misspelt(), "misspelt"), strict=False).failures


class TestFixtures:
    civic_plugins = [(KitCity(), "kit_city")]

    def test_civic_app_runs_on_memory_with_the_declared_plugins(self, civic_app, civic_host):
        assert isinstance(civic_host, PluginHost) and set(civic_host.plugins) == {"core", "kit_city"}
        assert civic_app.plugins is civic_host and civic_app.store.kind == "memory"
        owner = actor(Role.CITY_OWNER, "owner", "样例市民政局", "kit")
        civic_app.register_tenant(owner, "kit", "样例市")
        assert civic_app.tenant(owner, "kit").name == "样例市"
        rubric = civic_host.rubric("kit-city").rubric
        assert sum(map(Decimal, sheet_for_total(rubric, 8).values())) == 8


def test_memory_app_takes_a_fixed_date_as_its_clock():
    import datetime as dt

    app = memory_app(fresh_host(), today=dt.date(2020, 5, 1))
    try:
        assert app.today() == "2020-05-01"
    finally:
        app.close()

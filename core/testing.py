"""The plugin developer's test kit: a fresh plugin host, an application on an in-memory
store, pytest fixtures, and :class:`PluginContract`, the checks every plugin must pass.

A plugin's tests subclass the contract and say which plugin they test::

    # tests/test_contract.py of a plugin package
    import my_city
    from core.testing import PluginContract

    class TestMyCity(PluginContract):
        plugin = my_city          # the module (or object) registered under civic.plugins
        plugin_name = "my_city"   # its entry-point name

Everything runs on real objects (the core's plugin host and application, the plugin's own
rubrics, style and demos); nothing is mocked. The fixtures ``civic_host`` and
``civic_app`` are available after ``pytest_plugins = ["core.testing"]`` in a conftest.py,
or by importing them into a test module.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import importlib.metadata
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Repository

from core.actors import Actor, Role
from core.domain.candidacy import NAMED, NOT_NAMED
from core.errors import PluginError
from core.plugins import ENTRY_POINT_GROUP, PluginHost
from core.plugins.contributions import call_hook
from core.plugins.types import PHASE_KINDS, CandidateEvidence, DecisionContext, DecisionStyle, Outcome
from core.rubric import Rubric, sheet_for_total
from core.services import CivicLedger
from core.exact import exact
from core.services.decisions import plain
from core.styles.rules import evidence_figures

__all__ = ["ContractRun", "PluginContract", "civic_app", "civic_host", "fresh_host", "memory_app"]


# -- helpers -----------------------------------------------------------------------


def plugin_name_of(plugin: Any) -> str:
    """The name a plugin is registered under when none is given: a module's last dotted
    part (``plugins.tianjin_meili`` -> ``tianjin_meili``), else its class name."""
    if isinstance(plugin, ModuleType):
        return plugin.__name__.rsplit(".", 1)[-1]
    return getattr(plugin, "__name__", type(plugin).__name__)


def _named(plugin: Any) -> tuple[Any, str]:
    if isinstance(plugin, tuple):
        obj, name = plugin
        return (importlib.import_module(obj) if isinstance(obj, str) else obj), name
    if isinstance(plugin, str):
        plugin = importlib.import_module(plugin)
    return plugin, plugin_name_of(plugin)


def fresh_host(*plugins: Any, strict: bool = True) -> PluginHost:
    """A :class:`PluginHost` with the core's built-ins and ``plugins`` only (nothing
    installed is discovered). Each plugin is a module, an object with ``@hookimpl``
    methods, a dotted module name, or a ``(plugin, name)`` pair.

    With ``strict`` a refused plugin raises :class:`PluginError` naming it and why.
    """
    host = PluginHost()
    for plugin in plugins:
        obj, name = _named(plugin)
        host.register(obj, name=name, source="registered by core.testing")
    if strict:
        host.rubrics()  # reads every contribution: refusals and conflicts show now
        if host.failures:
            raise PluginError("; ".join(f"plugin {n!r} refused: {why}" for n, why in host.failures.items()))
    return host


def memory_app(host: PluginHost | None = None, today: dt.date | Callable[[], dt.date] | None = None) -> CivicLedger:
    """A :class:`CivicLedger` on ``memory://`` using ``host`` (default: core built-ins only).
    ``today`` fixes the clock (a date or a callable), since nothing may be dated ahead of it."""
    clock = today if callable(today) else (lambda: today) if today is not None else dt.date.today
    return CivicLedger("memory://", plugins=host if host is not None else fresh_host(), today=clock)


@pytest.fixture
def civic_host(request: pytest.FixtureRequest) -> PluginHost:
    """A fresh host with the plugins named by ``civic_plugins`` on the test class or module."""
    declared = getattr(request.cls, "civic_plugins", None) if request.cls else None
    if declared is None:
        declared = getattr(request.module, "civic_plugins", ())
    return fresh_host(*declared)


@pytest.fixture
def civic_app(civic_host: PluginHost) -> Iterator[CivicLedger]:
    """A :class:`CivicLedger` on an in-memory store with ``civic_host``; closed afterwards."""
    app = memory_app(civic_host)
    yield app
    app.close()


# -- the contract -----------------------------------------------------------------

TENANT = "contract"
STREET = "契约测试街道"


def _actor(role: Role, name: str, org: str) -> Actor:
    return Actor(id=name, role=role, organisation=org, tenant=TENANT)


OWNER = _actor(Role.CITY_OWNER, "owner", "契约测试市民政局")
DISTRICT = _actor(Role.DISTRICT_OFFICER, "district", "契约测试区民政局")
STREET_OFFICER = _actor(Role.STREET_OFFICER, "street", STREET)
ASSESSORS = [_actor(Role.ASSESSOR, f"assessor-{n}", "契约测试评估组") for n in (1, 2)]


@dataclass
class ContractRun:
    """One small campaign the contract ran for one rubric level, and what it recorded."""

    app: CivicLedger
    rubric: Rubric
    level: str
    campaign_id: str
    candidacies: list[str]
    listed: list[str]
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.rubric.ref} level {self.level!r}"


@dataclass
class Recorded:
    """Evidence rebuilt from the event store at the stream positions a decision recorded."""

    context: DecisionContext
    approved: list[CandidateEvidence]
    on_notice: list[CandidateEvidence]


class PluginContract:
    """Checks every civic plugin must pass; subclass it in the plugin's tests.

    Set ``plugin`` (module, object or dotted name) and ``plugin_name`` (its entry-point
    name). ``requires`` lists other plugins it needs (for instance one providing its
    decision style; the core's built-in styles need none). To drive a campaign for every
    level of every rubric the plugin provides, the contract asks
    :meth:`sample_application`, :meth:`sample_official_scores` and :meth:`sample_survey`
    for inputs; override them when full marks and no facts do not fit your style (a
    checklist style needs facts, say). ``quota`` is passed to the
    campaigns (quota-ranking styles). With ``expect_named`` (default) each level must name
    at least one of the ``candidates_per_level`` sample candidates.
    """

    plugin: Any = None
    plugin_name: str = ""
    requires: tuple[Any, ...] = ()
    campaign_year: int = 2020
    candidates_per_level: int = 3
    quota: int | None = None
    expect_named: bool = True

    # -- inputs a subclass may override ---------------------------------------------

    def sample_application(self, rubric: Rubric, level: str, index: int) -> tuple[dict[str, str], dict[str, Any]]:
        """Self-assessment sheet and facts of sample candidate ``index`` (default: full marks, no facts)."""
        return sheet_for_total(rubric, rubric.max_total), {}

    def sample_official_scores(self, rubric: Rubric, level: str, index: int) -> dict[str, str] | list[dict[str, str]]:
        """The official sheet (or one sheet per assessor) of sample candidate ``index``.
        Default: full marks less 10% of the maximum per index (100, 90, 80 of 100 points)."""
        cut = rubric.max_total * Decimal("0.1") * index
        cut -= cut % rubric.step
        return sheet_for_total(rubric, max(rubric.max_total - cut, Decimal(0)))

    def sample_survey(self, rubric: Rubric, level: str, index: int) -> dict[str, int] | None:
        """Satisfaction survey counts of candidate ``index`` (None: no survey)."""
        return {"respondents": 100, "households": 100, "satisfied": 90, "basically_satisfied": 8, "dissatisfied": 2}

    # -- fixtures ---------------------------------------------------------------------

    @classmethod
    def _plugin(cls) -> tuple[Any, str]:
        assert cls.plugin is not None and cls.plugin_name, (
            f"{cls.__name__}: set the class attributes plugin (the module) and plugin_name (its entry-point name)"
        )
        obj, _ = _named(cls.plugin)
        return obj, cls.plugin_name

    @classmethod
    def make_host(cls) -> PluginHost:
        """A fresh host with this plugin (and ``requires``); refusals fail the test."""
        host = fresh_host(*cls.requires, cls._plugin(), strict=False)
        host.rubrics()
        assert host.failures == {}, f"plugins refused: {host.failures}"
        return host

    @classmethod
    def run_campaigns(cls, host: PluginHost) -> list[ContractRun]:
        """One small campaign per level of every rubric the plugin provides, on one
        in-memory application (the caller closes ``runs[0].app``)."""
        contract = cls()
        clock = [dt.date(cls.campaign_year, 1, 1)]
        app = memory_app(host, today=lambda: clock[0])
        app.ensure_tenant(OWNER, TENANT, "契约测试市")
        runs: list[ContractRun] = []
        try:
            for rubric in contract._rubrics(host):
                for level in rubric.levels:
                    runs.append(contract._run_campaign(app, host, rubric, level.id, len(runs), clock))
        except BaseException:
            app.close()
            raise
        if not runs:
            app.close()
        return runs

    @pytest.fixture(scope="class")
    @classmethod
    def contract_host(cls) -> PluginHost:
        return cls.make_host()

    @pytest.fixture(scope="class")
    @classmethod
    def contract_runs(cls, contract_host: PluginHost) -> Iterator[list[ContractRun]]:
        runs = cls.run_campaigns(contract_host)
        yield runs
        if runs:
            runs[0].app.close()

    def _rubrics(self, host: PluginHost) -> list[Rubric]:
        return [p.rubric for p in host.rubrics() if p.plugin == self.plugin_name]

    def _runs(self, runs: list[ContractRun]) -> list[ContractRun]:
        if not runs:
            pytest.skip(f"plugin {self.plugin_name!r} provides no rubric: no campaign to run")
        return runs

    # -- a campaign per level -----------------------------------------------------------

    def _run_campaign(
        self, app: CivicLedger, host: PluginHost, rubric: Rubric, level: str, n: int, clock: list[dt.date]
    ) -> ContractRun:
        """Apply, review, official scores, survey, public notice, decide: through the application."""
        year = self.campaign_year
        phases = {p.kind: p for p in host.default_schedule(rubric, year)}
        day = phases["application"].start if "application" in phases else f"{year}-03-01"
        notice = phases.get("notice")
        start, end = (notice.start, notice.end) if notice and notice.start >= day else (day, day)
        clock[0] = dt.date.fromisoformat(max(day, end))
        campaign = app.create_campaign(
            OWNER, f"contract-{n}", f"契约测试活动 {rubric.ref} {level}", year, rubric.id,
            rubric_version=rubric.version, levels=[level], quota=self.quota, on=day,
        )
        app.open_campaign(OWNER, campaign, on=day)
        candidacies = []
        for i in range(self.candidates_per_level):
            community = app.register_community(
                DISTRICT, f"r{n}-c{i}", f"契约测试社区{n}-{i}", "契约测试区", STREET, 1000, 3000, on=day
            )
            self_scores, facts = self.sample_application(rubric, level, i)
            cid = app.apply(STREET_OFFICER, campaign, community, level, self_scores, facts, on=day)
            app.review(DISTRICT, cid, "approve", on=day)
            sheets = self.sample_official_scores(rubric, level, i)
            for assessor, sheet in zip(ASSESSORS, sheets if isinstance(sheets, list) else [sheets] * len(ASSESSORS)):
                app.submit_score_sheet(assessor, cid, "official", sheet, on=day)
            survey = self.sample_survey(rubric, level, i)
            if survey is not None:
                app.record_survey(OWNER, cid, **survey, on=day)
            candidacies.append(cid)
        listed = app.open_public_notice(OWNER, campaign, start, end, on=start)
        app.close_public_notice(OWNER, campaign, on=end)
        app.decide(OWNER, campaign, on=end)
        decisions = {cid: copy.deepcopy(app.candidacy(OWNER, cid).decision) for cid in candidacies}
        return ContractRun(app, rubric, level, campaign, candidacies, listed, decisions)

    @staticmethod
    def _recorded(run: ContractRun, repository: Repository | None = None) -> Recorded:
        """Evidence rebuilt from the streams at the positions the decisions recorded (the
        same rebuild ``civic audit verify`` uses)."""
        inputs = run.app.decision_inputs(OWNER, run.campaign_id)
        approved = [inputs.evidence[cid] for cid in run.candidacies]
        on_notice = [inputs.evidence[cid] for cid in run.candidacies if cid in inputs.on_notice]
        return Recorded(inputs.context, approved, on_notice)

    # -- the checks -----------------------------------------------------------------------

    def test_plugin_registers_without_failures(self) -> None:
        host = fresh_host(*self.requires, self._plugin(), strict=False)
        host.rubrics()
        host.demos()
        assert host.failures == {}, f"refused: {host.failures}"
        assert self.plugin_name in host.plugins
        assert host.plugins[self.plugin_name].hooks, f"plugin {self.plugin_name!r} implements no civic_* hook"

    def test_entry_point_loads_this_plugin(self) -> None:
        found = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == self.plugin_name]
        if not found:
            pytest.skip(f"no {ENTRY_POINT_GROUP!r} entry point named {self.plugin_name!r} is installed")
        obj, _ = self._plugin()
        if isinstance(obj, ModuleType):
            assert found[0].load() is obj, f"entry point {found[0].value!r} is not {obj.__name__}"

    def test_civic_rubrics_validate_with_stable_hashes(self, contract_host: PluginHost) -> None:
        rubrics = self._rubrics(contract_host)
        again = [r if isinstance(r, Rubric) else Rubric.model_validate(r) for r in call_hook(contract_host.pm, self.plugin_name, "civic_rubrics")]
        assert sorted(r.content_hash for r in again) == sorted(r.content_hash for r in rubrics), (
            "civic_rubrics returns different rubrics on a second call"
        )
        for rubric in rubrics:
            round_trip = Rubric.model_validate_json(rubric.canonical_json())
            assert round_trip == rubric and round_trip.content_hash == rubric.content_hash, rubric.ref
            assert rubric.content_hash == Rubric.model_validate(rubric.model_dump()).content_hash, rubric.ref
            for category in rubric.categories:
                assert sum((i.max_points for i in category.items), Decimal(0)) == category.max_points, category.id
            assert sum((c.max_points for c in rubric.categories), Decimal(0)) == rubric.max_total
            ids = [i.id for i in rubric.items()]
            assert len(ids) == len(set(ids)), f"{rubric.ref}: item ids repeat"
            assert rubric.levels and len({lv.id for lv in rubric.levels}) == len(rubric.levels), rubric.ref

    def test_civic_decision_styles_accept_their_rubrics_rules(self, contract_host: PluginHost) -> None:
        for rubric in self._rubrics(contract_host):
            style = contract_host.style(rubric.style)
            assert isinstance(style, DecisionStyle)
            style.validate_rules(rubric)  # raises ValueError naming the level and field
        for style in call_hook(contract_host.pm, self.plugin_name, "civic_decision_styles"):
            assert isinstance(style.name, str) and style.name and isinstance(style.version, str) and style.version

    def test_civic_aggregations_combine_deterministically(self, contract_host: PluginHost) -> None:
        points = [Fraction(5, 2), Fraction(1), Fraction(3), Fraction(1)]
        for aggregation in call_hook(contract_host.pm, self.plugin_name, "civic_aggregations"):
            first = exact(aggregation.combine(list(points)))  # exact: a float result is refused
            assert first == exact(aggregation.combine(list(reversed(points)))), aggregation.name
            assert min(points) <= first <= max(points), f"{aggregation.name}: {first} is outside the assessors' points"

    def test_civic_default_schedule_is_valid(self, contract_host: PluginHost) -> None:
        for rubric in self._rubrics(contract_host):
            phases = contract_host.default_schedule(rubric, self.campaign_year)
            assert len({p.id for p in phases}) == len(phases), f"{rubric.ref}: phase ids repeat"
            for phase in phases:
                assert phase.kind in PHASE_KINDS and phase.start <= phase.end, phase

    def test_every_level_runs_a_campaign(self, contract_runs: list[ContractRun]) -> None:
        for run in self._runs(contract_runs):
            statuses = {cid: run.app.candidacy(OWNER, cid).status for cid in run.candidacies}
            assert set(statuses.values()) <= {NAMED, NOT_NAMED}, (run.label, statuses)
            if self.expect_named:
                assert NAMED in statuses.values(), (
                    f"{run.label}: no sample candidate was named; override sample_application / "
                    "sample_official_scores / sample_survey, or set expect_named = False"
                )

    def test_decisions_are_explained(self, contract_runs: list[ContractRun]) -> None:
        for run in self._runs(contract_runs):
            for cid, decision in run.decisions.items():
                reasons = decision["derivation"]["reasons"]
                assert reasons and all(isinstance(r, str) and r.strip() for r in reasons), (run.label, cid, reasons)
                json.dumps(decision["derivation"], allow_nan=False)
            recorded = self._recorded(run, Repository(run.app.events))
            style = run.app.plugins.style(run.rubric.style)
            for outcome in [*style.preliminary(recorded.context, recorded.approved), *style.decide(recorded.context, recorded.on_notice)]:
                assert isinstance(outcome, Outcome), outcome
                assert outcome.reasons and all(isinstance(r, str) and r.strip() for r in outcome.reasons), outcome
                assert isinstance(outcome.derivation, dict), outcome
                json.dumps(plain(outcome.derivation), allow_nan=False)

    def test_decisions_are_deterministic(self, contract_runs: list[ContractRun]) -> None:
        shuffle = random.Random(20200309).shuffle
        for run in self._runs(contract_runs):
            recorded = self._recorded(run, Repository(run.app.events))
            style = run.app.plugins.style(run.rubric.style)
            for decide, candidates in ((style.preliminary, recorded.approved), (style.decide, recorded.on_notice)):
                first = decide(recorded.context, list(candidates))
                assert decide(recorded.context, list(candidates)) == first, f"{run.label}: {decide.__name__} twice differs"
                by_id = {o.candidacy_id: o for o in first}
                mixed = list(candidates)
                for order in (list(reversed(candidates)), (shuffle(mixed), mixed)[1]):
                    again = {o.candidacy_id: o for o in decide(recorded.context, order)}
                    assert again == by_id, f"{run.label}: {decide.__name__} depends on the candidates' order"

    def test_decisions_replay_identically(self, contract_runs: list[ContractRun]) -> None:
        for run in self._runs(contract_runs):
            repository = Repository(run.app.events)  # no cache, no snapshots: every event replayed
            for cid, decision in run.decisions.items():
                assert repository.get(UUID(cid)).decision == decision, f"{run.label}: decision of {cid} changes on replay"
            recorded = self._recorded(run, repository)
            style = run.app.plugins.style(run.rubric.style)
            recomputed = {o.candidacy_id: o for o in style.decide(recorded.context, recorded.on_notice)}
            for evidence in recorded.approved:
                derivation = run.decisions[evidence.candidacy_id]["derivation"]
                assert derivation["style"] == {"name": style.name, "version": style.version}
                outcome = recomputed.get(evidence.candidacy_id)
                if outcome is None:  # not on the notice list: the core recorded its evidence
                    assert derivation["named"] is False
                    assert {k: v for k, v in derivation["outcome"].items() if k != "preliminary"} == _json(
                        evidence_figures(run.rubric, evidence)
                    )
                    continue
                assert (outcome.named, list(outcome.reasons)) == (derivation["named"], derivation["reasons"]), run.label
                assert _json(plain(outcome.derivation)) == derivation["outcome"], f"{run.label}: recomputed derivation differs"

    def test_civic_demos_build_once(self, contract_host: PluginHost) -> None:
        demos = [d for d, plugin in contract_host.demos().values() if plugin == self.plugin_name]
        if not demos:
            pytest.skip(f"plugin {self.plugin_name!r} provides no demo")
        for demo in demos:
            app = memory_app(contract_host)
            try:
                steps: list[str] = []
                first = demo.build(app, steps.append)
                assert len(steps) <= demo.stages, f"demo {demo.name}: {len(steps)} steps, {demo.stages} stages declared"
                recorded = app.recorder.max_notification_id()
                assert demo.build(app, lambda _: None) == first, f"demo {demo.name}: a second build names another campaign"
                assert app.recorder.max_notification_id() == recorded, f"demo {demo.name}: a second build recorded events"
                app.campaign(demo.reader, first)  # its reader can read it
            finally:
                app.close()


def _json(value: Any) -> Any:
    """``value`` as it comes back from the event store (plain JSON)."""
    return json.loads(json.dumps(value))

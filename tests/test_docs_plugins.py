"""docs/plugins.md documents every hook and record, and the plugin contract exercises every
hook: a new hook in hookspecs.py fails here until it has a heading in the guide and a check
in core.testing.PluginContract (beside tests/test_plugins.py, which requires a test)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from core.plugins import hookspecs, types
from core.testing import PluginContract

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def _hooks() -> list[str]:
    return sorted(name for name in dir(hookspecs) if name.startswith("civic_"))


def _headings() -> list[str]:
    return re.findall(r"^#{2,5} +(.+?) *$", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE)


def _names_a_heading(name: str, headings: list[str]) -> bool:
    return any(re.match(rf"`?{re.escape(name)}\b", heading) for heading in headings)


def test_every_hook_has_a_heading_with_signature_and_example_in_the_guide():
    assert len(_hooks()) >= 5
    headings = _headings()
    assert [h for h in _hooks() if not _names_a_heading(h, headings)] == []
    text = GUIDE.read_text(encoding="utf-8")
    for hook in _hooks():
        section = text.split(f"### {hook}\n", 1)[1].split("\n### ", 1)[0]
        parameters = list(inspect.signature(getattr(hookspecs, hook)).parameters)
        assert f"`{hook}(" in section, f"{hook}: no signature line"
        for parameter in parameters:
            assert parameter in section, f"{hook}: argument {parameter!r} is not documented"
        assert "->" in section, f"{hook}: its return value is not documented"
        assert "@hookimpl" in section and "```python" in section, f"{hook}: no example"


def test_every_record_a_plugin_returns_or_receives_has_a_heading():
    records = [
        name
        for name, obj in vars(types).items()
        if inspect.isclass(obj) and obj.__module__ == types.__name__
    ]
    assert {"PhaseSpec", "CandidateEvidence", "Outcome", "DecisionContext", "DecisionStyle", "Aggregation", "Demo"} <= set(records)
    headings = _headings()
    assert [r for r in [*records, "Rubric", "PluginContract"] if not _names_a_heading(r, headings)] == []


def test_every_hook_is_exercised_by_the_plugin_contract():
    """Every plugin's tests run the contract, so a hook the contract checks is tested for
    every plugin; a new hook needs a check there."""
    checks = {
        name: inspect.getsource(member)
        for name, member in vars(PluginContract).items()
        if name.startswith("test_")
    }
    unexercised = [hook for hook in _hooks() if not any(hook in source for source in checks.values())]
    # civic_rubrics, civic_decision_styles, civic_aggregations and civic_demos are named by
    # the checks that call them; civic_default_schedule is named by its own check too
    assert unexercised == [], f"hooks no PluginContract check exercises: {unexercised}"


def test_the_guide_names_the_commands_it_walks_through():
    text = GUIDE.read_text(encoding="utf-8")
    for command in ("civic plugin new", "civic plugins", "civic demo", "pip install -e", "PluginContract"):
        assert command in text

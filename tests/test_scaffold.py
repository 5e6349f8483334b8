"""``civic plugin new``: the generated package passes its own contract tests, installs
with its entry point, shows up in ``civic plugins`` and runs its demo campaign; bad names
and occupied directories are refused with clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app as cli
from core.errors import InvalidInput, RuleViolation
from core.plugins import PluginHost
from core.scaffold import names_for, new_plugin

REPO = Path(__file__).resolve().parent.parent


def _scaffold(tmp_path: Path) -> tuple[dict[str, str], Path]:
    name = f"scaffold-{uuid.uuid4().hex[:8]}"  # unique: never shadows anything installed
    target = tmp_path / name
    result = CliRunner().invoke(cli, ["plugin", "new", name, "--dir", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "created" in result.stdout and "pyproject.toml" in result.stdout
    return names_for(name), target


def test_generated_plugin_passes_its_contract_tests_installs_and_runs_its_demo(tmp_path, monkeypatch):
    names, target = _scaffold(tmp_path)
    package = names["package"]
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted([
        "README.md",
        f"{package}/__init__.py",
        f"{package}/demo.py",
        f"{package}/rubric.py",
        f"{package}/schedule.py",
        f"{package}/style.py",
        "pyproject.toml",
        f"tests/test_{package}_contract.py",
    ])
    pyproject = (target / "pyproject.toml").read_text(encoding="utf-8")
    assert f'[project.entry-points."civic.plugins"]\n{package} = "{package}"' in pyproject
    assert '"civic-ledger>=' in pyproject
    assert "PluginContract" in (target / "tests" / f"test_{package}_contract.py").read_text(encoding="utf-8")

    # its own tests, run with the platform's interpreter
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed" not in run.stdout and "passed" in run.stdout
    assert "test_civic_demos_build_once" not in run.stdout  # nothing reported against the contract

    # installable: pip builds it (metadata, entry point) into a folder outside the project venv
    site = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(target)],
        capture_output=True, text=True, timeout=180,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (site / package / "__init__.py").is_file()
    monkeypatch.syspath_prepend(str(site))
    try:
        host = PluginHost.discover()
        assert package not in host.failures
        info = host.plugins[package]
        assert info.source.startswith(f"entry point {package} ({names['dist']} 0.1.0)"), info.source
        assert info.hooks == ["civic_decision_styles", "civic_default_schedule", "civic_demos", "civic_rubrics"]
        assert host.rubric(f"{names['slug']}-example").plugin == package

        runner = CliRunner()
        listed = runner.invoke(cli, ["plugins", "--json"], catch_exceptions=False)
        assert listed.exit_code == 0, listed.output
        row = next(p for p in json.loads(listed.stdout)["plugins"] if p["name"] == package)
        assert row["rubrics"] == [f"{names['slug']}-example@2024"]

        demo = runner.invoke(cli, ["demo", f"{names['slug']}-demo"], env={"CIVIC_DATABASE_URL": "memory://"},
                             catch_exceptions=False)
        assert demo.exit_code == 0, demo.output
        assert "东苑社区" in demo.stdout and "已命名" in demo.stdout and "未命名" in demo.stdout
    finally:
        for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[module]


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("Hexi", "a lowercase slug"),
        ("hexi district", "a lowercase slug"),
        ("1hexi", "a lowercase slug"),
        ("hexi__district", "a lowercase slug"),
        ("hexi-", "a lowercase slug"),
        ("x" * 41, "at most 40 characters"),
        ("class", "not a Python keyword"),
        ("core", "a package of the platform"),
        ("json", "'json' is already importable"),
    ],
)
def test_a_bad_plugin_name_is_refused_naming_it_and_what_is_allowed(tmp_path, name, fragment):
    with pytest.raises(InvalidInput) as caught:
        new_plugin(name, tmp_path / "out")
    assert repr(name) in str(caught.value) and fragment in str(caught.value)
    assert not (tmp_path / "out").exists()

    result = CliRunner().invoke(cli, ["plugin", "new", name, "--dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "error" in result.output and fragment.split()[0] in result.output


def test_an_occupied_target_directory_is_refused_and_left_alone(tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(RuleViolation, match="already exists and is not empty"):
        new_plugin("hexi_district", occupied)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    a_file = tmp_path / "a-file"
    a_file.write_text("", encoding="utf-8")
    with pytest.raises(RuleViolation, match="a-file"):
        new_plugin("hexi_district", a_file)

    empty = tmp_path / "empty"
    empty.mkdir()  # an empty directory is fine
    written = new_plugin("hexi_district", empty)
    assert empty / "hexi_district" / "__init__.py" in written


def test_the_default_target_is_the_name_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plugin", "new", "hexi-district"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hexi-district" / "hexi_district" / "style.py").is_file()
    assert 'name = "hexi-district-pass-mark"' in (tmp_path / "hexi-district" / "hexi_district" / "style.py").read_text(encoding="utf-8")

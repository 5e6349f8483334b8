"""The README's Python examples run as shown, in order, and print what they say; the GRANTs
it shows are what `civic store grants` prints."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_python_examples_run_as_shown():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for n, block in enumerate(blocks):
            exec(compile(block, f"README.md python block {n + 1}", "exec"), namespace)
    # what each print promises: a comment on its line, or on the line after it
    lines = blocks[0].splitlines()
    promised = []
    for n, line in enumerate(lines):
        if line.startswith("print("):
            promised.append(line.split("# ", 1)[1] if "# " in line else lines[n + 1].removeprefix("# "))
    assert printed.getvalue().splitlines() == promised == ["approved", "['Candidacy.Applied', 'Candidacy.Reviewed']"]
    app, owner = namespace["app"], namespace["owner"]
    hexi = app.campaign_by_code(owner, "hexi-2021")
    assert hexi.rubric["version"] == "2017-hexi.1"
    assert not app.rubric_of(hexi).level("jingpin").provisional


def test_the_grants_shown_are_what_civic_store_grants_prints():
    from typer.testing import CliRunner

    from core.cli import app as cli

    text = README.read_text(encoding="utf-8")
    shown = re.search(r"```sh\n\.venv/bin/civic (store grants [^\n|]*)\n```\n\n```sql\n(.*?)```", text, flags=re.S)
    assert shown, "the README shows `civic store grants` and its output"
    command, printed = shown[1], shown[2]
    assert f".venv/bin/civic {command} | psql" in text  # the set-up runs the same command
    result = CliRunner().invoke(cli, shlex.split(command))
    assert result.exit_code == 0, result.output
    assert result.output == printed

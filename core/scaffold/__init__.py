"""``civic plugin new``: generate an installable plugin package from the templates beside
this module (``template/``: ``*.tmpl`` files with ``{{placeholders}}``; ``__package__`` in
a path is the plugin's package name)."""

from __future__ import annotations

import importlib.util
import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from core import __version__ as core_version
from core.errors import InvalidInput, RuleViolation

NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_NAME = 40
PACKAGE_MARK = "__package__"


def names_for(name: str) -> dict[str, str]:
    """The placeholders of plugin ``name``; raises :class:`InvalidInput` for a bad name.

    ``my-city`` gives package ``my_city`` (also the plugin's entry-point name),
    distribution ``civic-my-city``, and ``my-city`` as the prefix of its rubric id, style
    and demo names (which must be unique among installed plugins).
    """
    allowed = (
        "a lowercase slug: a letter, then letters, digits and single '_' or '-' between them, "
        f"at most {MAX_NAME} characters (e.g. hexi_district)"
    )
    if not isinstance(name, str) or not NAME.match(name) or len(name) > MAX_NAME:
        raise InvalidInput("name", name, allowed)
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or package in {"core", "plugins", "tests", "api", "civic"}:
        raise InvalidInput("name", name, f"{allowed}; not a Python keyword or a package of the platform")
    spec = importlib.util.find_spec(package)
    if spec is not None:
        raise InvalidInput(
            "name", name, f"a name no importable module uses ({package!r} is already importable from {spec.origin})"
        )
    slug = package.replace("_", "-")
    return {
        "name": name,
        "package": package,
        "slug": slug,
        "dist": f"civic-{slug}",
        "class_name": "".join(part.capitalize() for part in package.split("_")),
        "civic_version": core_version,
    }


def _templates(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """(relative path, file) of every template, in a stable order."""
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                found.extend(_templates(entry, relative + "/"))
        elif entry.name.endswith(".tmpl"):
            found.append((relative.removesuffix(".tmpl"), entry))
    return found


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    leftover = re.search(r"\{\{\w+\}\}", text)
    if leftover:
        raise ValueError(f"template placeholder {leftover.group()} has no value")  # a template bug
    return text


def new_plugin(name: str, directory: Path | str | None = None) -> list[Path]:
    """Write plugin ``name``'s package into ``directory`` (default ``./NAME``), which must
    not exist or be empty. Returns the files written."""
    values = names_for(name)
    target = Path(directory) if directory is not None else Path.cwd() / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RuleViolation(
            f"target directory {str(target)!r} already exists and is not empty; "
            "choose another --dir or remove it (nothing was written)"
        )
    written = []
    for relative, template in _templates(resources.files(__package__).joinpath("template")):
        path = target / relative.replace(PACKAGE_MARK, values["package"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template.read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(path)
    return written

"""The wheel carries every package of the source tree (a non-editable `pip install .` has nothing else)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {
    "anonymizer": "anonymizer",
    "cli": "anonymizer.cli",
    "api": "anonymizer.api",
    "models": "anonymizer.bundled_models",
}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in MAPPED.items():
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *parts)))
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"

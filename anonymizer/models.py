"""Find the bundled model weights and check them against models/MANIFEST before use."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from .errors import ModelError

_lock = threading.Lock()


@dataclass(frozen=True)
class ModelEntry:
    name: str
    sha256: str
    licence: str
    package: str
    member: str


def _folder() -> Traversable:
    try:
        return resources.files("anonymizer.bundled_models")
    except ModuleNotFoundError as exc:
        raise ModelError("the bundled models folder is missing; reinstall the package") from exc


@cache
def manifest() -> dict[str, ModelEntry]:
    """The MANIFEST, by file name."""
    try:
        text = _folder().joinpath("MANIFEST").read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError("models/MANIFEST is missing; reinstall the package") from exc
    entries: dict[str, ModelEntry] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) != 5:
                raise ModelError(f"models/MANIFEST has a malformed line: {line[:60]!r}")
            entries[fields[0]] = ModelEntry(*fields)
    return entries


@cache
def _checked_bytes(name: str) -> bytes:
    entry = manifest().get(name)
    if entry is None:
        raise ModelError(f"model {name!r} is not listed in models/MANIFEST")
    try:
        data = _folder().joinpath(name).read_bytes()
    except OSError as exc:
        raise ModelError(f"model file {name} is missing; reinstall the package") from exc
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise ModelError(f"model file {name} does not match its checksum in models/MANIFEST")
    return data


def model_bytes(name: str) -> bytes:
    """The weights of `name`, verified against their sha256 (once per process)."""
    with _lock:
        return _checked_bytes(name)

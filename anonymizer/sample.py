"""The sample portrait shipped in the package (public-domain NASA photo; see data/SOURCE.txt)."""

from __future__ import annotations

from importlib import resources


def sample_photo() -> bytes:
    return resources.files("anonymizer").joinpath("data", "sample.jpg").read_bytes()

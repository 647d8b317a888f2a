"""Shared fixtures. Photos are made in code; ../shared/corpus is used where present.

Where ../shared is absent (a fresh clone elsewhere) corpus tests skip with a reason; CI sets
ANONYMIZER_REQUIRE_SHARED=1, which turns that skip into a failure so CI always runs them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ANONYMIZER_SHARED", ROOT.parent / "shared"))
SAMPLE = ROOT / "anonymizer" / "data" / "sample.jpg"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip (fail in CI) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is missing: corpus tests need ../shared (CI provides it)"
        if os.environ.get("ANONYMIZER_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def metadata_corpus() -> Path:
    return shared_path("corpus", "metadata")


@pytest.fixture(scope="session")
def faces_corpus() -> Path:
    return shared_path("corpus", "faces")


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    """The demo portrait shipped in the package (public-domain NASA photo, metadata planted)."""
    return SAMPLE.read_bytes()


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


@pytest.fixture(scope="session")
def portrait() -> Image.Image:
    """The sample portrait as an RGB image without metadata."""
    return Image.open(SAMPLE).convert("RGB")

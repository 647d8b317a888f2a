"""The short fuzz run: mutated photos of every format through inspect, strip and clean.

A few thousand inputs (FUZZ_EXAMPLES, default 3000, split over the format families), derandomized so CI
runs the same inputs every time. A failure is an exception other than the library's typed errors, an
input that takes over 2 s, or an output that `inspect` does not pass (see harness.py). For the long run:

    .venv/bin/python -m tests.fuzz.run --minutes 30        # random inputs, hangs and segfaults caught too
    FUZZ_EXAMPLES=200000 FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/fuzz -q
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import anonymizer

from ..conftest import shared_path
from . import harness, mutate, seeds

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3000"))
PER_FAMILY = max(1, EXAMPLES // len(seeds.FAMILIES))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about every damaged tag it skips


def _corpus_folder() -> Path | None:
    """../shared/corpus/metadata, or None where it is absent (the seeds made in code are used alone then;
    in CI, where ANONYMIZER_REQUIRE_SHARED=1, shared_path fails the test instead)."""
    try:
        return shared_path("corpus", "metadata")
    except pytest.skip.Exception:
        return None


@cache
def family_seeds(family: str) -> tuple[bytes, ...]:
    return seeds.all_seeds(_corpus_folder())[family]


mutation = st.tuples(
    st.sampled_from(mutate.NAMES),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 255),
)


@pytest.mark.parametrize("family", seeds.FAMILIES)
@settings(
    max_examples=PER_FAMILY,
    deadline=None,  # the harness bounds each input's CPU time itself (a loaded machine must not fail it)
    derandomize=not RANDOM,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    number=st.integers(0, 1000),
    mutations=st.lists(mutation, min_size=1, max_size=4),
    face=st.booleans(),
)
def test_mutated_files_end_in_a_clean_output_or_a_typed_error(
    family: str, number: int, mutations: list[mutate.Mutation], face: bool
) -> None:
    pool = family_seeds(family)
    data = mutate.apply(pool[number % len(pool)], mutations)
    outcome = harness.check(data, face)
    assert not outcome.problems, "; ".join(str(p) for p in outcome.problems)


@pytest.mark.parametrize("family", seeds.FAMILIES)
def test_every_seed_is_read_and_cleaned(family: str) -> None:
    """The seeds themselves must pass: otherwise the mutations start from a broken file and test little."""
    for data in seeds.built()[family]:
        assert not harness.check(data).problems
        assert not harness.check(data, face=True).problems
        assert not anonymizer.inspect(data).is_clean  # each seed carries planted metadata

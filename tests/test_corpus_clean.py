"""clean over every photo in ../shared/corpus/metadata: only image structure survives, --check agrees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anonymizer import CleanOptions, CorruptImageError, clean, inspect
from anonymizer.cli.main import app
from tests.test_metadata_corpus import UNDECODABLE, corpus_files, exiftool_leftovers

pytestmark = pytest.mark.corpus
runner = CliRunner()


@pytest.fixture(scope="module")
def cleaned(metadata_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> clean copy on disk (faces are not the point here: detection off)."""
    out = tmp_path_factory.mktemp("cleaned")
    copies = {}
    for path in corpus_files(metadata_corpus):
        if path.name in UNDECODABLE:
            continue
        result = clean(path.read_bytes(), CleanOptions(detect_faces=False))
        copies[path.name] = out / f"{path.stem}.{result.format.name}"
        copies[path.name].write_bytes(result.data)
    return copies


def test_every_decodable_photo_is_cleaned(metadata_corpus: Path, cleaned: dict[str, Path]) -> None:
    assert len(cleaned) == len(corpus_files(metadata_corpus)) - len(UNDECODABLE) >= 25
    for name, copy in cleaned.items():
        assert inspect(copy.read_bytes()).is_clean, name


def test_undecodable_photo_is_refused_not_passed(metadata_corpus: Path) -> None:
    for name in UNDECODABLE:
        with pytest.raises(CorruptImageError):
            clean((metadata_corpus / name).read_bytes(), CleanOptions(detect_faces=False))


def test_check_fails_on_originals_passes_on_copies(metadata_corpus: Path, cleaned: dict[str, Path]) -> None:
    for path in corpus_files(metadata_corpus):
        assert runner.invoke(app, ["inspect", "--check", str(path)]).exit_code == 1, path.name
    for name, copy in cleaned.items():
        assert runner.invoke(app, ["inspect", "--check", str(copy)]).exit_code == 0, name


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed (CI installs it)")
def test_exiftool_sees_only_structure_after_clean(cleaned: dict[str, Path]) -> None:
    left = exiftool_leftovers(next(iter(cleaned.values())).parent)
    assert not left, "\n".join(left)

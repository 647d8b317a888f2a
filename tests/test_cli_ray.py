"""`anonymize clean SRC --out-dir DST --engine ray`: the CLI's door to anonymizer.batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import anonymizer
from anonymizer.cli.exits import Exit
from tests.helpers import cli


def test_ray_needs_one_source_and_an_out_dir(tmp_path: Path) -> None:
    code, _, err = cli("clean", tmp_path, "--engine", "ray")
    assert code == Exit.USAGE and "--out-dir" in err


@pytest.mark.slow
def test_a_folder_cleaned_on_ray_through_the_cli(tmp_path: Path, sample_bytes: bytes) -> None:
    pytest.importorskip("ray")
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (src / name).write_bytes(sample_bytes)
    (src / "notes.txt").write_text("not a photo")
    code, out, err = cli("clean", src, "--out-dir", dst, "--engine", "ray", "--workers", "1",
                         "--detector", "centerface", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["done"], summary["failed"], summary["skipped"]) == (2, 0, 1)
    for name in ("a-clean.jpg", "b-clean.jpg"):
        assert anonymizer.inspect((dst / name).read_bytes()).is_clean
    rows = [json.loads(line) for line in Path(summary["manifest"]).read_text().splitlines()]
    assert sorted(r["status"] for r in rows) == ["done", "done", "skipped"]

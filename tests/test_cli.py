"""The command line: every subcommand, file safety, bad input, batches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from anonymizer import inspect
from anonymizer.cli.main import app
from tests.conftest import encode

runner = CliRunner()


@pytest.fixture
def photo(tmp_path: Path, sample_bytes: bytes) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(sample_bytes)
    return path


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", ["clean", "strip", "inspect", "detect", "demo", "serve"])
def test_every_subcommand_has_help(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0 and "Usage" in out and len(out) > 200


def test_strength_help_states_each_methods_default_from_the_registry() -> None:
    from anonymizer import obscure
    from anonymizer.cli.main import _strengths

    text = _strengths()
    assert f"1 to {obscure.MAX_CELLS}" in text
    for method, spec in obscure.METHODS.items():
        assert (f"{spec.default_cells} for {method.value}" in text) == (spec.default_cells is not None)


def test_clean_writes_next_to_input(photo: Path) -> None:
    code, out, err = invoke("clean", photo)
    target = photo.with_name("photo-clean.jpg")
    assert code == 0, err
    assert target.exists() and inspect(target.read_bytes()).is_clean
    assert "face" in out and "photo-clean.jpg" in out


def test_face_shape_box_obscures_more_than_the_ellipse(photo: Path, tmp_path: Path) -> None:
    red = {}
    for shape in ("ellipse", "box"):
        out = tmp_path / f"{shape}.png"
        code, _, err = invoke("clean", photo, "--output", out, "--method", "fill", "--color", "#ff0000",
                              "--face-shape", shape, "--detector", "centerface")
        assert code == 0, err
        rgb = np.asarray(Image.open(out).convert("RGB")).astype(int)
        red[shape] = int(((rgb[:, :, 0] > 250) & (rgb[:, :, 1] < 5) & (rgb[:, :, 2] < 5)).sum())
    assert red["ellipse"] > 0 and red["box"] > red["ellipse"] * 1.15  # a box has 4/pi of its ellipse's area


def test_never_overwrites_without_force(photo: Path) -> None:
    target = photo.with_name("photo-clean.jpg")
    target.write_bytes(b"keep me")
    code, _, err = invoke("clean", photo)
    assert code == 6 and "--force" in err and target.read_bytes() == b"keep me"  # checked before any work
    code, _, _ = invoke("clean", photo, "--force")
    assert code == 0 and target.read_bytes() != b"keep me"


def test_output_file_and_format_from_suffix(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "safe.png"
    code, _, err = invoke("clean", photo, "-o", out)
    assert code == 0, err
    assert Image.open(out).format == "PNG"


def test_out_dir_and_directory_walk(tmp_path: Path, sample_bytes: bytes) -> None:
    src = tmp_path / "in" / "sub"
    src.mkdir(parents=True)
    (src / "a.jpg").write_bytes(sample_bytes)
    (src / "b.png").write_bytes(encode(Image.new("RGB", (50, 50), "white"), "PNG"))
    (src / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = invoke("clean", tmp_path / "in", "--out-dir", out, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["ok"] == 2 and summary["failures"] == 0
    assert sorted(p.name for p in out.iterdir()) == ["a-clean.jpg", "b-clean.png"]
    assert summary["files"][0]["faces_obscured"] >= 1


def test_in_place_replaces_original_with_verified_copy(photo: Path) -> None:
    code, _, err = invoke("clean", photo, "--in-place")
    assert code == 0, err
    assert inspect(photo.read_bytes()).is_clean
    assert [p.name for p in photo.parent.iterdir()] == ["photo.jpg"]  # no temporary file left


def test_bad_files_in_a_batch(tmp_path: Path, photo: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not a photo")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(photo.read_bytes()[:5000])
    code, out, err = invoke("clean", junk, truncated, photo)
    assert code == 3  # input errors; the batch went on
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert any("junk.jpg" in line and "not an image" in line for line in lines)
    assert any("cut.jpg" in line for line in lines)
    assert not (tmp_path / "junk-clean.jpg").exists() and not (tmp_path / "cut-clean.jpg").exists()
    assert (tmp_path / "photo-clean.jpg").exists()
    assert "1 file(s), 2 failed" in out


def test_symlink_refused(tmp_path: Path, photo: Path) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)
    code, _, err = invoke("clean", link)
    assert code == 6 and "symbolic link" in err
    assert not (tmp_path / "link-clean.jpg").exists()


def test_output_permissions_never_wider(photo: Path) -> None:
    photo.chmod(0o600)
    assert invoke("clean", photo)[0] == 0
    assert (photo.with_name("photo-clean.jpg").stat().st_mode & 0o777) == 0o600


def test_bad_options_are_one_line(photo: Path) -> None:
    code, out, err = invoke("clean", photo, "--box", "1,2,3")
    assert code == 2 and "box" in err and "Traceback" not in out + err


def test_inspect_json_and_check(photo: Path) -> None:
    code, out, _ = invoke("inspect", photo, "--json")
    assert code == 0
    report = json.loads(out)["files"][0]
    assert not report["clean"] and any(f["category"] == "location" for f in report["findings"])
    assert invoke("inspect", photo, "--check")[0] == 1
    invoke("clean", photo)
    assert invoke("inspect", photo.with_name("photo-clean.jpg"), "--check")[0] == 0


def test_inspect_readable(photo: Path) -> None:
    code, out, _ = invoke("inspect", photo)
    assert code == 0 and "GPS" in out and "location" in out


def test_detect_table_json_preview(photo: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("detect", photo, "--json")
    faces = json.loads(out)["faces"]
    assert code == 0 and len(faces) >= 1 and faces[0]["box"]["w"] > 50
    preview = tmp_path / "boxes.png"
    code, out, _ = invoke("detect", photo, "--preview", preview)
    assert code == 0 and preview.exists() and Image.open(preview).size == (512, 512)
    assert inspect(preview.read_bytes()).is_clean


def test_demo(tmp_path: Path) -> None:
    code, out, err = invoke("demo", "--out-dir", tmp_path / "demo")
    assert code == 0, err
    clean_copy = tmp_path / "demo" / "sample-clean.jpg"
    assert clean_copy.exists() and inspect(clean_copy.read_bytes()).is_clean
    assert "GPS" in out and "sample-clean.jpg" in out


def test_strip_keeps_faces(photo: Path) -> None:
    code, _out, err = invoke("strip", photo)
    assert code == 0, err
    stripped = photo.with_name("photo-clean.jpg")
    assert inspect(stripped.read_bytes()).is_clean
    assert Image.open(stripped).size == (512, 512)


def test_strip_keep_icc_keeps_the_colour_profile(tmp_path: Path) -> None:
    from tests.test_metadata_keep_icc import KEPT_PROFILE_NOTE, WIDE, dirty

    path = tmp_path / "wide.jpg"
    path.write_bytes(dirty("JPEG"))
    code, out, err = invoke("strip", path, "--keep-icc", "--json")
    assert code == 0, err
    kept = path.with_name("wide-clean.jpg")
    from anonymizer.metadata.icc import rebuild_profile

    assert Image.open(kept).info.get("icc_profile") == rebuild_profile(WIDE)  # its colour tags only
    assert {f.category.value for f in inspect(kept.read_bytes()).identifying} == {"colour profile"}
    info = json.loads(out)["files"][0]
    assert KEPT_PROFILE_NOTE in info["notes"] and info["lossless"] is True
    code, out, err = invoke("strip", path, "--force")
    assert code == 0, err
    assert "icc_profile" not in Image.open(kept).info and "removed" in out
    assert inspect(kept.read_bytes()).is_clean


def test_installed_entry_point() -> None:
    exe = Path(sys.executable).with_name("anonymize")
    command = [str(exe)] if exe.exists() else [shutil.which("anonymize") or "anonymize"]
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    assert result.returncode == 0 and "clean" in result.stdout and "inspect" in result.stdout


def test_strip_output_options(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "named.jpg"
    code, _, err = invoke("strip", photo, "-o", out)
    assert code == 0, err
    assert inspect(out.read_bytes()).is_clean
    code, _, err = invoke("strip", photo, "--in-place", "--json")
    assert code == 0, err
    assert inspect(photo.read_bytes()).is_clean


def test_in_place_refuses_a_format_change(photo: Path) -> None:
    before = photo.read_bytes()
    code, _, err = invoke("clean", photo, "--in-place", "--format", "png")
    assert code == 6 and "in place" in err
    assert photo.read_bytes() == before


def test_output_never_replaces_the_original(photo: Path) -> None:
    before = photo.read_bytes()
    code, _, err = invoke("clean", photo, "-o", photo, "--force")
    assert code == 6 and "original" in err
    assert photo.read_bytes() == before


def test_quiet_stderr_and_clean_exit(photo: Path) -> None:
    """Native libraries print nothing over our output, and closing their tasks at exit prints no traceback."""
    exe = Path(sys.executable).with_name("anonymize")
    command = [str(exe) if exe.exists() else "anonymize", "clean", str(photo), "--background", "blur",
               "--detector", "mediapipe"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "photo-clean.jpg" in result.stdout

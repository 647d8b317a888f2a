"""The command line with videos: folders that mix photos and videos, strip, inspect and clean, streamed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anonymizer.cli.exits import Exit
from tests.helpers import cli
from tests.video_fixtures import frame_count, frame_digests, make_clip, packets

runner = CliRunner()
APPLE = {"com.apple.quicktime.location.ISO6709": "+48.8584+002.2945/", "com.apple.quicktime.make": "Apple",
         "com.apple.quicktime.model": "iPhone 15"}  # fmt: skip


@pytest.fixture
def mixed(tmp_path: Path, sample_bytes: bytes) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(sample_bytes)
    (folder / "clip.mov").write_bytes(make_clip(1.0, 10, (96, 64), metadata=APPLE, container="mov"))
    return folder


def test_strip_a_folder_of_photos_and_videos_then_check(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "safe"
    code, text, err = cli("strip", mixed, "--out-dir", out, "--json")
    assert code == 0, err
    done = {Path(f["file"]).name: f for f in json.loads(text)["files"]}
    assert set(done) == {"photo.jpg", "clip.mov"}
    assert done["clip.mov"]["format"] == "mov" and done["clip.mov"]["metadata_removed"] > 0
    assert done["clip.mov"]["bytes"] == (out / "clip-clean.mov").stat().st_size
    before, after = (mixed / "clip.mov").read_bytes(), (out / "clip-clean.mov").read_bytes()
    assert packets(after)["audio0"] == packets(before)["audio0"]  # copied bit-exact
    assert frame_digests(after) == frame_digests(before)  # x264's SEI user data dropped, pictures unchanged
    assert cli("inspect", "--check", out)[0] == 0
    assert cli("inspect", "--check", mixed)[0] == Exit.FOUND


def test_inspect_names_the_video_traps(mixed: Path) -> None:
    code, text, _ = cli("inspect", mixed / "clip.mov", "--json")
    findings = json.loads(text)["files"][0]["findings"]
    categories = {f["category"] for f in findings if f["risk"] != "none"}
    assert code == 0 and {"location", "device"} <= categories


def test_clean_a_video_writes_a_verified_mp4(mixed: Path) -> None:
    code, text, err = cli("clean", mixed / "clip.mov", "--json", "--audio", "drop", "--no-faces",
                          "--box", "0,0,20,20")
    assert code == 0, err
    result = json.loads(text)["files"][0]
    target = mixed / "clip-clean.mp4"
    assert result["format"] == "mp4" and result["video"]["audio_kept"] is False and result["regions_obscured"]
    assert target.exists() and frame_count(target.read_bytes()) == 10
    assert cli("inspect", "--check", target)[0] == 0


def test_a_video_that_cannot_be_stripped_leaves_nothing(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    clip.write_bytes(make_clip(0.5, 10, (64, 48), container="avi", audio=False, codec="mpeg4"))
    code, _, err = cli("strip", clip)
    assert code == Exit.INPUT and "AVI" in err.upper()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]


def test_clean_a_video_to_a_named_output(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    code, _, err = cli("clean", mixed / "clip.mov", "-o", out, "--no-faces")
    assert code == 0, err
    assert frame_count(out.read_bytes()) == 10
    code, _, err = cli("clean", mixed / "clip.mov", "-o", tmp_path / "out.mov", "--no-faces")
    assert code == Exit.USAGE and "name it .mp4" in err
    code, _, err = cli("clean", mixed / "photo.jpg", "-o", tmp_path / "photo.mp4", "--no-faces")
    assert code == Exit.FILES and "name it .jpg" in err and not (tmp_path / "photo.mp4").exists()

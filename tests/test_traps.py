"""The traps a new user met (issue 13), each with the command that showed it, and the format registry."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

import anonymizer
from anonymizer import CleanOptions, InternalError, ModelError, OutputFormat, formats, imaging, pipeline, verify
from anonymizer.cli.exits import MEANINGS, Exit
from anonymizer.errors import CorruptImageError, VerificationError
from anonymizer.types import Detection
from tests.conftest import encode
from tests.helpers import cli

runner = CliRunner()
FAST = ("--detector", "centerface")


@pytest.fixture
def photo(tmp_path: Path, sample_bytes: bytes) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(sample_bytes)
    return path


# --- the registry: one place for each fact --------------------------------------------------------------------


def test_output_formats_are_the_writable_formats_of_the_registry() -> None:
    assert {f.value for f in OutputFormat} - {"same"} == {f.name for f in formats.writable()}


@pytest.mark.parametrize("fmt", list(formats.FORMATS.values()), ids=lambda f: f.name)
def test_every_suffix_names_its_own_format_and_nothing_else(fmt: formats.Format) -> None:
    assert fmt.suffixes and all(s.startswith(".") and s == s.lower() for s in fmt.suffixes)
    for suffix in fmt.suffixes:
        assert formats.by_suffix(suffix.upper()) is fmt
    assert fmt.extension == fmt.suffixes[0]
    if fmt.kind is formats.Kind.PHOTO:
        assert fmt.reader is not None  # every photo format can be inspected
        assert fmt.writable or formats.FORMATS[fmt.fallback].writable  # and "same" always has a writable answer
        assert formats.FORMATS[fmt.stripped_as].kind is formats.Kind.PHOTO


@pytest.mark.parametrize("fmt", formats.writable(), ids=lambda f: f.name)
def test_each_writable_format_is_recognised_from_what_it_writes(fmt: formats.Format) -> None:
    pixels = np.zeros((16, 16, 3), np.uint8)
    data = imaging.encode(pixels, fmt, 90)
    assert formats.sniff(data) is fmt
    assert imaging.decode(data).format is fmt


def test_videos_are_recognised_not_mistaken_for_heif() -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)
    mov = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(64)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    assert formats.sniff(mp4).name == "mp4" and formats.sniff(mov).name == "mov" and formats.sniff(heic).name == "heif"
    with pytest.raises(anonymizer.UnsupportedFormatError, match="video, not a photo"):
        imaging.decode(mp4)


def test_bigtiff_is_named_in_the_refusal() -> None:
    with pytest.raises(anonymizer.UnsupportedFormatError, match="BigTIFF"):
        anonymizer.inspect(b"II+\x00\x08\x00\x00\x00" + bytes(64))


# --- selection by content ---------------------------------------------------------------------------------------


def test_folder_walk_finds_photos_by_content_and_names_what_it_skipped(tmp_path: Path, sample_bytes: bytes) -> None:
    album = tmp_path / "album"
    album.mkdir()
    for name in ("a.jfif", "b.JPG_large", "no_extension"):
        (album / name).write_bytes(sample_bytes)
    (album / "notes.txt").write_text("shopping list")
    code, out, err = cli("strip", album, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert sorted(Path(f["file"]).name for f in report["files"]) == ["a.jfif", "b.JPG_large", "no_extension"]
    assert [Path(s["file"]).name for s in report["skipped"]] == ["notes.txt"]
    assert (album / "no_extension-clean.jpg").exists() and (album / "b-clean.jpg").exists()


def test_an_empty_folder_or_one_without_photos_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("clean", empty)
    assert code == Exit.INPUT and "no photos or videos found" in err
    (empty / "readme.md").write_text("# hi")
    code, _out, err = cli("inspect", empty)
    assert code == Exit.INPUT and "1 other file(s) skipped" in err


def test_missing_out_dir_is_made_and_said(tmp_path: Path, photo: Path) -> None:
    safe = tmp_path / "safe"
    code, _out, err = cli("strip", photo, "--out-dir", safe)
    assert code == 0, err
    assert "created folder" in err and (safe / "photo-clean.jpg").exists()


def test_an_unwritable_out_dir_fails_before_any_work(tmp_path: Path, photo: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    code, out, err = cli("clean", photo, "--out-dir", blocker / "sub", *FAST)
    assert code == Exit.FILES and "cannot create the output folder" in err and "->" not in out


def test_existing_outputs_fail_before_any_work(tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo.with_name("photo-clean.jpg").write_bytes(b"keep me")
    calls: list[int] = []
    monkeypatch.setattr(pipeline, "clean", lambda *a, **k: calls.append(1))
    code, _, err = cli("clean", photo, "--no-faces")
    assert code == Exit.FILES and "--force" in err and calls == []


# --- output names match content -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "out.heic"), "HEIC cannot be written"),
        (("--format", "webp", "-o", "x.jpg"), "--format says webp"),
        (("-o", "x.bmp"), "names no format"),
    ],
)
def test_a_contradicting_output_name_is_refused_before_any_work(
    photo: Path, args: tuple[str, ...], message: str
) -> None:
    code, _out, err = cli("clean", photo, "--no-faces", *args)
    assert code == Exit.USAGE and message in err
    assert not list(photo.parent.glob("out*")) and not list(photo.parent.glob("x.*"))


def test_strip_output_name_must_match_its_format(photo: Path) -> None:
    code, _, err = cli("strip", photo, "-o", photo.with_name("x.png"))
    assert code == Exit.FILES and "name it .jpg" in err


def test_a_png_named_jpg_comes_out_as_png(tmp_path: Path, portrait: Image.Image) -> None:
    liar = tmp_path / "holiday.jpg"
    liar.write_bytes(encode(portrait.resize((64, 64)), "PNG"))
    code, _, err = cli("clean", liar, "--no-faces")
    assert code == 0, err
    out = tmp_path / "holiday-clean.png"
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detect_preview_must_be_named_png(photo: Path) -> None:
    code, _, err = cli("detect", photo, "--preview", photo.with_name("p.jpg"), *FAST)
    assert code == Exit.USAGE and "name it .png" in err and not photo.with_name("p.jpg").exists()


# --- text shown as it is ----------------------------------------------------------------------------------------------


def test_square_brackets_in_names_and_metadata_are_shown(tmp_path: Path, portrait: Image.Image) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "[home] 12 Rue X")
    path = tmp_path / "holiday [bold].png"
    out = io.BytesIO()
    portrait.resize((32, 32)).save(out, "PNG", pnginfo=info)
    path.write_bytes(out.getvalue())
    _, text, _ = cli("inspect", path)
    text = " ".join(text.split())  # the table wraps long lines
    assert "holiday [bold].png" in text and "[home]" in text
    code, text, _err = cli("strip", path)
    assert code == 0 and "holiday [bold].png" in text


def test_an_options_error_keeps_its_brackets(photo: Path, tmp_path: Path) -> None:
    regions = tmp_path / "r.json"
    regions.write_text('{"boxes": [[1, 2, 3]]}')
    code, _, err = cli("clean", photo, "--strokes", regions)
    assert code == Exit.USAGE and "boxes[0]" in err


# --- help, flags, version --------------------------------------------------------------------------------


def test_help_shows_no_bool_placeholder_and_lists_exit_codes() -> None:
    code, out, _ = cli("clean", "-h")
    assert code == 0 and "<bool>" not in out and "--force" in out
    code, out, _ = cli("--help")
    assert all(f"{int(c)} " in out for c in MEANINGS)


def test_a_flag_given_a_value_is_explained(photo: Path) -> None:
    code, _, err = cli("clean", photo, "--force", "true")
    assert code == Exit.USAGE and "flags take no value" in err


def test_version() -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"anonymize {anonymizer.__version__}"


# --- one summary, one set of options ---------------------------------------------------------------------------------


def test_summary_keeps_regions_when_faces_were_found_too(photo: Path) -> None:
    code, out, err = cli("clean", photo, "--box", "0,0,20,20", *FAST)
    assert code == 0, err
    assert "1 face obscured" in out and "regions obscured" in out


def test_regions_obscured_is_false_for_faces_alone(photo: Path) -> None:
    code, out, _err = cli("clean", photo, "--json", *FAST)
    files = json.loads(out)["files"]
    assert code == 0 and files[0]["faces_obscured"] == 1 and files[0]["regions_obscured"] is False


def test_clean_and_strip_json_share_one_shape(photo: Path) -> None:
    _, cleaned, _ = cli("clean", photo, "--json", "--no-faces")
    photo.with_name("photo-clean.jpg").unlink()
    _, stripped, _ = cli("strip", photo, "--json")
    a, b = json.loads(cleaned)["files"][0], json.loads(stripped)["files"][0]
    assert a.keys() == b.keys()
    assert isinstance(a["metadata_removed"], int) and isinstance(b["metadata_removed"], int)
    assert a["metadata_removed"] == b["metadata_removed"] == 11


@pytest.mark.parametrize("args", [("--strength", "20"), ("--face-scale", "10")])
def test_bad_options_fail_up_front_the_same_way(photo: Path, args: tuple[str, ...]) -> None:
    code, out, _err = cli("clean", photo, *args)
    assert code == Exit.USAGE and "->" not in out


def test_a_missing_strokes_file_is_named(photo: Path) -> None:
    code, _, err = cli("clean", photo, "--strokes", "missing.json")
    assert code == Exit.FILES and "--strokes missing.json" in err


def test_clean_takes_the_faces_detect_printed(photo: Path, tmp_path: Path) -> None:
    code, out, _ = cli("detect", photo, "--json", *FAST)
    assert code == 0
    faces = tmp_path / "faces.json"
    faces.write_text(out)
    code, out, err = cli("clean", photo, "--faces", faces, "--json")
    result = json.loads(out)["files"][0]
    assert code == 0, err
    assert result["faces_obscured"] == 1 and result["faces"][0]["source"] == "user"


def test_keep_icc_then_check_can_allow_the_profile(tmp_path: Path, portrait: Image.Image) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "p.jpg"
    path.write_bytes(encode(portrait.resize((32, 32)), "JPEG", icc_profile=icc))
    assert cli("strip", path, "--keep-icc")[0] == 0
    kept = tmp_path / "p-clean.jpg"
    if anonymizer.inspect(kept.read_bytes()).is_clean:
        pytest.skip("the profile was not kept (nothing to allow)")
    assert cli("inspect", "--check", kept)[0] == Exit.FOUND
    assert cli("inspect", "--check", "--allow", "colour profile", kept)[0] == 0
    assert cli("inspect", "--check", "--allow", "colour", kept)[0] == Exit.USAGE


# --- one error boundary --------------------------------------------------------------------------------


class Exploding:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        raise self.exc


def test_a_model_failure_is_a_model_error(sample_bytes: bytes) -> None:
    import cv2

    with pytest.raises(ModelError, match="model failed"):
        anonymizer.clean(sample_bytes, detector=Exploding(cv2.error("inference blew up")))


def test_our_own_bug_is_an_internal_error_not_corrupt_input(
    sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise TypeError("unsupported operand")

    monkeypatch.setattr(imaging, "_to_array", broken)
    with pytest.raises(InternalError, match="TypeError") as caught:
        anonymizer.clean(sample_bytes, CleanOptions(detect_faces=False))
    assert not isinstance(caught.value, CorruptImageError)


def test_a_broken_output_is_a_verification_error_not_corrupt_input(
    sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = imaging.encode
    monkeypatch.setattr(imaging, "encode", lambda *a, **k: real(*a, **k)[:-400])
    with pytest.raises(VerificationError, match="nothing was written"):
        anonymizer.clean(sample_bytes, CleanOptions(detect_faces=False))


def test_a_batch_goes_on_past_an_internal_error(tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second = tmp_path / "second.jpg"
    second.write_bytes(photo.read_bytes())
    real = verify.strip
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify, "strip", flaky)
    code, out, err = cli("strip", photo, second)
    assert code == Exit.INTERNAL and "internal error" in err and "Traceback" not in out + err
    assert (tmp_path / "second-clean.jpg").exists() and not (tmp_path / "photo-clean.jpg").exists()


def test_the_readme_lists_every_exit_code() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for code in MEANINGS:
        assert f"\n| {int(code)} | " in readme



def test_debug_shows_the_traceback_of_a_bug(photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(verify, "strip", broken)
    code, out, err = cli("strip", photo)
    assert code == Exit.INTERNAL and "Traceback" not in out + err
    photo.with_name("photo-clean.jpg").unlink(missing_ok=True)
    code, out, err = cli("--debug", "strip", photo)
    assert code == Exit.INTERNAL and "Traceback" in err and "KeyError" in err

"""The pipeline end to end: faces obscured, metadata gone, upright, verified before returning."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections import Counter

import numpy as np
import piexif
import pytest
from PIL import Image

from anonymizer import (
    Box,
    CleanOptions,
    ModelError,
    OutputFormat,
    Regions,
    VerificationError,
    clean,
    detect,
    inspect,
    pipeline,
)
from anonymizer.types import Stroke
from tests.conftest import encode
from tests.helpers import FakeDetector

# The face in the sample portrait, as found by BlazeFace (x, y, w, h): a little inside the real face.
FACE = Box(177, 82, 95, 95)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


def crop(a: np.ndarray, box: Box) -> np.ndarray:
    return a[int(box.y) : int(box.y + box.h), int(box.x) : int(box.x + box.w)]


def test_sample_has_metadata_to_remove(sample_bytes: bytes) -> None:
    report = inspect(sample_bytes)
    categories = {f.category.value for f in report.identifying}
    assert {"location", "identity", "device"} <= categories


def test_clean_sample_obscures_face_and_strips_everything(sample_bytes: bytes) -> None:
    result = clean(sample_bytes)
    assert len(result.faces) >= 1
    found = result.faces[0].box
    assert found.iou(FACE) > 0.4
    before, after = pixels(sample_bytes), pixels(result.data)
    assert np.abs(crop(before, FACE) - crop(after, FACE)).mean() > 20  # the face is gone
    corner = Box(400, 400, 100, 100)  # far from the face: untouched apart from JPEG noise
    assert np.abs(crop(before, corner) - crop(after, corner)).mean() < 4
    assert inspect(result.data).findings == () or inspect(result.data).is_clean
    assert result.removed is not None and not result.removed.is_clean


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed (CI installs it)")
def test_exiftool_sees_only_structure(sample_bytes: bytes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "clean.jpg"
    out.write_bytes(clean(sample_bytes).data)
    lines = subprocess.run(["exiftool", "-a", "-G1", str(out)], capture_output=True, text=True, check=True).stdout
    groups = {line.split("]")[0].strip("[ ") for line in lines.splitlines()}
    assert groups <= {"ExifTool", "System", "File", "JFIF", "Composite"}, lines


def test_orientation_6_comes_out_upright(portrait: Image.Image) -> None:
    stored = portrait.rotate(90, expand=True)  # stored sideways; tag 6 tells viewers to turn it back
    data = encode(stored, "JPEG", quality=95, exif=piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}}))
    result = clean(data)
    assert result.orientation_applied == 6
    assert (result.width, result.height) == portrait.size
    assert len(result.faces) >= 1 and result.faces[0].box.iou(FACE) > 0.3  # found in the upright image
    out = Image.open(io.BytesIO(result.data))
    assert out.size == portrait.size and not out.getexif()


def test_user_face_list_replaces_detection(sample_bytes: bytes) -> None:
    user = Box(10, 10, 50, 50)
    result = clean(sample_bytes, CleanOptions(faces=(user,)), detector=FakeDetector(FACE))
    assert [d.box for d in result.faces] == [user]
    before, after = pixels(sample_bytes), pixels(result.data)
    assert np.abs(crop(before, FACE) - crop(after, FACE)).mean() < 6  # the face was not asked for


def test_no_faces_obscures_only_regions(sample_bytes: bytes) -> None:
    stroke = Stroke(((300.0, 300.0), (400.0, 320.0)), 15)
    opts = CleanOptions(detect_faces=False, regions=Regions(strokes=(stroke,)))
    result = clean(sample_bytes, opts, detector=FakeDetector(FACE))
    assert result.faces == () and result.regions_obscured
    before, after = pixels(sample_bytes), pixels(result.data)
    assert np.abs(crop(before, Box(310, 300, 80, 12)) - crop(after, Box(310, 300, 80, 12))).mean() > 10


@pytest.mark.parametrize("fmt", [OutputFormat.JPEG, OutputFormat.PNG, OutputFormat.WEBP])
def test_output_formats(sample_bytes: bytes, fmt: OutputFormat) -> None:
    result = clean(sample_bytes, CleanOptions(output_format=fmt), detector=FakeDetector(FACE))
    assert result.format.name == fmt.value
    assert Image.open(io.BytesIO(result.data)).format == {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt.value]
    assert inspect(result.data).is_clean


def test_fail_closed_on_leftover_metadata(sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the encoder ever let metadata through, clean raises instead of returning it."""
    real_encode = pipeline.imaging.encode
    gps = piexif.dump(
        {"GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((50, 1), (0, 1), (0, 1))}}
    )

    def leaky_insert(px: np.ndarray, fmt: object, quality: int, icc: bytes | None = None) -> bytes:
        out = io.BytesIO()
        piexif.insert(gps, real_encode(px, fmt, quality), out)  # type: ignore[arg-type]
        return out.getvalue()

    monkeypatch.setattr(pipeline.imaging, "encode", leaky_insert)
    with pytest.raises(VerificationError, match="metadata"):
        clean(sample_bytes, detector=FakeDetector(FACE))


def test_model_that_cannot_load_is_an_error(sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from anonymizer import models
    from anonymizer.faces import base

    entry = models.manifest()["face_detection_short_range.tflite"]
    tampered = dict(models.manifest())
    tampered[entry.name] = models.ModelEntry(entry.name, "0" * 64, entry.licence, entry.package, entry.member)
    monkeypatch.setattr(models, "manifest", lambda: tampered)
    models._checked_bytes.cache_clear()
    monkeypatch.setattr(base, "_instances", {})
    try:
        with pytest.raises(ModelError, match="checksum"):
            clean(sample_bytes, CleanOptions(detector="mediapipe-short"))
    finally:
        models._checked_bytes.cache_clear()


def test_detect_reports_upright_size(sample_bytes: bytes) -> None:
    result = detect(sample_bytes, FakeDetector(FACE))
    assert (result.width, result.height) == (512, 512)
    assert [d.box for d in result.faces] == [FACE]


def test_wide_gamut_colours_converted_to_srgb(metadata_corpus) -> None:  # type: ignore[no-untyped-def]
    """An iPhone HEIC in Display P3: pixels are converted to sRGB before the profile is dropped."""
    data = (metadata_corpus / "heic_gps_iphone8_IMG_1034.heic").read_bytes()
    decoded = pipeline.imaging.decode(data)
    assert "P3" in decoded.colour_profile
    result = clean(data, CleanOptions(detect_faces=False))
    assert any("sRGB" in note for note in result.notes)
    assert inspect(result.data).is_clean


def test_strength_past_the_floor_refused_even_without_faces(sample_bytes: bytes) -> None:
    from anonymizer import OptionsError

    with pytest.raises(OptionsError):
        clean(sample_bytes, CleanOptions(detect_faces=False, strength=1000))


def test_keep_icc_keeps_only_the_profile(metadata_corpus) -> None:  # type: ignore[no-untyped-def]
    from anonymizer import Category, Finding

    data = (metadata_corpus / "heic_gps_iphone8_IMG_1034.heic").read_bytes()
    result = clean(data, CleanOptions(detect_faces=False, keep_icc=True))
    left = inspect(result.data).identifying
    assert left and {f.category for f in left} == {Category.COLOUR_PROFILE}
    assert not any("sRGB" in note for note in result.notes) and any("colour profile" in n for n in result.notes)
    assert Image.open(io.BytesIO(result.data)).info.get("icc_profile")
    # The kept profile is a rebuilt one (colour tags only, a neutral description): the original, with its own
    # description, counts as removed, like everything else the photo carried.
    def count(findings: tuple[Finding, ...]) -> Counter[tuple[Category, str]]:
        return Counter((f.category, f.what) for f in findings)

    assert result.removed is not None
    assert count(result.removed.identifying) == count(inspect(data).identifying)
    assert len(left) == 1 and left[0].what.startswith("colour profile 'colour profile'")


def test_keep_icc_still_fails_closed_on_anything_else(sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    real_encode = pipeline.imaging.encode

    def leaky(px: np.ndarray, fmt: object, quality: int, icc: bytes | None = None) -> bytes:
        out = io.BytesIO()
        piexif.insert(piexif.dump({"0th": {piexif.ImageIFD.Artist: b"Jane"}}), real_encode(px, fmt, quality), out)  # type: ignore[arg-type]
        return out.getvalue()

    monkeypatch.setattr(pipeline.imaging, "encode", leaky)
    with pytest.raises(VerificationError, match=r"(?i)artist"):
        clean(sample_bytes, CleanOptions(keep_icc=True), detector=FakeDetector(FACE))


def test_detect_decodes_a_large_jpeg_only_as_large_as_the_detector_looks(portrait: Image.Image) -> None:
    from anonymizer import get_detector, imaging
    from tests.helpers import gps_exif

    big = encode(portrait.resize((3000, 2000)), "JPEG", quality=90, exif=gps_exif(orientation=6))
    detector = get_detector("fast")
    decoded = imaging.decode(big, at_least=1024)
    assert decoded.full_size == (2000, 3000) and max(decoded.width, decoded.height) < 3000  # upright, reduced
    result = detect(big, detector)
    full = detector.detect(imaging.decode(big).pixels[:, :, :3])
    assert (result.width, result.height) == (2000, 3000) and len(result.faces) == len(full) >= 1
    by_x = sorted(result.faces, key=lambda d: d.box.x), sorted(full, key=lambda d: d.box.x)
    for ours, theirs in zip(*by_x, strict=True):
        assert abs(ours.box.x - theirs.box.x) < 12 and abs(ours.box.w - theirs.box.w) < 12

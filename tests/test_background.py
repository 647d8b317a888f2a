"""The background option: the people are kept, everything else (the room, the flag, the model) is destroyed."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from anonymizer import Box, CleanOptions, ModelError, OutputFormat, Regions, clean, segmentation
from anonymizer.options import Background, Method
from anonymizer.types import Stroke

# Areas of the 512 x 512 sample portrait (rows, columns), by eye.
FACE = (slice(60, 150), slice(185, 265))  # her face
TORSO = (slice(260, 440), slice(60, 260))  # the orange suit, left of the helmet
FLAG = (slice(40, 240), slice(0, 50))  # the flag at the left edge
ROCKET = (slice(20, 250), slice(380, 450))  # the spaceship model at the right
PATCH = (385.0, 170.0)  # the round mission patch on the suit (row, column)

PNG = OutputFormat.PNG


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def original(sample_bytes: bytes) -> np.ndarray:
    return decoded(clean(sample_bytes, CleanOptions(detect_faces=False, output_format=PNG)).data)


@pytest.fixture(scope="module")
def confidence(original: np.ndarray) -> np.ndarray:
    return segmentation.person_mask(original)


@pytest.fixture(scope="module")
def far_background(confidence: np.ndarray) -> np.ndarray:
    """Pixels surely not a person: confidence < 0.1 and more than 8 px from the person's edge."""
    person = (confidence >= 0.1).astype(np.uint8)
    grown = cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17)))
    return np.asarray(grown == 0)


def unchanged(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel: all three channels equal."""
    return np.all(a == b, axis=-1)


def detail_correlation(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Correlation of the fine detail (image minus its 9 x 9 local mean) of a and b over `where`."""

    def detail(img: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return grey - cv2.blur(grey, (9, 9))

    return float(np.corrcoef(detail(a)[where], detail(b)[where])[0, 1])


def assert_background_destroyed(out: np.ndarray, original: np.ndarray, where: np.ndarray) -> None:
    assert where.sum() > 0.2 * where.size  # the measurement covers a large part of the photo
    assert unchanged(out, original)[where].mean() < 0.01
    assert abs(detail_correlation(out, original, where)) < 0.1


# ---------------------------------------------------------------- the mask


def test_person_mask_finds_the_astronaut(confidence: np.ndarray) -> None:
    assert confidence.shape == (512, 512) and confidence.dtype == np.float32
    assert confidence.min() >= 0.0 and confidence.max() <= 1.0
    assert confidence[FACE].mean() > 0.9 and confidence[TORSO].mean() > 0.9
    assert confidence[FLAG].mean() < 0.2 and confidence[ROCKET].mean() < 0.2


def test_several_people_all_count_and_wide_photos_use_the_landscape_model(original: np.ndarray) -> None:
    two = np.hstack([original, original[:, ::-1]])  # 1024 x 512: two astronauts, wider than 16:9's mean
    assert segmentation._model_for(1024, 512) == "landscape"
    assert segmentation._model_for(512, 512) == segmentation._model_for(4000, 3000) == "portrait"
    assert segmentation._model_for(3000, 2000) == "landscape"
    mask = segmentation.person_mask(two)
    assert mask.shape == (512, 1024)
    mirrored = (FACE[0], slice(1023 - FACE[1].stop, 1023 - FACE[1].start))
    assert mask[FACE].mean() > 0.8 and mask[mirrored].mean() > 0.8


def test_tiny_and_rgba_images_get_a_full_size_mask() -> None:
    rng = np.random.default_rng(1)
    for shape in ((3, 2, 3), (100, 60, 4)):
        mask = segmentation.person_mask(rng.integers(0, 256, shape, dtype=np.uint8))
        assert mask.shape == shape[:2] and mask.dtype == np.float32


def test_guided_filter_snaps_a_soft_edge_to_the_photo() -> None:
    guide = np.zeros((64, 200, 3), np.uint8)
    guide[:, 100:] = 255
    soft = np.tile(np.clip((np.arange(200) - 70) / 60, 0, 1).astype(np.float32), (64, 1))  # ramp over 70..130
    sharp = segmentation.guided_filter(guide, soft, radius=8)
    assert soft[32, 100] - soft[32, 99] < 0.02
    assert sharp[32, 100] - sharp[32, 99] > 0.1  # the gradual ramp now steps where the photo does


def edge_strength(rgb: np.ndarray, confidence: np.ndarray) -> float:
    """Mean gradient magnitude of the photo along the mask's 0.5 boundary."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    inside = (confidence >= 0.5).astype(np.uint8)
    boundary = inside != cv2.erode(inside, np.ones((3, 3), np.uint8))
    return float(magnitude[boundary].mean())


def test_mask_edge_follows_the_photo_on_large_photos(original: np.ndarray) -> None:
    large = cv2.resize(original, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    model = segmentation.get_segmenter("portrait")
    coarse = model.confidence(cv2.resize(large, model.model.size, interpolation=cv2.INTER_AREA))
    upsampled = cv2.resize(coarse, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    refined = segmentation.person_mask(large)
    assert edge_strength(large, refined) > 1.15 * edge_strength(large, upsampled)


def test_background_mask_keeps_the_person_whole(original: np.ndarray, confidence: np.ndarray) -> None:
    background = segmentation.background_mask(original)
    assert background.dtype == np.bool_ and background.shape == (512, 512)
    _, labels, stats, _ = cv2.connectedComponentsWithStats((confidence >= 0.5).astype(np.uint8))
    person = labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])
    assert not background[person].any()  # the margin grows the person, never cuts into it
    specks = (labels > 0) & ~person  # a few stray pixels of "person" in the flag are dropped
    assert specks.sum() < 100 and background[specks].all()
    assert background[FLAG].mean() > 0.95 and background[ROCKET].mean() > 0.95


def test_sizes_that_do_not_divide_evenly(original: np.ndarray) -> None:
    odd = cv2.resize(original, (1537, 1025), interpolation=cv2.INTER_CUBIC)  # reduced by 3, leaving 1 and 2 over
    out = segmentation.obscure_background(odd, CleanOptions(background=Background.FILL, fill_color=(1, 2, 3)))
    assert out.shape == odd.shape
    assert np.all(out[:300, -1] == (1, 2, 3))  # the column left over by the reduction is obscured too
    mask = segmentation.person_mask(odd)
    assert mask.shape == (1025, 1537)
    assert np.array_equal(mask[-1], mask[-3]) and mask[-1].mean() > 0.3  # the rows left over repeat the edge


def test_segmenter_is_built_once() -> None:
    assert segmentation.get_segmenter("portrait") is segmentation.get_segmenter("portrait")


# ---------------------------------------------------------------- the pipeline


def test_blur_keeps_the_person_and_destroys_the_room(
    sample_bytes: bytes, original: np.ndarray, far_background: np.ndarray
) -> None:
    result = clean(sample_bytes, CleanOptions(detect_faces=False, background=Background.BLUR, output_format=PNG))
    out = decoded(result.data)
    assert unchanged(out, original)[FACE].mean() > 0.95
    assert unchanged(out, original)[TORSO].mean() > 0.8
    assert_background_destroyed(out, original, far_background)
    assert any("blur" in note for note in result.notes)


def test_blur_destroys_the_room_in_jpeg_output_too(
    sample_bytes: bytes, original: np.ndarray, far_background: np.ndarray
) -> None:
    out = decoded(clean(sample_bytes, CleanOptions(detect_faces=False, background=Background.BLUR)).data)
    close = np.all(np.abs(out.astype(np.int16) - original) <= 8, axis=-1)
    assert close[FACE].mean() > 0.9 and close[TORSO].mean() > 0.8
    assert abs(detail_correlation(out, original, far_background)) < 0.1


def test_fill_paints_the_room(sample_bytes: bytes, original: np.ndarray, far_background: np.ndarray) -> None:
    options = CleanOptions(detect_faces=False, background=Background.FILL, fill_color=(0, 200, 0), output_format=PNG)
    out = decoded(clean(sample_bytes, options).data)
    assert np.all(out[far_background] == (0, 200, 0))
    assert np.all(out[segmentation.background_mask(original)] == (0, 200, 0))
    assert unchanged(out, original)[TORSO].mean() > 0.8


def test_keep_changes_nothing(sample_bytes: bytes, original: np.ndarray) -> None:
    options = CleanOptions(detect_faces=False, background=Background.KEEP, output_format=PNG)
    result = clean(sample_bytes, options)
    assert np.array_equal(decoded(result.data), original)
    assert segmentation.obscure_background(original, options) is original
    assert not any("people" in note for note in result.notes)


def test_composes_with_faces_and_strokes(
    sample_bytes: bytes, original: np.ndarray, far_background: np.ndarray
) -> None:
    stroke = Stroke(points=((PATCH[1], PATCH[0]),), radius=30)
    options = CleanOptions(
        faces=(Box(175, 70, 100, 110),),
        regions=Regions(strokes=(stroke,)),
        background=Background.BLUR,
        method=Method.PIXELATE,
        output_format=PNG,
    )
    out = decoded(clean(sample_bytes, options).data)
    same = unchanged(out, original)
    assert same[FACE].mean() < 0.05  # the face is obscured on top of the kept person
    patch = (slice(int(PATCH[0]) - 20, int(PATCH[0]) + 20), slice(int(PATCH[1]) - 20, int(PATCH[1]) + 20))
    assert same[patch].mean() < 0.05  # and so is the brushed mission patch
    assert same[300:440, 60:120].mean() > 0.8  # the rest of the suit stays
    assert_background_destroyed(out, original, far_background)


def test_detected_faces_are_obscured_with_the_background(sample_bytes: bytes, original: np.ndarray) -> None:
    out = decoded(clean(sample_bytes, CleanOptions(background=Background.BLUR, output_format=PNG)).data)
    assert unchanged(out, original)[FACE].mean() < 0.05


def test_rgba_background_becomes_opaque(original: np.ndarray) -> None:
    rgba = np.dstack([original, np.full(original.shape[:2], 40, np.uint8)])
    out = segmentation.obscure_background(rgba, CleanOptions(background=Background.FILL, fill_color=(9, 9, 9)))
    background = segmentation.background_mask(original)
    assert out.shape == rgba.shape
    assert np.all(out[background] == (9, 9, 9, 255))
    assert np.array_equal(out[~background], rgba[~background])


# ---------------------------------------------------------------- models


@pytest.fixture
def fresh_models(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from anonymizer import models

    monkeypatch.setattr(segmentation, "_instances", {})
    models._checked_bytes.cache_clear()
    yield models
    models._checked_bytes.cache_clear()


def test_tampered_model_is_an_error(sample_bytes: bytes, fresh_models, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    models = fresh_models
    entry = models.manifest()["selfie_segmentation.tflite"]
    tampered = dict(models.manifest())
    tampered[entry.name] = models.ModelEntry(entry.name, "0" * 64, entry.licence, entry.package, entry.member)
    monkeypatch.setattr(models, "manifest", lambda: tampered)
    with pytest.raises(ModelError, match="checksum"):
        segmentation.person_mask(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ModelError, match="checksum"):
        clean(sample_bytes, CleanOptions(detect_faces=False, background=Background.BLUR))


def test_model_that_cannot_load_is_an_error(fresh_models, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(segmentation, "model_bytes", lambda name: b"not a tflite model")
    with pytest.raises(ModelError, match="could not load"):
        segmentation.get_segmenter("landscape")

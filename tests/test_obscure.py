"""Obscuring methods: nothing original survives inside the mask, nothing outside changes, no way back."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from anonymizer import obscure
from anonymizer.errors import OptionsError
from anonymizer.options import CleanOptions, Method
from anonymizer.pipeline import clean
from anonymizer.regions import build_mask
from anonymizer.types import Box, Detection, Regions, Stroke

ALL = sorted(obscure.METHODS, key=lambda m: m.value)
NOISY = [m for m in ALL if obscure.METHODS[m].default_cells is not None]
rng = np.random.default_rng(1234)


def noise_image(height: int, width: int, channels: int = 3) -> np.ndarray:
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def textured(height: int, width: int) -> np.ndarray:
    """A face-sized texture: detail of a few pixels, no large-scale structure."""
    fine = rng.normal(128, 60, (height, width)).astype(np.float32)
    detail = cv2.GaussianBlur(fine, (0, 0), 2.0) * 3 - 128 * 2
    return np.clip(np.repeat(detail[:, :, None], 3, axis=2), 0, 255).astype(np.uint8)


def face_mask(height: int, width: int, box: Box, scale: float = 1.4) -> np.ndarray:
    regions = Regions(strokes=(Stroke(((5, 5), (40, 12)), 3),))
    return build_mask(height, width, regions, [Detection(box, 0.9)], CleanOptions(face_scale=scale))


def untouched_zone(mask: np.ndarray, method: Method) -> np.ndarray:
    """Pixels that must come back bit-identical: outside the mask and outside any feather band."""
    band = obscure.FEATHER_PX[1] if obscure.METHODS[method].feather else 0
    grown = cv2.dilate(mask.view(np.uint8), np.ones((2 * band + 3, 2 * band + 3), np.uint8))
    return grown == 0


def luminance(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def test_every_method_is_registered() -> None:
    assert set(obscure.METHODS) == set(Method)


@pytest.mark.parametrize("method", ALL)
def test_no_original_pixel_survives_inside_and_nothing_changes_outside(method: Method) -> None:
    pixels = noise_image(160, 200)
    mask = face_mask(160, 200, Box(60, 40, 70, 80))
    out = obscure.apply(pixels, mask, CleanOptions(method=method))
    assert out.shape == pixels.shape and out.dtype == np.uint8 and out is not pixels
    same_pixel = (out == pixels).all(axis=2)
    assert same_pixel[mask].sum() <= 1  # random input: a chance match is ~1 in 16 million
    assert (out == pixels)[mask].mean() < 0.02  # per channel: about chance (1/256)
    keep = untouched_zone(mask, method)
    assert np.array_equal(out[keep], pixels[keep])
    if not obscure.METHODS[method].feather:
        assert np.array_equal(out[~mask], pixels[~mask])


@pytest.mark.parametrize("method", ALL)
def test_transparent_pixels_lose_their_colours_and_become_opaque(method: Method) -> None:
    pixels = noise_image(120, 120, 4)
    pixels[:, :, 3] = 0  # fully transparent, colours still present
    mask = face_mask(120, 120, Box(35, 30, 50, 60))
    out = obscure.apply(pixels, mask, CleanOptions(method=method))
    assert (out[:, :, 3][mask] == 255).all()
    assert (out[:, :, :3] == pixels[:, :, :3]).all(axis=2)[mask].sum() <= 1
    keep = untouched_zone(mask, method)
    assert np.array_equal(out[keep], pixels[keep])
    assert (out[:, :, 3][~mask] == 0).all()  # alpha outside the mask is never touched


@pytest.mark.parametrize("method", NOISY)
def test_face_sized_texture_is_not_recoverable(method: Method) -> None:
    pixels = textured(260, 260)
    mask = face_mask(260, 260, Box(80, 70, 100, 120))
    first = obscure.apply(pixels, mask, CleanOptions(method=method))
    second = obscure.apply(pixels, mask, CleanOptions(method=method))
    original, result = luminance(pixels)[mask], luminance(first)[mask]
    assert abs(np.corrcoef(original, result)[0, 1]) < 0.3
    assert not np.array_equal(first[mask], second[mask])  # fresh noise every run
    assert np.abs(first[mask].astype(int) - second[mask].astype(int)).mean() > 1


def test_blur_keeps_no_high_frequency_detail() -> None:
    pixels = textured(260, 260)
    mask = face_mask(260, 260, Box(80, 70, 100, 120))
    out = obscure.apply(pixels, mask, CleanOptions(method=Method.BLUR))
    interior = cv2.erode(mask.view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    before = cv2.Laplacian(luminance(pixels), cv2.CV_64F)[interior]
    after = cv2.Laplacian(luminance(out), cv2.CV_64F)[interior]
    assert after.std() < 0.1 * before.std()  # what is left is about the 8-bit rounding
    assert abs(np.corrcoef(before, after)[0, 1]) < 0.1


@pytest.mark.parametrize("method", NOISY)
def test_only_coarse_cell_averages_of_the_original_reach_the_output(
    method: Method, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing the fine detail (keeping every 2x2 block's mean) leaves the output unchanged but for noise."""
    monkeypatch.setattr(obscure, "noise", lambda shape: np.zeros(shape, np.float32))
    base = rng.integers(40, 216, (128, 128, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(base[::2, ::2], 2, axis=0), 2, axis=1)
    checker = np.kron(np.ones((64, 64)), np.array([[1, -1], [-1, 1]]))[:, :, None]
    detail = rng.integers(1, 40, (128, 128, 3))
    detail = np.repeat(np.repeat(detail[::2, ::2], 2, axis=0), 2, axis=1) * checker
    other = (base.astype(int) + detail).astype(np.uint8)
    image = np.zeros((256, 256, 3), np.uint8)
    mask = np.zeros((256, 256), bool)
    mask[64:192, 64:192] = True
    options = CleanOptions(method=method, strength=5)  # cells of an even size: 2x2 blocks fit
    first, second = image.copy(), image.copy()
    first[mask], second[mask] = base.reshape(-1, 3), other.reshape(-1, 3)
    assert not np.array_equal(first, second)
    assert np.array_equal(obscure.apply(first, mask, options), obscure.apply(second, mask, options))


@pytest.mark.parametrize("method", [Method.FILL, Method.MASK])
def test_flat_methods_do_not_depend_on_the_original_at_all(method: Method) -> None:
    mask = face_mask(100, 100, Box(30, 30, 40, 40))
    options = CleanOptions(method=method, fill_color=(10, 200, 30))
    first = obscure.apply(noise_image(100, 100), mask, options)
    second = obscure.apply(noise_image(100, 100), mask, options)
    assert np.array_equal(first[mask], second[mask])
    assert len(np.unique(first[mask], axis=0)) == 1


def test_fill_uses_the_chosen_colour_and_mask_a_neutral_grey_unless_one_is_chosen() -> None:
    mask = face_mask(80, 80, Box(20, 20, 30, 30))
    pixels = noise_image(80, 80)
    filled = obscure.apply(pixels, mask, CleanOptions(method=Method.FILL, fill_color=(250, 0, 5)))
    black = obscure.apply(pixels, mask, CleanOptions(method=Method.FILL))
    masked = obscure.apply(pixels, mask, CleanOptions(method=Method.MASK))
    tinted = obscure.apply(pixels, mask, CleanOptions(method=Method.MASK, fill_color=(0, 0, 90)))
    assert (filled[mask] == (250, 0, 5)).all() and (black[mask] == 0).all()
    assert (masked[mask] == obscure.MASK_GREY).all() and (tinted[mask] == (0, 0, 90)).all()


def cells_across(row: np.ndarray) -> int:
    """The number of runs of equal colour along a row of pixels."""
    changes = (row[1:] != row[:-1]).any(axis=1)
    return int(changes.sum()) + 1


@pytest.mark.parametrize("strength", [None, 8, 12])
def test_pixelate_keeps_few_cells_across_even_a_large_face(strength: float | None) -> None:
    mask = build_mask(1500, 1500, Regions(), [Detection(Box(250, 250, 1000, 1000), 0.9)], CleanOptions())
    pixels = noise_image(1500, 1500)
    out = obscure.apply(pixels, mask, CleanOptions(method=Method.PIXELATE, strength=strength))
    ys, xs = np.nonzero(mask)
    middle_row = out[750, xs.min() : xs.max() + 1]
    middle_column = out[ys.min() : ys.max() + 1, 750]
    limit = strength or obscure.METHODS[Method.PIXELATE].default_cells
    assert cells_across(middle_row) <= limit and cells_across(middle_column) <= limit
    assert cells_across(middle_row) >= limit - 2  # the count is real: cells differ from their neighbours


@pytest.mark.parametrize("method", NOISY)
@pytest.mark.parametrize("strength", [0, 0.5, 12.5, 13, 50, float("nan"), float("inf")])
def test_strength_past_the_floor_is_refused(method: Method, strength: float) -> None:
    mask = np.zeros((20, 20), bool)
    mask[5:10, 5:10] = True
    with pytest.raises(OptionsError, match="strength"):
        obscure.apply(noise_image(20, 20), mask, CleanOptions(method=method, strength=strength))
    with pytest.raises(OptionsError):
        obscure.check_options(CleanOptions(method=method, strength=strength))


@pytest.mark.parametrize("method", NOISY)
@pytest.mark.parametrize("strength", [1, 3, 12])
def test_strength_within_bounds_is_accepted(method: Method, strength: float) -> None:
    mask = np.zeros((40, 40), bool)
    mask[5:30, 5:30] = True
    pixels = noise_image(40, 40)
    out = obscure.apply(pixels, mask, CleanOptions(method=method, strength=strength))
    assert (out == pixels).all(axis=2)[mask].sum() <= 1


def test_strength_is_ignored_by_methods_without_one() -> None:
    mask = np.ones((10, 10), bool)
    out = obscure.apply(noise_image(10, 10), mask, CleanOptions(method=Method.FILL, strength=99))
    assert (out == 0).all()


def test_mask_of_another_size_is_refused() -> None:
    with pytest.raises(OptionsError, match="mask is 10x12 but the image is 10x10"):
        obscure.apply(noise_image(10, 10), np.ones((12, 10), bool), CleanOptions())


@pytest.mark.parametrize("method", ALL)
def test_separate_regions_are_each_obscured_and_an_empty_mask_changes_nothing(method: Method) -> None:
    pixels = noise_image(300, 300)
    assert np.array_equal(obscure.apply(pixels, np.zeros((300, 300), bool), CleanOptions(method=method)), pixels)
    mask = np.zeros((300, 300), bool)
    mask[10:12, 10:12] = True  # a speck
    mask[100:200, 150:290] = True
    mask[250:299, 5:60] = True
    rng_mask = rng.random((300, 300)) < 0.01  # scattered single pixels
    mask |= rng_mask
    out = obscure.apply(pixels, mask, CleanOptions(method=method))
    assert (out == pixels).all(axis=2)[mask].sum() <= 1
    assert np.array_equal(out[untouched_zone(mask, method)], pixels[untouched_zone(mask, method)])


def test_many_separate_parts_are_still_all_obscured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(obscure, "MAX_REGIONS", 10)
    pixels = noise_image(200, 200)
    mask = np.zeros((200, 200), bool)
    mask[::7, ::7] = True  # hundreds of isolated pixels: handled as one region
    out = obscure.apply(pixels, mask, CleanOptions(method=Method.PIXELATE))
    assert (out == pixels).all(axis=2)[mask].sum() <= 1
    assert np.array_equal(out[~mask], pixels[~mask])


@pytest.mark.parametrize("method", ALL)
def test_png_with_a_transparent_face_comes_out_destroyed_in_all_four_channels(method: Method) -> None:
    """End to end through clean(): the face region of an RGBA PNG, transparent but full of colour."""
    pixels = noise_image(100, 120, 4)
    pixels[:, :, 3] = 255
    pixels[20:70, 30:80, 3] = 0
    source = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(source, "PNG")
    box = Box(35, 25, 40, 40)
    result = clean(source.getvalue(), CleanOptions(method=method, faces=(box,)))
    out = np.asarray(Image.open(io.BytesIO(result.data)))
    mask = build_mask(100, 120, Regions(), [Detection(box, 1.0)], CleanOptions())
    assert out.shape == pixels.shape
    assert (out[:, :, 3][mask] == 255).all()
    assert (out[:, :, :3] == pixels[:, :, :3]).all(axis=2)[mask].sum() <= 1
    keep = untouched_zone(mask, method)
    assert np.array_equal(out[keep], pixels[keep])

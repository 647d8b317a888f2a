"""The obscuring methods, each irreversible inside the mask.

Every method replaces every pixel inside the mask, in all channels: colour channels get new values and
alpha becomes opaque, so even fully transparent pixels lose the colours they carried. Nothing original is
blended back inside the mask; the one soft edge (blur's) is a band *outside* it. Pixels outside the mask
and outside that band are returned bit-identical.

The mask is split into regions (its connected parts, grouped when they lie close together) and each region
is worked on inside its bounding box only, so a huge photo with a few faces costs little memory. Cell
averages take in every pixel of that box, masked or not, so a speck of mask is averaged with its
surroundings instead of passing its own value on.

    blur      (default) the region is reduced to a few cells across, each cell's mean gets noise from the
              operating system's cryptographic RNG, and the coarse grid is smoothed back up: it looks like a
              strong blur, but what is left of the original is a few noisy cell averages.
    pixelate  cells sized to the region (never more than MAX_CELLS across), each its noisy mean.
    fill      the solid `fill_color` of the options.
    mask      a flat silhouette of the region in `fill_color`, or neutral grey while that is the default.

strength is the number of cells across a region's longer side for blur and pixelate (lower is stronger);
above MAX_CELLS the method refuses. fill and mask have no strength and ignore it.

Video: the frames of one face together must reveal no more than one frame does. `apply_anchored` lays each
region's grid on a box that moves with what it hides (a tracked face), so the same cells average the same
parts of the face in every frame, and takes the region's noise from a `FixedNoise` drawn once for its whole
life, so averaging frames cannot average the noise away. `apply` takes such a source per region too
(`noise_for`), for shapes that stay put. Photos draw fresh noise, as before.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from .errors import OptionsError
from .options import DEFAULT_CELLS, CleanOptions, Method
from .options import MAX_CELLS as MAX_CELLS  # the strength ranges are part of this module's interface too
from .options import StrengthRange as StrengthRange
from .options import cells_for as cells_for
from .options import strength_range as strength_range

Pixels = NDArray[np.uint8]
Mask = NDArray[np.bool_]
Field = NDArray[np.float32]

#: cells are never smaller than this many pixels, so even a tiny region is averaged
MIN_CELL_PX = 4
#: a region's box is grown to at least this size (px) before averaging: a speck is averaged with its surroundings
MIN_REGION_PX = 12
#: noise added to each cell mean, in 8-bit levels: shared by the three channels, and per channel
BLUR_NOISE = (10.0, 3.0)
PIXELATE_NOISE = (20.0, 6.0)
#: blur smooths its grid at this many samples per cell, with a Gaussian of this many cells (sigma)
BLUR_OVERSAMPLE = 4
BLUR_SIGMA_CELLS = 0.5
#: blur's soft edge, outside the mask: this share of the region's longer side, within these bounds (px)
FEATHER_SHARE = 0.05
FEATHER_PX = (2, 32)
#: the feather is computed this many rows at a time
FEATHER_STRIP = 512
#: the mask method's colour unless another than the default fill colour is chosen
MASK_GREY = (128, 128, 128)
#: beyond this many separate parts, the mask is handled as one region (its bounding box)
MAX_REGIONS = 2000


#: noise of a given shape, roughly standard normal: fresh draws (`noise`) or a region's fixed ones (`FixedNoise`)
NoiseSource = Callable[[tuple[int, ...]], Field]


@dataclass(frozen=True)
class Patch:
    """One region: the original colour channels and the mask inside its (grown) bounding box."""

    rgb: Pixels
    mask: Mask
    cells: int
    options: CleanOptions
    noise: NoiseSource | None = None  # None: fresh draws from the OS RNG


Renderer = Callable[[Patch], Pixels]


@dataclass(frozen=True)
class MethodSpec:
    """An obscuring method: what it paints inside a region, and how strength applies to it."""

    render: Renderer
    default_cells: int | None = None
    feather: bool = False


# ---------------------------------------------------------------- noise and cells


def noise(shape: tuple[int, ...]) -> Field:
    """Roughly standard-normal noise from the OS's cryptographic RNG (the sum of four uniform bytes)."""
    count = math.prod(shape)
    raw = np.frombuffer(secrets.token_bytes(4 * count), dtype=np.uint8).reshape(count, 4)
    total = raw.sum(axis=1, dtype=np.float32)
    return np.asarray((total - 510.0) / 147.8, dtype=np.float32).reshape(shape)


class FixedNoise:
    """Noise drawn once (from the OS's cryptographic RNG) and handed out again: a grid of the same shape gets
    the same draws every time, and a larger grid keeps the draws of the smaller one in its top-left cells."""

    def __init__(self) -> None:
        self._fields: dict[tuple[int, ...], Field] = {}

    def __call__(self, shape: tuple[int, ...]) -> Field:
        key = (len(shape), *shape[2:])
        have = self._fields.get(key)
        if have is None or have.shape[0] < shape[0] or have.shape[1] < shape[1]:
            grown = noise((max(shape[0], 0 if have is None else have.shape[0]),
                           max(shape[1], 0 if have is None else have.shape[1]), *shape[2:]))  # fmt: skip
            if have is not None:
                grown[: have.shape[0], : have.shape[1]] = have
            self._fields[key] = have = grown
        return have[: shape[0], : shape[1]]


def _noisy(means: Field, levels: tuple[float, float], source: NoiseSource | None = None) -> Field:
    shared, per_channel = levels
    draw = source or noise
    grid = means.shape[:2]
    noisy = means + shared * draw(grid)[:, :, None] + per_channel * draw((*grid, 3))
    return np.asarray(noisy, dtype=np.float32)


def cell_size(height: int, width: int, cells: int) -> int:
    """The side in pixels of the square cells that put at most `cells` across the longer side."""
    return max(MIN_CELL_PX, math.ceil(max(height, width) / cells))


def cell_means(rgb: Pixels, size: int) -> Field:
    """The mean colour of each `size` x `size` cell of the region's box (cells at the edges may be smaller).

    Every pixel of the box counts, masked or not, so a cell that holds only a few masked pixels is
    averaged with their surroundings rather than passing them on. Works one row of cells at a time, so
    no full-size float copy of the region is made.
    """
    height, width = rgb.shape[:2]
    starts = np.arange(0, width, size)
    widths = np.diff(np.append(starts, width))
    means = np.zeros((math.ceil(height / size), starts.size, 3), dtype=np.float64)
    for row in range(means.shape[0]):
        band = rgb[row * size : (row + 1) * size]
        column_sums = band.sum(axis=0, dtype=np.uint64)
        means[row] = np.add.reduceat(column_sums, starts, axis=0) / (band.shape[0] * widths)[:, None]
    return means.astype(np.float32)


def _to_uint8(values: Field) -> Pixels:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- the methods


def _upscale(grid: Pixels, cells: tuple[int, int], size: int, interpolation: int, shape: tuple[int, int]) -> Pixels:
    """A grid spanning `cells` (rows, columns) cells resized to `size` pixels a cell, cut to `shape`.

    Along an axis with a single cell the result is constant, so one line is resized and repeated: a long
    thin region (a 24 x 65 000 strip) would otherwise be resized to size x size cells, gigabytes for nothing.
    """
    rows, cols = cells
    line = grid[: 1 if rows == 1 else None, : 1 if cols == 1 else None]
    out = (1 if cols == 1 else cols * size, 1 if rows == 1 else rows * size)
    full = np.asarray(cv2.resize(line, out, interpolation=interpolation), dtype=np.uint8).reshape(out[1], out[0], 3)
    return np.broadcast_to(full[: shape[0], : shape[1]], (*shape, 3))


def _blur(patch: Patch) -> Pixels:
    """Few noisy cell means, smoothed: looks like a strong blur, keeps nothing finer than a cell."""
    height, width = patch.mask.shape
    size = cell_size(height, width, patch.cells)
    grid = _noisy(cell_means(patch.rgb, size), BLUR_NOISE, patch.noise)
    fine_shape = (grid.shape[1] * BLUR_OVERSAMPLE, grid.shape[0] * BLUR_OVERSAMPLE)
    fine = cv2.resize(grid, fine_shape, interpolation=cv2.INTER_LINEAR)
    sigma = BLUR_SIGMA_CELLS * BLUR_OVERSAMPLE
    smooth = np.asarray(cv2.GaussianBlur(fine, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE))
    return _upscale(_to_uint8(smooth.astype(np.float32)), grid.shape[:2], size, cv2.INTER_CUBIC, (height, width))


def _pixelate(patch: Patch) -> Pixels:
    """Square cells sized to the region, each the noisy mean of its pixels."""
    height, width = patch.mask.shape
    size = cell_size(height, width, patch.cells)
    grid = _to_uint8(_noisy(cell_means(patch.rgb, size), PIXELATE_NOISE, patch.noise))
    return _upscale(grid, grid.shape[:2], size, cv2.INTER_NEAREST, (height, width))


def _flat(colour: tuple[int, int, int], patch: Patch) -> Pixels:
    return np.broadcast_to(np.asarray(colour, dtype=np.uint8), (*patch.mask.shape, 3))


def _fill(patch: Patch) -> Pixels:
    return _flat(patch.options.fill_color, patch)


def _mask(patch: Patch) -> Pixels:
    chosen = patch.options.fill_color
    return _flat(MASK_GREY if chosen == CleanOptions().fill_color else chosen, patch)


#: Method -> implementation. A new method is one function and one entry; the tests pick it up.
METHODS: dict[Method, MethodSpec] = {
    Method.BLUR: MethodSpec(_blur, default_cells=DEFAULT_CELLS[Method.BLUR], feather=True),
    Method.PIXELATE: MethodSpec(_pixelate, default_cells=DEFAULT_CELLS[Method.PIXELATE]),
    Method.FILL: MethodSpec(_fill),
    Method.MASK: MethodSpec(_mask),
}


def check_options(options: CleanOptions) -> None:
    """Raise OptionsError now if `apply` would refuse these options (e.g. a strength past the floor)."""
    if options.method not in METHODS:
        raise OptionsError(f"unknown method {options.method!r}")
    cells_for(options.method, options.strength)


# ---------------------------------------------------------------- regions of the mask


@dataclass
class _Rect:
    """A region's grown bounding box (x0, y0 inclusive; x1, y1 exclusive) and its feather band."""

    x0: int
    y0: int
    x1: int
    y1: int
    band: int

    def overlaps(self, other: _Rect) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def absorb(self, other: _Rect) -> None:
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.band = max(self.band, other.band)


def _band(width: int, height: int, feather: bool) -> int:
    if not feather:
        return 0
    low, high = FEATHER_PX
    return min(high, max(low, round(FEATHER_SHARE * max(width, height))))


def _merge(rects: list[_Rect]) -> list[_Rect]:
    """Union overlapping rectangles until none overlap, so every masked pixel is in exactly one."""
    if len(rects) > MAX_REGIONS:
        whole = rects[0]
        for rect in rects[1:]:
            whole.absorb(rect)
        return [whole]
    changed = True
    while changed:
        changed = False
        merged: list[_Rect] = []
        for rect in rects:
            target = next((m for m in merged if m.overlaps(rect)), None)
            if target is None:
                merged.append(rect)
            else:
                target.absorb(rect)
                changed = True
        rects = merged
    return rects


def _grown(x: int, y: int, w: int, h: int, band: int, size: tuple[int, int]) -> _Rect:
    """The box of a part grown by its band, and to at least MIN_REGION_PX a side, clipped to the image."""
    height, width = size
    pad_x = max(band, math.ceil((MIN_REGION_PX - w) / 2))
    pad_y = max(band, math.ceil((MIN_REGION_PX - h) / 2))
    return _Rect(max(0, x - pad_x), max(0, y - pad_y), min(width, x + w + pad_x), min(height, y + h + pad_y), band)


def regions(mask: Mask, feather: bool) -> list[_Rect]:
    """The bounding boxes of the mask's parts, grown (feather band, minimum size), clipped, and merged."""
    contours, _ = cv2.findContours(
        np.ascontiguousarray(mask).view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    rects = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        rects.append(_grown(x, y, w, h, _band(w, h, feather), mask.shape[:2]))
    return _merge(rects)


# ---------------------------------------------------------------- applying


def _feather_strip(out: Pixels, original: Pixels, mask: Mask, field: Pixels, band: int, rows: slice) -> None:
    """Feather the pixels of `rows`, with distances measured over the whole strip given."""
    outside = np.logical_not(mask).view(np.uint8)
    distance = np.asarray(cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE))[rows]
    ys, xs = np.nonzero((distance > 0) & (distance <= band))
    if ys.size == 0:
        return
    weight = (1.0 - distance[ys, xs] / (band + 1))[:, None]
    ys = ys + (rows.start or 0)
    blend = weight * field[ys, xs] + (1.0 - weight) * original[ys, xs, :3]
    out[ys, xs, :3] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def _feather(out: Pixels, original: Pixels, mask: Mask, field: Pixels, band: int) -> None:
    """Blend `field` into the pixels within `band` outside the mask, fading out with distance.

    Works in strips of rows, each seeing `band` rows of context, so the float distances stay small.
    """
    height = mask.shape[0]
    for top in range(0, height, FEATHER_STRIP):
        lo, hi = max(0, top - band), min(height, top + FEATHER_STRIP + band)
        rows = slice(top - lo, min(height, top + FEATHER_STRIP) - lo)
        _feather_strip(out[lo:hi], original[lo:hi], mask[lo:hi], field[lo:hi], band, rows)


#: a region's rectangle (x0, y0, x1, y1; image pixels, end exclusive) -> the noise for it
NoiseFor = Callable[[tuple[int, int, int, int]], NoiseSource]


@dataclass(frozen=True)
class _Job:
    spec: MethodSpec
    cells: int
    options: CleanOptions
    noise_for: NoiseFor | None = None


def _obscure(out: Pixels, pixels: Pixels, mask: Mask, rect: _Rect, job: _Job) -> None:
    """Obscure one region in place in `out`, reading the original pixels from `pixels`."""
    box = (slice(rect.y0, rect.y1), slice(rect.x0, rect.x1))
    inside = mask[box]
    source = None if job.noise_for is None else job.noise_for((rect.x0, rect.y0, rect.x1, rect.y1))
    field = job.spec.render(Patch(pixels[box][:, :, :3], inside, job.cells, job.options, source))
    target = out[box]
    np.copyto(target[:, :, :3], field, where=inside[:, :, None])
    if target.shape[2] == 4:
        target[:, :, 3][inside] = 255
    if rect.band:
        _feather(target, pixels[box], inside, field, rect.band)


def _check_pixels(pixels: Pixels) -> None:
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
        raise OptionsError("pixels must be an 8-bit RGB or RGBA image")


def apply(pixels: Pixels, mask: Mask, options: CleanOptions, noise_for: NoiseFor | None = None) -> Pixels:
    """A new array like `pixels` (H x W x 3 RGB or H x W x 4 RGBA) with everything under `mask` obscured.

    noise_for: the noise of each region by its rectangle (video: the same draws for a shape that stays put);
    fresh draws when None.
    """
    _check_pixels(pixels)
    if mask.shape != pixels.shape[:2]:
        raise OptionsError(
            f"the mask is {mask.shape[1]}x{mask.shape[0]} but the image is {pixels.shape[1]}x{pixels.shape[0]}"
        )
    check_options(options)
    job = _Job(METHODS[options.method], cells_for(options.method, options.strength), options, noise_for)
    mask = np.asarray(mask, dtype=np.bool_)
    out = pixels.copy()
    for rect in regions(mask, job.spec.feather):
        _obscure(out, pixels, mask, rect, job)
    return out


# ---------------------------------------------------------------- regions anchored to what they hide (video)


@dataclass(frozen=True)
class Anchor:
    """A region whose grid is laid on its own box rather than on the mask's parts: (x, y) is the box's top-left
    in image pixels (it may reach past the image), `mask` the box's pixels to obscure, `noise` its own draws."""

    x: int
    y: int
    mask: Mask
    noise: NoiseSource


@dataclass(frozen=True)
class _Laid:
    """An anchor's field, cut to the image: where it goes, what it paints and where."""

    rows: slice
    cols: slice
    field: Pixels
    inside: Mask
    band: int


def _lay(pixels: Pixels, anchor: Anchor, job: _Job) -> _Laid | None:
    """Render one anchor over its whole box (grown by its feather band; parts past the image edge are the edge
    pixels repeated), so its cells stay fixed to the box wherever the box is; None when it misses the image."""
    h, w = anchor.mask.shape
    band = _band(w, h, job.spec.feather)
    x0, y0, x1, y1 = anchor.x - band, anchor.y - band, anchor.x + w + band, anchor.y + h + band
    height, width = pixels.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    crop = np.ascontiguousarray(pixels[cy0:cy1, cx0:cx1, :3])
    pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    rgb = np.asarray(cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE), np.uint8) if any(pads) else crop
    grown = np.zeros((y1 - y0, x1 - x0), np.bool_)
    grown[band : band + h, band : band + w] = anchor.mask
    field = job.spec.render(Patch(rgb, grown, job.cells, job.options, anchor.noise))
    cut = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    return _Laid(slice(cy0, cy1), slice(cx0, cx1), np.asarray(field[cut]), grown[cut], band)


def apply_anchored(pixels: Pixels, anchors: Sequence[Anchor], options: CleanOptions) -> Pixels:
    """A new array like `pixels` with every anchor's mask obscured on the anchor's own grid and noise.

    Feathering (blur) blends originals back only outside every anchor's mask: each anchor's field is painted
    again over its own mask once all are laid, so one anchor's band never uncovers another's inside.
    """
    _check_pixels(pixels)
    check_options(options)
    job = _Job(METHODS[options.method], cells_for(options.method, options.strength), options)
    out = pixels.copy()
    laid = [x for x in (_lay(pixels, anchor, job) for anchor in anchors) if x is not None]
    for item in laid:
        target = out[item.rows, item.cols]
        np.copyto(target[:, :, :3], item.field, where=item.inside[:, :, None])
        if item.band:
            _feather(target, pixels[item.rows, item.cols], item.inside, item.field, item.band)
    for item in laid:
        target = out[item.rows, item.cols]
        np.copyto(target[:, :, :3], item.field, where=item.inside[:, :, None])
        if target.shape[2] == 4:
            target[:, :, 3][item.inside] = 255
    return out

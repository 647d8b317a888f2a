"""Face detection: the default ensemble, every registered detector, tiling and fusion, model integrity."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from anonymizer import models
from anonymizer.errors import ModelError
from anonymizer.faces import DEFAULT_DETECTOR, DETECTORS, FAST_DETECTOR, get_detector
from anonymizer.faces._input import draft_request, needed_long_side, scaled
from anonymizer.faces.centerface import MODEL, CenterFaceNet, decode, shared_net
from anonymizer.faces.ensemble import Ensemble, Pass, Plan, detect_boxes, pass_tiles, run_pass, tile_grid
from anonymizer.faces.focus import cell_blocks, focus_rects, to_photo, to_view
from anonymizer.faces.merge import drop_contained, fuse, nms
from anonymizer.faces.presets import PLANS
from anonymizer.types import Box, Detection

RGB = NDArray[np.uint8]
#: the face in the sample portrait (512 x 512), measured once by eye and by CenterFace
FACE = Box(181, 58, 89, 120)


def box_of(mask: NDArray[np.bool_]) -> Box:
    ys, xs = np.nonzero(mask)
    return Box(float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min()))


def face_mask(shape: tuple[int, int], box: Box) -> NDArray[np.bool_]:
    mask = np.zeros(shape, bool)
    mask[round(box.y) : round(box.y + box.h), round(box.x) : round(box.x + box.w)] = True
    return mask


def best_iou(found: list[Detection], box: Box) -> float:
    return max((d.box.iou(box) for d in found), default=0.0)


@pytest.fixture(scope="module")
def rgb(portrait: Image.Image) -> RGB:
    return np.asarray(portrait)


# ---------------------------------------------------------------- the default detector


def test_default_is_the_thorough_plan_built_once(portrait: Image.Image) -> None:
    """ "default" is one shared instance, and it is the thorough plan: it finds a face too small for `fast`."""
    default = get_detector()
    assert default is get_detector("default") is get_detector(DEFAULT_DETECTOR[0])
    assert get_detector(FAST_DETECTOR) is not default
    small = portrait.resize((39, 39), Image.Resampling.LANCZOS)  # the face about 9 px tall
    canvas = Image.new("RGB", (1024, 768), (128, 128, 128))
    canvas.paste(small, (600, 300))
    k = 39 / 512
    expected = Box(600 + FACE.x * k, 300 + FACE.y * k, FACE.w * k, FACE.h * k)
    rgb = np.asarray(canvas)
    assert best_iou(default.detect(rgb), expected) >= 0.4
    assert best_iou(get_detector(FAST_DETECTOR).detect(rgb), expected) < 0.4


def test_default_finds_the_portrait_face(rgb: RGB) -> None:
    found = get_detector().detect(rgb)
    assert best_iou(found, FACE) >= 0.5
    assert sum(d.box.iou(FACE) > 0.2 for d in found) == 1  # fused into one box


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_default_finds_a_turned_face(rgb: RGB, turns: int) -> None:
    turned = np.ascontiguousarray(np.rot90(rgb, turns))
    expected = box_of(np.rot90(face_mask(rgb.shape[:2], FACE), turns))
    assert best_iou(get_detector().detect(turned), expected) >= 0.4


def test_default_finds_a_small_face_in_a_big_photo(portrait: Image.Image) -> None:
    """A 40 px face in a 12-megapixel photo: found by the enlarged pass, in the right place."""
    small = portrait.resize((171, 171), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (4000, 3000), (128, 128, 128))
    at = (2345, 1480)
    canvas.paste(small, at)
    k = 171 / 512
    expected = Box(at[0] + FACE.x * k, at[1] + FACE.y * k, FACE.w * k, FACE.h * k)
    found = get_detector().detect(np.asarray(canvas))
    assert best_iou(found, expected) >= 0.5
    assert sum(d.box.iou(expected) > 0.3 for d in found) == 1  # the views were fused into one box


# ---------------------------------------------------------------- every registered detector


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_detector_finds_the_portrait_face(rgb: RGB, name: str) -> None:
    detector = get_detector(name)
    found = detector.detect(rgb)
    assert best_iou(found, FACE) >= 0.5, f"{name} missed the face: {found}"
    assert all(d.source.startswith(detector.name) for d in found)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_detector_finds_nothing_in_a_blank_photo(name: str) -> None:
    assert get_detector(name).detect(np.full((600, 800, 3), 200, np.uint8)) == []


# ---------------------------------------------------------------- model integrity


@pytest.fixture
def fresh_models() -> Iterator[None]:
    models._checked_bytes.cache_clear()
    yield
    models._checked_bytes.cache_clear()


@pytest.mark.usefixtures("fresh_models")
def test_a_tampered_model_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    real = models.manifest()
    entry = real[MODEL]
    tampered = {**real, MODEL: models.ModelEntry(MODEL, "0" * 64, entry.licence, entry.package, entry.member)}
    monkeypatch.setattr(models, "manifest", lambda: tampered)
    with pytest.raises(ModelError, match="checksum"):
        CenterFaceNet()


@pytest.mark.usefixtures("fresh_models")
def test_an_unlisted_model_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "manifest", lambda: {})
    with pytest.raises(ModelError, match="not listed"):
        CenterFaceNet()


def test_every_bundled_model_matches_the_manifest() -> None:
    for name in models.manifest():
        assert models.model_bytes(name)


# ---------------------------------------------------------------- decoding, merging, fusion


def test_decode_places_a_box_from_the_heatmap() -> None:
    heat = np.zeros((1, 1, 32, 32), np.float32)
    heat[0, 0, 10, 20] = 0.9
    scale = np.full((1, 2, 32, 32), math.log(10), np.float32)  # 10 cells * stride 4 = 40 px
    offset = np.zeros((1, 2, 32, 32), np.float32)
    offset[0, 1, 10, 20] = 0.25  # a quarter cell to the right
    boxes = decode(heat, scale, offset, 0.5)
    np.testing.assert_allclose(boxes, [[63, 22, 103, 62, 0.9]], atol=1e-4)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10, 0.5], [1, 1, 11, 11, 0.9], [50, 50, 60, 60, 0.3]], np.float32)
    kept = nms(boxes, 0.5)
    assert kept[:, 4].tolist() == pytest.approx([0.9, 0.3])


def test_fuse_adds_evidence_across_views_but_not_within_one() -> None:
    boxes = np.array([[0, 0, 10, 10, 0.2], [0, 0, 10, 10, 0.2], [0, 0, 10, 10, 0.2], [40, 40, 50, 50, 0.2]], np.float32)
    fused = fuse(boxes, np.array([0, 0, 1, 0]), 0.5)
    assert sorted(fused[:, 4].tolist()) == pytest.approx([0.2, 1 - 0.8 * 0.8])


def test_fuse_averages_corners_by_score() -> None:
    boxes = np.array([[0, 0, 10, 10, 0.6], [2, 0, 12, 10, 0.2]], np.float32)
    fused = fuse(boxes, np.array([0, 1]), 0.5)
    np.testing.assert_allclose(fused[0, :4], [0.5, 0, 10.5, 10], atol=1e-5)


def test_drop_contained_only_drops_cut_boxes_inside_larger_ones() -> None:
    boxes = np.array([[0, 0, 100, 100, 0.9], [10, 10, 30, 30, 0.8], [40, 40, 60, 60, 0.8]], np.float32)
    kept = drop_contained(boxes, np.array([False, True, False]), 0.7)
    assert kept[:, 0].tolist() == [0, 40]


# ---------------------------------------------------------------- tiling, with a fake model


class WhiteSquares:
    """A fake model: 'faces' are white blobs; it returns the bounding box of white pixels per tile."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, tile: RGB, threshold: float) -> NDArray[np.float32]:
        self.shapes.append(tile.shape)
        white = tile.min(axis=2) >= 128
        if not white.any():
            return np.empty((0, 5), np.float32)
        b = box_of(white)
        return np.array([[b.x, b.y, b.x + b.w, b.y + b.h, 0.9]], np.float32)


SPOT = Box(1900, 1200, 60, 44)  # straddles tile edges of several passes below


@pytest.fixture(scope="module")
def canvas() -> RGB:
    image = np.zeros((2000, 3000, 3), np.uint8)
    image[face_mask((2000, 3000), SPOT)] = 255
    return image


PASSES = [
    Pass(1024),
    Pass(2048, max_zoom=2.0),
    Pass(4096, max_zoom=2.0),
    Pass(512, turns=1),
    Pass(512, turns=2),
    Pass(700, turns=3),
    Pass(1024, mirror=True),
    Pass(1500, turns=1, mirror=True),
]


@pytest.mark.parametrize("step", PASSES, ids=str)
def test_each_pass_maps_its_boxes_back_to_the_photo(canvas: RGB, step: Pass) -> None:
    model = WhiteSquares()
    plan = Plan((step,), tile=640, overlap=64)
    boxes, cut = run_pass(model, canvas, step, plan)
    whole = boxes[~cut]
    assert len(whole) >= 1
    tolerance = 2 / step.scale(3000, 2000)
    for x1, y1, x2, y2, _ in whole:
        assert (x1, y1, x2, y2) == pytest.approx((SPOT.x, SPOT.y, SPOT.x + SPOT.w, SPOT.y + SPOT.h), abs=tolerance)
    assert max(max(shape[:2]) for shape in model.shapes) <= plan.tile


def test_the_plan_keeps_one_box_per_face(canvas: RGB) -> None:
    plan = Plan(tuple(PASSES), tile=640, overlap=64)
    boxes = detect_boxes(WhiteSquares(), canvas, plan)
    assert len(boxes) == 1
    x1, y1, x2, y2, score = boxes[0]
    assert (x1, y1, x2, y2) == pytest.approx((SPOT.x, SPOT.y, SPOT.x + SPOT.w, SPOT.y + SPOT.h), abs=2)
    assert score > 0.99  # eight views agreeing


def test_a_photo_larger_than_every_pass_is_shrunk_once_and_mapped_back(canvas: RGB) -> None:
    model = WhiteSquares()
    plan = Plan((Pass(1024), Pass(512, turns=1), Pass(700, mirror=True)), tile=640, overlap=64)
    boxes = detect_boxes(model, canvas, plan)
    assert len(boxes) == 1
    assert tuple(boxes[0, :4]) == pytest.approx((SPOT.x, SPOT.y, SPOT.x + SPOT.w, SPOT.y + SPOT.h), abs=6)
    assert max(max(shape[:2]) for shape in model.shapes) <= 1024


def test_an_ensemble_detector_uses_the_model_it_is_given(canvas: RGB) -> None:
    found = Ensemble("fake", Plan((Pass(1024), Pass(2048, max_zoom=2.0))), WhiteSquares()).detect(canvas)
    assert [d.source for d in found] == ["fake"]
    assert found[0].box.iou(SPOT) > 0.9


@pytest.mark.parametrize("size", [(4000, 3000), (1024, 768), (300, 200), (12000, 90), (2049, 2049)])
@pytest.mark.parametrize("scale", [0.25, 1.0, 1.75, 2.0])
def test_tiles_cover_the_photo_within_the_size_limit(size: tuple[int, int], scale: float) -> None:
    plan = Plan((), tile=1120, overlap=64)
    width, height = size
    covered = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in tile_grid(width, height, scale, plan):
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert max(x1 - x0, y1 - y0) * scale <= plan.tile + 1
        covered[y0:y1, x0:x1] = True
    assert covered.all()


# ---------------------------------------------------------------- views and focused passes


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("mirror", [False, True])
def test_to_view_is_the_inverse_of_to_photo(turns: int, mirror: bool) -> None:
    rng = np.random.default_rng(turns + 4 * mirror)
    xs, ys = np.sort(rng.uniform(0, 300, (20, 2)), axis=1), np.sort(rng.uniform(0, 200, (20, 2)), axis=1)
    boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1], rng.uniform(0, 1, 20)], axis=1).astype(np.float32)
    view = to_view(boxes, turns, mirror, 300, 200)
    vw, vh = (300, 200) if turns % 2 == 0 else (200, 300)
    assert (view[:, 2] > view[:, 0]).all() and (view[:, 3] > view[:, 1]).all()
    assert view[:, :4].min() >= 0 and view[:, 2].max() <= vw and view[:, 3].max() <= vh
    np.testing.assert_allclose(to_photo(view, turns, mirror, 300, 200), boxes, atol=1e-4)
    # and it is the mapping the pixels follow: a white patch's box, mirrored and turned as np.rot90 does
    image = np.zeros((200, 300), bool)
    image[50:60, 200:230] = True
    seen = box_of(np.rot90(image[:, ::-1] if mirror else image, turns))
    patch = to_view(np.array([[200, 50, 230, 60, 1]], np.float32), turns, mirror, 300, 200)[0, :4]
    assert tuple(patch) == pytest.approx((seen.x, seen.y, seen.x + seen.w, seen.y + seen.h))


def test_cell_blocks_join_runs_of_cells_into_rectangles() -> None:
    grid = np.array(
        [
            [1, 1, 0, 0, 1],
            [1, 1, 0, 0, 0],
            [0, 1, 1, 0, 0],
        ],
        bool,
    )
    blocks = cell_blocks(grid)
    assert sorted(blocks) == [(0, 0, 2, 2), (1, 2, 3, 3), (4, 0, 5, 1)]
    covered = np.zeros_like(grid)
    for c0, r0, c1, r1 in blocks:
        covered[r0:r1, c0:c1] = True
    assert (covered == grid).all()


def test_focus_rects_cover_each_hint_with_a_margin_and_nothing_far_away() -> None:
    hints = np.array([[100, 100, 110, 112, 0.3], [700, 500, 760, 560, 0.9]], np.float32)
    rects = focus_rects(hints, 1000, 800, 125, 16)
    assert len(rects) == 2
    for (x1, y1, x2, y2, _), (rx0, ry0, rx1, ry1) in zip(hints, sorted(rects), strict=True):
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        assert rx0 <= cx - 16 and cx + 16 <= rx1 and ry0 <= cy - 16 and cy + 16 <= ry1
    # the cells of the two centres and their margins: nothing more
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects) == (125 + 16) ** 2 + (125 + 32) ** 2
    assert focus_rects(hints[:0], 1000, 800, 125, 16) == []


def test_a_focused_pass_looks_only_around_its_hints(canvas: RGB) -> None:
    step = Pass(2048, max_zoom=2.0, near=0.2)
    plan = Plan((step,), tile=640, overlap=64)
    hint = np.array([[SPOT.x, SPOT.y, SPOT.x + SPOT.w, SPOT.y + SPOT.h, 0.3]], np.float32)
    model = WhiteSquares()
    boxes, cut = run_pass(model, canvas, step, plan, hint)
    assert len(boxes[~cut]) == 1
    assert tuple(boxes[~cut][0, :4]) == pytest.approx((SPOT.x, SPOT.y, SPOT.x + SPOT.w, SPOT.y + SPOT.h), abs=1)
    looked = sum(shape[0] * shape[1] for shape in model.shapes)
    assert looked < 0.1 * (3000 * 2000 * step.scale(3000, 2000) ** 2)
    # a hint scoring below `near` is no hint; without any the pass looks nowhere
    assert pass_tiles(step, 3000, 2000, plan, hint * [1, 1, 1, 1, 0.5]) == []
    assert run_pass(WhiteSquares(), canvas, step, plan)[0].shape == (0, 5)
    # hints all over the photo: the whole grid, not a patchwork of the same area
    xs, ys = np.meshgrid(np.arange(50, 3000, 200), np.arange(50, 2000, 200))
    everywhere = np.stack([xs.ravel(), ys.ravel(), xs.ravel() + 20, ys.ravel() + 20, np.ones(xs.size)], axis=1)
    whole = tile_grid(3000, 2000, step.scale(3000, 2000), plan)
    assert pass_tiles(step, 3000, 2000, plan, everywhere.astype(np.float32)) == whole


@pytest.mark.parametrize("turns", [1, 3])
def test_a_focused_turned_mirrored_pass_finds_the_hinted_spot(canvas: RGB, turns: int) -> None:
    step = Pass(1024, turns=turns, mirror=True, near=0.1)
    plan = Plan((Pass(512), step), tile=640, overlap=64)
    model = WhiteSquares()
    boxes = detect_boxes(model, canvas, plan)
    assert len(boxes) == 1 and boxes[0, 4] > 0.98  # two views agreeing: the focused one saw the spot too
    assert tuple(boxes[0, :4]) == pytest.approx((SPOT.x, SPOT.y, SPOT.x + SPOT.w, SPOT.y + SPOT.h), abs=6)


def test_focused_passes_cost_less_than_whole_ones_on_a_portrait(rgb: RGB) -> None:
    """The default's enlarged and mirrored passes look only around the face of a portrait, and find it."""
    plan = PLANS[DEFAULT_DETECTOR[0]]
    assert any(step.near is not None for step in plan.passes)
    shapes: list[tuple[int, ...]] = []

    def counting(tile: RGB, threshold: float) -> NDArray[np.float32]:
        shapes.append(tile.shape)
        return shared_net().run(tile, threshold)

    canvas = np.zeros((768, 1024, 3), np.uint8)
    canvas[100:612, 300:812] = rgb
    found = Ensemble("counted", plan, counting).detect(canvas)
    assert best_iou(found, Box(FACE.x + 300, FACE.y + 100, FACE.w, FACE.h)) >= 0.5
    focused = sum(s[0] * s[1] for s in shapes)
    shapes.clear()
    everywhere = tuple(Pass(p.long_side, p.max_zoom, p.turns, p.mirror) for p in plan.passes)
    Ensemble("counted", Plan(everywhere), counting).detect(canvas)
    assert focused < 0.6 * sum(s[0] * s[1] for s in shapes)


def test_a_jpeg_decoded_at_the_size_the_detector_needs_gives_the_same_faces(portrait: Image.Image) -> None:
    """The default detector needs a long side of 1792 px: a 12 MP JPEG decoded at 1/2 (Pillow's draft) finds the
    same faces, mapped back to full size, as the full decoding."""
    import io

    canvas = Image.new("RGB", (4000, 3000), (90, 110, 100))
    canvas.paste(portrait.resize((400, 400)), (2900, 500))
    canvas.paste(portrait.resize((160, 160)), (700, 2100))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    detector = get_detector()
    long_side = needed_long_side(detector)
    assert long_side is not None and needed_long_side(get_detector(FAST_DETECTOR)) is not None
    request = draft_request(4000, 3000, long_side)
    assert request is not None and draft_request(1600, 1200, long_side) is None
    with Image.open(io.BytesIO(out.getvalue())) as im:
        im.draft("RGB", request)
        reduced = np.asarray(im.convert("RGB"))
    assert long_side <= max(reduced.shape[:2]) < 4000
    with Image.open(io.BytesIO(out.getvalue())) as im:
        full = detector.detect(np.asarray(im.convert("RGB")))
    found = scaled(detector.detect(reduced), 4000 / reduced.shape[1], 3000 / reduced.shape[0])
    for size, (x, y) in ((400, (2900, 500)), (160, (700, 2100))):
        k = size / 512
        face = Box(x + FACE.x * k, y + FACE.y * k, FACE.w * k, FACE.h * k)
        assert best_iou(full, face) >= 0.5
        assert best_iou(found, face) >= 0.5
    confident = [d for d in full if d.score >= 0.5]
    assert all(best_iou(found, d.box) >= 0.5 for d in confident)


# ---------------------------------------------------------------- recall on the corpus

RECALL_FLOOR = 0.92


def wider_truth(root: Path) -> dict[str, NDArray[np.float64]]:
    """Valid ground-truth boxes (x, y, w, h) of WIDER FACE validation, by file stem."""
    scipy_io = pytest.importorskip("scipy.io")
    mat = scipy_io.loadmat(str(root / "wider_face_val.mat"))
    truth = {}
    for e in range(len(mat["event_list"])):
        for f in range(len(mat["file_list"][e][0])):
            boxes = np.asarray(mat["face_bbx_list"][e][0][f][0], np.float64).reshape(-1, 4)
            invalid = np.asarray(mat["invalid_label_list"][e][0][f][0]).reshape(-1).astype(bool)
            truth[str(mat["file_list"][e][0][f][0][0])] = boxes[~invalid]
    return truth


@pytest.mark.corpus
@pytest.mark.slow
def test_default_recall_on_wider_face(faces_corpus: Path) -> None:
    """Recall at IoU 0.5 for faces of 16 px and more on 12 photos spread over the corpus (79 faces).

    Measured 0.962 (76 of 79) when written; the floor leaves room for three more misses."""
    truth = wider_truth(faces_corpus)
    paths = sorted((faces_corpus / "images").glob("*/*.jpg"))
    paths = paths[:: max(1, len(paths) // 12)][:12]
    found = total = 0
    for path in paths:
        with Image.open(path) as im:
            dets = get_detector().detect(np.asarray(im.convert("RGB")))
        for x, y, w, h in truth[path.stem]:
            if h >= 16:
                total += 1
                found += best_iou(dets, Box(x, y, w, h)) >= 0.5
    assert total > 60
    assert found / total >= RECALL_FLOOR, f"recall {found / total:.3f} on {total} faces"


def test_a_face_seen_twice_is_reported_once_and_stays_covered() -> None:
    """The default ensemble may find one face twice (shifted, or at another scale): the reported list (counts,
    the page's list, --json) has it once, as the union of its boxes; a small face inside a large box stays."""
    from anonymizer.pipeline import one_per_face

    found = [
        Detection(Box(100, 100, 40, 50), 0.9, "ensemble"),
        Detection(Box(104, 96, 42, 56), 0.4, "ensemble"),
        Detection(Box(300, 100, 40, 50), 0.8, "ensemble"),
        Detection(Box(310, 110, 8, 10), 0.7, "ensemble"),  # a small face inside a large box: another face
        Detection(Box(100, 100, 40, 50), 1.0, "user"),  # given by the user: kept as given
    ]
    reported = one_per_face(found)
    assert len(reported) == 4
    merged = next(d for d in reported if d.score == pytest.approx(0.9))
    assert (merged.box.x, merged.box.y, merged.box.x + merged.box.w, merged.box.y + merged.box.h) == (100, 96, 146, 152)
    assert sum(d.source == "user" for d in reported) == 1

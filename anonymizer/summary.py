"""Plain-data views of results, for JSON output (CLI --json and the web service share them)."""

from __future__ import annotations

from typing import Any

from .metadata import Report
from .pipeline import CleanResult, DetectResult
from .types import Detection

JSON = dict[str, Any]


def detection(det: Detection) -> JSON:
    b = det.box
    return {
        "box": {"x": round(b.x, 1), "y": round(b.y, 1), "w": round(b.w, 1), "h": round(b.h, 1)},
        "score": round(det.score, 3),
        "source": det.source,
    }


def report(rep: Report) -> JSON:
    return {
        "format": rep.format,
        "clean": rep.is_clean,
        "findings": [
            {
                "where": f.where,
                "what": f.what,
                "category": f.category.value,
                "risk": f.level.name.lower(),
                "size": f.size,
            }
            for f in rep.findings
        ],
    }


def detect_result(result: DetectResult) -> JSON:
    return {
        "width": result.width,
        "height": result.height,
        "orientation_applied": result.orientation_applied,
        "faces": [detection(d) for d in result.faces],
    }


def clean_result(result: CleanResult) -> JSON:
    removed = result.removed.identifying if result.removed is not None else ()
    return {
        "format": result.format.name,
        "width": result.width,
        "height": result.height,
        "bytes": len(result.data),
        "faces_obscured": len(result.faces),
        "faces": [detection(d) for d in result.faces],
        "regions_obscured": result.regions_obscured,
        "orientation_applied": result.orientation_applied,
        "metadata_removed": [{"where": f.where, "what": f.what, "category": f.category.value} for f in removed],
        "notes": list(result.notes),
    }

"""The worst rep's stills: one annotated JPEG per view at the bottom the rules chose."""

from __future__ import annotations

from device.analysis.keeper import ViewKeeper
from device.annotate import annotate
from device.vocabulary import PRESENT


def bottom_time(result: dict, keepers: dict[str, ViewKeeper]) -> float | None:
    """Time of the worst rep's bottom (the rules' choice), else of the deepest kept frame."""
    windows = result.get("rep_windows") or []
    worst = result.get("worst_rep")
    if isinstance(worst, int) and 0 <= worst < len(windows):
        return float(windows[worst]["bottom"])
    deepest = [b for k in keepers.values() for b in k.all_bottoms()]
    return max(deepest, key=lambda b: b.depth).t if deepest else None


def worst_rep_stills(result: dict, keepers: dict[str, ViewKeeper]) -> dict[str, bytes]:
    """{view: JPEG} of the kept frame nearest the worst rep's bottom, with its findings' measured
    lines, values and limits drawn."""
    t = bottom_time(result, keepers)
    if t is None:
        return {}
    present = [c for c, e in result["compensations"].items() if e.get("status") == PRESENT]
    images = {}
    for view, keeper in keepers.items():
        bottom = keeper.nearest(t)
        if bottom is None or not keeper.scale:
            continue
        kps = bottom.keypoints.copy()
        kps[:, :2] *= keeper.scale
        images[view] = annotate(bottom.still, kps, present, view, entries=result["compensations"])
    return images

"""Two assessments side by side: a table per compensation (then -> now, with values, units and
better / same / worse) and the two worst-rep stills of each view next to each other.

The direction comes from the threshold table (device.thresholds): a compensation flagged `above`
its threshold gets better as its value falls, one flagged `below` as it rises. A change smaller
than a quarter of the threshold's severity step (the distance between two grades) is "same":
per-rep noise is about that size, and a change that cannot move a grade is not a change to report.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from device.thresholds import THRESHOLDS
from device.vocabulary import COMPENSATIONS, NOT_ASSESSED, PRESENT
from web import present
from web.access import ctx
from web.kiosk import ID_RE, load

bp = Blueprint("compare", __name__, url_prefix="/trainer")

SAME_FRACTION_OF_STEP = 0.25
PICK_LIMIT = 30


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def verdict(cid: str, then: dict, now: dict) -> str:
    """'better' | 'same' | 'worse' | 'not comparable' for one compensation between two results."""
    spec = THRESHOLDS.get(COMPENSATIONS[cid].threshold or "")
    a, b = _number(then.get("value")), _number(now.get("value"))
    if then.get("status") == NOT_ASSESSED or now.get("status") == NOT_ASSESSED:
        return "not comparable"
    if spec is not None and spec.direction in ("above", "below") and a is not None and b is not None:
        change = b - a
        if abs(change) < SAME_FRACTION_OF_STEP * spec.step:
            return "same"
        lower_is_better = spec.direction == "above"
        return "better" if (change < 0) == lower_is_better else "worse"
    # no measured direction (silhouette or trainer-judged): the verdict alone
    seen_then, seen_now = then.get("status") == PRESENT, now.get("status") == PRESENT
    if seen_then == seen_now:
        return "same"
    return "better" if seen_then else "worse"


def direction_text(cid: str) -> str:
    spec = THRESHOLDS.get(COMPENSATIONS[cid].threshold or "")
    if spec is None or spec.direction not in ("above", "below"):
        return ""
    return "lower is better" if spec.direction == "above" else "higher is better"


def rows(then: dict, now: dict) -> list[dict]:
    """One row per compensation: both entries (after overrides), unit, direction, verdict."""
    a = then["result"].get("compensations") or {}
    b = now["result"].get("compensations") or {}
    out = []
    for cid, comp in COMPENSATIONS.items():
        ea, eb = a.get(cid) or {}, b.get(cid) or {}
        spec = THRESHOLDS.get(comp.threshold or "")
        out.append({
            "id": cid, "label": comp.label, "view": comp.view,
            "then": ea, "now": eb,
            "then_value": _number(ea.get("value")), "now_value": _number(eb.get("value")),
            "unit": eb.get("unit") or ea.get("unit") or (spec.unit if spec else ""),
            # the entry's own threshold: the one in force for that set (a trainer's override,
            # or a measure with its own, e.g. feet against the mat's printed footprints)
            "threshold": _number(eb.get("threshold")) if _number(eb.get("threshold")) is not None
            else _number(ea.get("threshold")) if _number(ea.get("threshold")) is not None
            else (spec.value if spec else None),
            "direction": direction_text(cid),
            "verdict": verdict(cid, ea, eb),
        })
    return out


def _chosen() -> list[str]:
    """The ids asked for: `id` (repeated, from the list's checkboxes) or the older `a`/`b`."""
    ids = [i for i in request.args.getlist("id") + [request.args.get("a", ""), request.args.get("b", "")] if i]
    seen = []
    for i in ids:
        if ID_RE.match(i) and i not in seen:
            seen.append(i)
    return seen


@bp.get("/compare")
def compare():
    ids = _chosen()
    if len(ids) != 2:
        return _pick(ids)
    first, second = load(ids[0]), load(ids[1])
    then, now = sorted((first, second), key=lambda r: (r["created_at"], r["id"]))
    views = [v for v in ("front", "side") if v in then["images"] or v in now["images"]]
    return render_template(
        "trainer/compare.html", then=then, now=now, rows=rows(then, now), views=views,
        then_view=present.view_of(then), now_view=present.view_of(now),
        image_url=lambda rid, v: url_for("kiosk.result_image", assessment_id=rid, view=v),
    )


def _pick(ids: list[str]):
    """Nothing (or one, or too many) chosen: a page to choose two, with the reason."""
    store = ctx()["store"]
    chosen = [r for r in (store.get(i) for i in ids) if r is not None]
    label = chosen[0]["label"] if len(chosen) == 1 else ""
    items = store.list(label, limit=PICK_LIMIT) if label else store.list(limit=PICK_LIMIT)
    if label:
        items = [i for i in items if i["label"].lower() == label.lower()]
    if not ids:
        reason = "Choose two assessments to compare: the earlier one is shown as “then”, the later as “now”."
    elif len(ids) == 1:
        reason = "One assessment is chosen; choose one more to compare it with."
    else:
        reason = f"{len(ids)} assessments were chosen; choose exactly two."
    return render_template("trainer/compare_pick.html", items=items, chosen=[r["id"] for r in chosen],
                           reason=reason, label=label, labels=COMPENSATIONS), 200

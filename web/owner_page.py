"""The owner's page: how the station is used and whether its cameras are placed well.

Use per day and per week, the sets cut short and why (the station's stopped states, recorded by
the runtime in the store's `stopped_sets`), per camera the share of checks that could not be made with
their reason codes (from the stored results' `not_assessed` entries, by the view each
compensation is watched from) and the camera angle the 3-D geometry estimated
(`result["geometry"]["round_toward_front_deg"]`, where results carry it), camera uptime and disk.
"""

from __future__ import annotations

import collections
import datetime as dt
import statistics

from flask import Blueprint, render_template

from device.vocabulary import COMPENSATIONS, NOT_ASSESSED, VIEWS
from web.access import ctx, owner_only

bp = Blueprint("owner_page", __name__, url_prefix="/trainer")

DAYS = 14
WEEKS = 8
STOP_REASONS = {  # the station's stopped states, in words (device/station/machine.py STOPPED)
    "person_left": "person stepped out of view",
    "camera_offline": "a camera stopped",
    "timed_out": "never got into position",
    "too_few_reps": "too few reps",
    "pain": "pain reported (Stop, it hurts)",
    "cancelled": "cancelled",
    "error": "station error",
}


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def summarise(results: list[dict], stopped: list[dict], now: dt.datetime) -> dict:
    """Plain numbers for the page from stored results and the sets cut short since some time."""
    today = now.astimezone().date()
    days = [today - dt.timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    monday = today - dt.timedelta(days=today.weekday())
    weeks = [monday - dt.timedelta(weeks=i) for i in range(WEEKS - 1, -1, -1)]
    per_day = collections.Counter()
    per_week = collections.Counter()
    stopped_day = collections.Counter()
    for r in results:
        d = _moment(r["created_at"]).astimezone().date()
        per_day[d] += 1
        per_week[d - dt.timedelta(days=d.weekday())] += 1
    reasons = collections.Counter()
    for e in stopped:
        reasons[e["reason"]] += 1
        stopped_day[_moment(e["at"]).astimezone().date()] += 1

    cameras = {}
    for view in VIEWS:
        checks = [cid for cid, c in COMPENSATIONS.items() if c.view == view]
        total = missing = 0
        codes = collections.Counter()
        angles = []
        for r in results:
            comps = r["result"].get("compensations") or {}
            for cid in checks:
                entry = comps.get(cid)
                if not isinstance(entry, dict):
                    continue
                total += 1
                if entry.get("status") == NOT_ASSESSED:
                    missing += 1
                    codes[entry.get("reason_code") or "unknown"] += 1
            geometry = r["result"].get("geometry")
            angle = geometry.get("round_toward_front_deg") if isinstance(geometry, dict) else None
            if view == "side" and isinstance(angle, (int, float)) and not isinstance(angle, bool):
                angles.append(float(angle))
        cameras[view] = {
            "checks": total, "not_assessed": missing,
            "share": (missing / total) if total else None,
            "reasons": codes.most_common(),
            "angle_median": statistics.median(angles) if angles else None,
            "angle_n": len(angles),
        }
    n_stopped = sum(reasons.values())
    return {
        "days": [{"day": d, "results": per_day[d], "stopped": stopped_day[d]} for d in days],
        "weeks": [{"week": w, "results": per_week[w]} for w in weeks],
        "results": len(results), "stopped": n_stopped,
        "stopped_share": n_stopped / (n_stopped + len(results)) if (n_stopped + len(results)) else None,
        "reasons": [{"code": code, "words": STOP_REASONS.get(code, code), "n": n} for code, n in reasons.most_common()],
        "cameras": cameras,
    }


@bp.get("/owner")
@owner_only
def owner():
    from web.trainer import health_readings

    c = ctx()
    now = dt.datetime.fromtimestamp(c["clock"](), dt.timezone.utc)
    since = now - dt.timedelta(weeks=WEEKS)
    store = c["store"]
    summary = summarise(store.results_since(since), store.stopped_sets(since), now)
    return render_template("trainer/owner.html", s=summary, weeks=WEEKS, days=DAYS, **health_readings())

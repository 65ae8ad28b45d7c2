"""Plain, positive wording of a result, one block per checkpoint region (feet up).

    describe_findings(result, lang="en") -> list[dict]

For each region: what we saw (with the measurement and how sure we are), why it matters and
what helps, what we checked without seeing a compensation, and what we could not check and why.
Nothing here says a body is "fine" or "safe": a region without findings says which checks were
made and that a movement screen cannot rule problems out.
"""

from __future__ import annotations

from device import i18n
from device.errors import InputError
from device.i18n import N_
from device.plan import library as libmod
from device.vocabulary import ABSENT, COMPENSATIONS, NOT_ASSESSED, PRESENT, REGIONS

SCREEN_LIMIT = N_("This is a movement screen, not a health check. It cannot tell you that a joint "
                "is free of problems.")


def confidence_text(conf) -> str:
    if not isinstance(conf, (int, float)) or isinstance(conf, bool):
        return "confidence not reported"
    word = "high" if conf >= 0.8 else "moderate" if conf >= 0.6 else "low"
    return f"{word} confidence ({conf:.0%})"


def _number(v) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def measurement_text(entry: dict) -> str:
    value, unit, threshold = entry.get("value"), entry.get("unit") or "", entry.get("threshold")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    text = f"measured {_number(value)} {unit}".rstrip()
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        text += f" (we flag it at {_number(threshold)} {unit})".replace(" )", ")")
    return text


SHIFT_SIDE = {"left": N_(" (towards your left)"), "right": N_(" (towards your right)")}
SIDE = {"left": N_(" (your left side)"), "right": N_(" (your right side)"), "both": N_(" (both sides)")}


def _where(cid: str, side, lang: str = "en") -> str:
    if not COMPENSATIONS[cid].sided or side not in ("left", "right", "both"):
        return ""
    words = SHIFT_SIDE if cid == "asymmetric_weight_shift" else SIDE
    return i18n.translations(lang).gettext(words[side]) if side in words else ""


def _seen(cid: str, entry: dict, reps, lib: dict, lang: str = "en") -> dict:
    _ = i18n.translations(lang).gettext
    data = lib["compensations"][cid]
    flagged = entry.get("reps_flagged")
    how_often = (_(" on %(flagged)s of %(reps)s reps") % {"flagged": flagged, "reps": reps}
                 if isinstance(flagged, int) and isinstance(reps, int) and reps else "")
    saw = _("We saw that %(saw)s.") % {"saw": f"{data['saw']}{how_often}{_where(cid, entry.get('side'), lang)}"}
    measure = measurement_text(entry)
    sure = confidence_text(entry.get("confidence"))
    return {
        "id": cid, "label": COMPENSATIONS[cid].label, "status": PRESENT,
        "side": entry.get("side") if COMPENSATIONS[cid].sided else None,
        "severity": entry.get("severity"),
        "what_we_saw": saw,
        "why_it_matters": data["why"],
        "what_helps": data["helps"],
        "measurement": {k: entry.get(k) for k in ("value", "unit", "threshold", "reps_flagged")},
        "confidence": entry.get("confidence"),
        "uncertainty": (measure[0].upper() + measure[1:] + "; " if measure else "") + sure + ".",
    }


def describe_findings(result: dict, lang: str = "en") -> list[dict]:
    """One dict per checkpoint region (vocabulary order), see the module docstring. In another
    `lang` the member's sentences (what we saw, why, what helps) are that language's; the
    measurement and confidence lines are for trainers and stay English."""
    if not isinstance(result, dict) or not isinstance(result.get("compensations"), dict):
        raise InputError("result: not an ohsa-result/1 (no 'compensations' object)")
    lib = libmod.load_for(lang)
    comps = result["compensations"]
    reps = result.get("reps")
    out = []
    for region in REGIONS:
        ids = [c for c, comp in COMPENSATIONS.items() if comp.region == region.id]
        seen, checked, not_checked = [], [], []
        for cid in ids:
            entry = comps.get(cid) or {"status": NOT_ASSESSED, "reason": "missing from the result"}
            status = entry.get("status")
            if status == PRESENT:
                seen.append(_seen(cid, entry, reps, lib, lang))
            elif status == ABSENT:
                checked.append({"id": cid, "label": COMPENSATIONS[cid].label,
                                "measurement": measurement_text(entry),
                                "confidence": entry.get("confidence"),
                                "uncertainty": confidence_text(entry.get("confidence"))})
            else:
                reason = entry.get("reason") or "no reason given"
                not_checked.append({"id": cid, "label": COMPENSATIONS[cid].label, "reason": reason,
                                    "text": f"We could not check \"{COMPENSATIONS[cid].label.lower()}\": {reason}."})
        if seen:
            verdict = "seen"
            summary = f"{len(seen)} thing{'s' if len(seen) > 1 else ''} to work on."
        elif checked:
            verdict = "partly_checked" if not_checked else "not_seen"
            names = ", ".join(c["label"].lower() for c in checked)
            summary = f"We did not see: {names}. {SCREEN_LIMIT}"
        else:
            verdict = "not_checked"
            summary = "We could not check this region this time."
        out.append({"region": region.id, "label": region.label, "verdict": verdict,
                    "summary": summary, "findings": seen, "checked": checked,
                    "not_checked": not_checked})
    return out

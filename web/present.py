"""An assessment as the pages show it: regions with verdicts, measurements, the plan.

Plain dicts for the templates; the wording of findings comes from device.plan.describe_findings
and the plan from the stored (trainer-edited) plan or device.plan.build_plan. What a member reads
(headline, body figure, plain reasons) comes from web.member; the technical rows (`regions`) are
for the trainer's pages.
"""

from __future__ import annotations

import logging

from device.vocabulary import ABSENT, COMPENSATIONS, NOT_ASSESSED, PRESENT, REGIONS
from web import bodyfigure, member

log = logging.getLogger(__name__)

VERDICT_WORDS = {
    PRESENT: "Seen",
    ABSENT: "Not seen",
    NOT_ASSESSED: "Not assessed",
}


def measurement(entry: dict) -> str:
    """'0.71 ratio (threshold 0.85); reps ranged 0.66 to 0.79' — value, threshold, spread."""
    value = entry.get("value")
    if not _is_number(value):
        return ""
    text = f"{_num(value)} {entry.get('unit') or ''}".strip()
    if _is_number(entry.get("threshold")):
        text += f" (threshold {_num(entry['threshold'])})"
    spread = spread_text(entry)
    return f"{text}; {spread}" if spread else text


def spread_text(entry: dict) -> str:
    """How much the measurement varied: an explicit ± from the rules, else the per-rep range."""
    unit = entry.get("unit") or ""
    for key in ("uncertainty", "value_sd"):
        if _is_number(entry.get(key)):
            return f"± {_num(entry[key])} {unit}".rstrip()
    reps = [v for v in entry.get("rep_values") or [] if _is_number(v)]
    if len(reps) >= 2:
        return f"reps ranged {_num(min(reps))} to {_num(max(reps))} {unit}".rstrip()
    return ""


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def confidence_text(entry: dict) -> str:
    c = entry.get("confidence")
    if _is_number(c):
        return f"{round(100 * c)} % sure"
    return ""


def regions(result: dict) -> list[dict]:
    """One row per checkpoint region: verdict and its compensations with their measurements."""
    comps = result.get("compensations") or {}
    out = []
    for region in REGIONS:
        items = []
        for cid, comp in COMPENSATIONS.items():
            if comp.region != region.id:
                continue
            entry = comps.get(cid) or {}
            status = entry.get("status") if entry.get("status") in VERDICT_WORDS else NOT_ASSESSED
            items.append({
                "id": cid,
                "label": comp.label,
                "view": comp.view,
                "status": status,
                "verdict": VERDICT_WORDS[status],
                "side": entry.get("side") if comp.sided else None,
                "reps_flagged": entry.get("reps_flagged"),
                "measurement": measurement(entry),
                "confidence": confidence_text(entry),
                "severity": entry.get("severity"),
                "reason": entry.get("reason") or "",
                "override": entry.get("override"),
                "original_status": entry.get("original_status"),
            })
        statuses = {i["status"] for i in items}
        if PRESENT in statuses:
            verdict = PRESENT
        elif statuses == {ABSENT}:
            verdict = ABSENT
        elif ABSENT in statuses:
            verdict = ABSENT  # partly assessed: what we could see looked fine
        else:
            verdict = NOT_ASSESSED
        out.append({
            "id": region.id,
            "label": region.label,
            "status": verdict,
            "verdict": VERDICT_WORDS[verdict],
            "partial": NOT_ASSESSED in statuses and verdict != NOT_ASSESSED,
            "items": items,
        })
    return out


# describe_findings' verdicts -> (chip class, words)
THEIR_VERDICTS = {
    "seen": (PRESENT, "Seen"),
    "not_seen": (ABSENT, "Not seen"),
    "partly_checked": (ABSENT, "Partly checked"),
    "not_checked": (NOT_ASSESSED, "Not checked"),
}


def described(result: dict) -> list[dict]:
    """device.plan.describe_findings(result), or [] when device.plan is not available."""
    try:
        from device.plan import describe_findings
    except ImportError:
        log.warning("device.plan is not available: findings are shown without descriptions")
        return []
    return describe_findings(result) or []


def findings_text(result: dict, blocks: list[dict] | None = None) -> dict[str, dict]:
    """Plain-words findings per region id from device.plan.describe_findings ({} when absent)."""
    blocks = described(result) if blocks is None else blocks
    return {item["region"]: item for item in blocks if item.get("region")}


def plan_for(record: dict, lang: str = "en") -> dict | None:
    """The trainer-edited plan if there is one (with the member fields filled in), else the
    generated plan for this result; the re-test date counts from the assessment's date."""
    from device.plan import build_plan, with_member_fields

    from device.plan.check import plan_problem

    when = record.get("created_at")
    stored = record.get("plan")
    if stored:
        problem = plan_problem(stored)
        if problem is None:
            try:
                plan = with_member_fields(stored, when, lang)
                if lang != "en" and plan.get("kind") != "referral":
                    from device.plan.builder import retold
                    plan = retold(plan, record["result"], lang, pain=bool(record.get("pain")), assessed_on=when)
                return plan
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                problem = f"plan: {e.__class__.__name__}: {e}"
        log.warning("assessment %s: the stored plan cannot be shown (%s); the generated one is", record.get("id"), problem)
        generated = build_plan(record["result"], pain=bool(record.get("pain")), assessed_on=when, lang=lang)
        return dict(generated, stored_plan_problem=problem)
    return build_plan(record["result"], pain=bool(record.get("pain")), assessed_on=when, lang=lang)


def comparison(record: dict) -> dict | None:
    """For a re-test: what changed against its standard set, as the analysis stored it
    (`device.analysis.pipeline` compares once, when the re-test is analysed)."""
    if record.get("kind") in (None, "standard") or not record.get("parent_id"):
        return None
    stored = (record.get("result") or {}).get("retest")
    return dict(stored) if isinstance(stored, dict) else None


def view_of(record: dict, lang: str = "en") -> dict:
    """Everything a result page needs from one stored assessment; the member's part in `lang`
    (the trainer's rows stay English)."""
    result = record["result"]
    comps = result.get("compensations") or {}
    blocks = described(result)
    by_region = findings_text(result, blocks)
    rows = regions(result)
    for row in rows:
        text = by_region.get(row["id"])
        row["text"] = text
        if text and text.get("verdict") in THEIR_VERDICTS:
            row["status"], row["verdict"] = THEIR_VERDICTS[text["verdict"]]
        if text:
            for item in text.get("findings", []) + text.get("checked", []):
                item["spread"] = spread_text(comps.get(item["id"]) or {})
        row["overridden"] = [i for i in row["items"] if i["override"]]
    plan = plan_for(record, lang)
    if lang != "en":
        from device.plan import describe_findings
        blocks = describe_findings(result, lang)
    mine = member.member_result(result, plan, pain=bool(record.get("pain")), described=blocks, lang=lang)
    compared = comparison(record)
    mine["comparison"] = member.comparison_text(compared, lang)  # the member's words; `summary` for trainers
    return {
        "record": record,
        "result": result,
        "regions": rows,
        "member": mine,
        "body_figure": bodyfigure.body_svg(mine["figure"], lang=lang),
        "plan": plan,
        "views": result.get("views") or {},
        "reps": result.get("reps"),
        "comparison": compared,
    }

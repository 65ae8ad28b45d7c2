"""The corrective plan: exercise library (data), plan builder, plain wording of findings.

    from device.plan import build_plan, describe_findings, figure_svg, plan_text
    plan = build_plan(result, pain=False, age=None, assessed_on=record["created_at"])
    regions = describe_findings(result)
    svg = figure_svg(exercise["figure"])          # the exercise's picture, inline SVG
    text = plan_text(plan, result)                # the take-home QR code's text
    build_plan(result, lang="de"); plan_text(plan, result, lang="de")   # the member's words in German
                                                  # (library.de.toml, device/locale; docs/i18n.md)
    problems = check_member_text(text)            # [] when it reads plainly (device/plan/words.py)
"""

from device.plan.builder import FORMAT_PLAN, REFERRAL_MESSAGE, build_plan, with_member_fields
from device.plan.findings import describe_findings
from device.plan.library import PHASES, figure_svg, load as load_library
from device.plan.take_home import plan_text
from device.plan.words import JARGON, check_member_text, member_texts

__all__ = ["FORMAT_PLAN", "JARGON", "PHASES", "REFERRAL_MESSAGE", "build_plan", "check_member_text",
           "describe_findings", "figure_svg", "load_library", "member_texts", "plan_text",
           "with_member_fields"]

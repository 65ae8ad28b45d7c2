"""The corrective plan: exercise library (data), plan builder, plain wording of findings.

    from device.plan import build_plan, describe_findings
    plan = build_plan(result, pain=False, age=None)
    regions = describe_findings(result)
"""

from device.plan.builder import FORMAT_PLAN, REFERRAL_MESSAGE, build_plan
from device.plan.findings import describe_findings
from device.plan.library import PHASES, load as load_library

__all__ = ["FORMAT_PLAN", "PHASES", "REFERRAL_MESSAGE", "build_plan", "describe_findings",
           "load_library"]

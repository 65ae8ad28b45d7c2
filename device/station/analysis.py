"""From a finished set to a stored assessment: the analysis pipeline, stills, the store.

Runs on the station's analysis worker, never on a web or GPIO thread. `analyse(job)` computes
and returns plain data (`device.analysis`: the same pipeline as `ohsa assess`); `save(job,
outcome)` writes it, and only if the set still counts (not cancelled meanwhile), so nothing of a
stopped set is ever stored. With a calibration keeper (`device.station.calibration`) the kept
calibration goes into the pipeline and each set's geometry comes back to the keeper.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

from device import health
from device.analysis import analyse
from device.analysis.stills import worst_rep_stills
from device.station.machine import Job
from device.thresholds import Thresholds

log = logging.getLogger(__name__)

# the pipeline takes the station's calibration once its 3-D path is in (device.analysis.analyse)
TAKES_CALIBRATION = "calibration" in inspect.signature(analyse).parameters


class Analyser:
    """The real analysis path (device.analysis, device.store)."""

    def __init__(
        self,
        config: dict,
        store,
        *,
        backgrounds: Callable[[], dict] | None = None,
        model_sha256: str = "",
        calibration=None,
    ):
        self.thresholds = Thresholds(config["rules"]["thresholds"])
        self.storage = config["storage"]
        self.store = store
        self.backgrounds = backgrounds or (lambda: {})
        self.model_sha256 = model_sha256
        self.calibration = calibration  # device.station.calibration.CalibrationKeeper, or None

    def analyse(self, job: Job) -> dict:
        extra = {}
        if self.calibration is not None and TAKES_CALIBRATION:
            extra["calibration"] = self.calibration.for_analysis()
            if extra["calibration"] is not None:  # the person-based check only every few sets
                extra["person_check_px"] = self.calibration.person_check_px()
        result = analyse(
            job.track, job.keepers, thresholds=self.thresholds, backgrounds=self.backgrounds() or {},
            kind=job.kind, parent_result=job.parent_result, parent_id=job.parent_id, **extra,
        )
        if self.calibration is not None:
            try:  # the set's geometry refines the kept estimate and may show a moved camera
                self.calibration.observe(result.get("geometry"))
            except Exception:  # never at the cost of the person's result
                log.exception("calibration record not updated")
        return {"result": result, "images": worst_rep_stills(result, job.keepers)}

    def save(self, job: Job, outcome: dict) -> str:
        images = outcome.get("images") or {}
        if images and not health.store_images_allowed(self.store.path.parent, self.storage):
            log.warning("disk nearly full: assessment saved without its still images")
            outcome["result"]["images_skipped"] = "the station's disk is nearly full"
            images = {}
        return self.store.save_assessment(
            outcome["result"], job.track, images,
            kind=job.kind, parent_id=job.parent_id, model_sha256=self.model_sha256,
            member=getattr(job, "member", None),
        )

    def mark_pain(self, assessment_id: str) -> None:
        """Pain reported on a result: the stored assessment says so (its plan becomes a
        referral) and the trainers' alerts list it."""
        self.store.set_pain(assessment_id, True)
        self.store.add_event("referral", assessment_id=assessment_id,
                             detail="'Stop, it hurts' on the result: the plan is a referral")

    def pain_during_set(self, info: dict) -> None:
        """Pain reported during a set: nothing is saved of the set, but the trainers' alerts
        list it (with the member, when the person identified)."""
        what = {"recording": f"while squatting, after {info.get('reps', 0)} rep(s)"}.get(
            info.get("during"), f"while {str(info.get('during', 'in the set')).replace('_', ' ')}")
        kind = info.get("kind") or "standard"
        detail = f"'Stop, it hurts' {what}" + ("" if kind == "standard" else f" ({kind.replace('_', ' ')} re-test)")
        try:
            self.store.add_event("pain", member_number=info.get("member"), detail=detail)
        except Exception:  # the station carries on; the log keeps it
            log.exception("could not record the pain report")

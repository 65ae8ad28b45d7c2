"""The station's kept calibration: the mat calibration from `ohsa calibrate`, checked now and then
while the station is idle, and a running record of the person-based calibrations of its sets.

    keeper = CalibrationKeeper(data_dir)          # loads <data dir>/calibration.json if there is one
    cal = keeper.for_analysis()                   # the mat calibration to use, or None (person / 2-D)
    px = keeper.person_check_px()                 # when the set should also calibrate on the person
    keeper.observe(result["geometry"])            # after every set (the analysis worker)
    if keeper.claim_recheck():                    # idle, and a re-check is due: run it off the loop
        keeper.recheck(stills)                    # {view: RGB still}: device.geometry.calibration.recheck
    keeper.status()                               # plain words for the health page and `ohsa check`

What it watches for (the cameras of a station should not move; when one does, the 3-D measures
must not go on with the old cameras):

- the mat re-check (every `SETTINGS["recheck_every_s"]` while idle): a camera whose markers moved
  is recalibrated on the mat and saved; when too little of the mat is in view to solve again, the
  stored calibration is set aside (the sets fall back to the person-based calibration or 2-D) and
  the health page says to run `ohsa calibrate`; a later re-check that finds the markers back in
  place takes it up again;
- every set analysed with the mat calibration: the keypoints' reprojection error against it
  jumping to `reprojection_jump_factor` times its usual level, or the person-based angle
  disagreeing with the mat's by more than `person_vs_mat_deg`, on `jump_sets` sets in a row,
  makes it suspect: it is set aside and a mat re-check is run at the next idle moment (the
  re-check decides; the mat is the more accurate witness);
- the person-based check against the mat costs about 70 ms a set (docs/performance.md), so with
  the mat in use it runs on every `person_check_every`-th set, on every set while the mat's usual
  reprojection error is not known yet or a jump is pending, and on any set whose reprojection
  error on the mat jumps (`person_check_px`: the analysis runs it above that many pixels);
- without a mat calibration, the person-based calibrations of the trusted sets are kept (the last
  `person_window`) and their median is the station's estimate, more stable than any one set; a
  set whose angle is `person_jump_deg` off that median (or on the other side), on `jump_sets`
  sets in a row, means the side camera was moved: the record starts again from those sets.

The record and the status live in `<data dir>/calibration-record.json` (written atomically), so the
estimate survives a restart and the web's health page (`device.health.calibration_status`) reads
the same words. Clock: `clock()` (unix seconds), injectable.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from device import atomic
from device.health import CALIBRATION_FILE, CALIBRATION_RECORD_FILE
from device.geometry import words

log = logging.getLogger(__name__)

RECORD_FORMAT = "ohsa-calibration-record/1"
SETTINGS = {
    "recheck_every_s": 600.0,  # idle mat re-check
    "retry_after_s": 60.0,  # ... sooner after "cannot tell" (someone on the mat, lights off)
    "first_check_after_s": 60.0,  # after start-up
    "person_window": 12,  # person-based calibrations kept for the running estimate
    "min_person_sets": 3,  # before the running estimate judges a new set
    "person_jump_deg": 12.0,  # a set this far from the running estimate: moved? (sets scatter ~3-5)
    "person_vs_mat_deg": 15.0,  # the person-based angle this far from the mat's: mat suspect
    "reprojection_jump_factor": 3.0,  # the mat's reprojection error on a set, against its usual
    "reprojection_floor_px": 6.0,  # ... and at least this many pixels
    "jump_sets": 2,  # in a row, before acting (one odd set is the person, not the camera)
    "mat_sets_kept": 12,  # reprojection errors of the mat on recent sets
    "person_check_every": 5,  # with the mat in use: the person-based check on every 5th set at least
}


def _num(v) -> float | None:
    if isinstance(v, (list, tuple)):
        vals = [x for x in (_num(x) for x in v) if x is not None]
        return max(vals) if vals else None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class CalibrationKeeper:
    def __init__(self, data_dir: str | os.PathLike, *, clock: Callable[[], float] = time.time,
                 settings: dict | None = None):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / CALIBRATION_FILE
        self.record_path = self.data_dir / CALIBRATION_RECORD_FILE
        self.clock = clock
        self.settings = {**SETTINGS, **(settings or {})}
        self._lock = threading.RLock()
        self._mat = None  # device.geometry.calibration.Calibration
        self._mat_mtime: float | None = None
        self._mat_state = "none"  # none | ok | suspect | moved | invalid
        self._mat_message = ""
        self._mat_errors: list[float] = []  # reprojection px of recent sets on the mat calibration
        self._unchecked = 0  # mat sets since the last one with the person-based check
        self._person: list[dict] = []  # recent trusted person-based calibrations
        self._pending: list[dict] = []  # sets that jumped, in a row (person or mat)
        self._last_set: dict | None = None
        self._checked_at: float | None = None
        self._check_message = ""
        self._recheck_pending = False
        self._next_check = self.clock() + self.settings["first_check_after_s"]
        self._events: list[dict] = []
        self._held: dict | None = None
        self._read_record()
        self._load_mat()
        self._write_record()  # the health page shows what this run of the station uses

    # -- what the analysis uses ---------------------------------------------------------------

    def for_analysis(self):
        """The mat calibration when it can be trusted, else None (person-based or 2-D)."""
        with self._lock:
            self._load_mat()
            return self._mat if self._mat_state == "ok" else None

    def person_check_px(self) -> float:
        """For the next set's analysis (`analyse(..., person_check_px=)`): run the person-based
        check against the mat when the mat's reprojection error on the set is above this many
        pixels; 0 (always) every `person_check_every`-th set, while the mat's usual error is not
        known and while a jump is pending; else the jump level (`_observe_mat`)."""
        with self._lock:
            jump = self._jump_px()
            if jump is None or self._pending or self._unchecked + 1 >= self.settings["person_check_every"]:
                return 0.0
            return jump

    def _jump_px(self) -> float | None:
        usual = self._usual_mat_error()
        if usual is None:
            return None
        return max(self.settings["reprojection_jump_factor"] * usual, self.settings["reprojection_floor_px"])

    def observe(self, geometry: dict | None) -> None:
        """A finished set's `result["geometry"]`: refine the estimate, notice a moved camera."""
        if not isinstance(geometry, dict):
            return
        with self._lock:
            now = self.clock()
            entry = {
                "t": now, "path": geometry.get("path"), "calibration": geometry.get("calibration"),
                "angle_deg": _num(geometry.get("angle_deg")),
                "round_toward_front_deg": _num(geometry.get("round_toward_front_deg")),
                "side": geometry.get("side"), "side_distance_m": _num(geometry.get("side_distance_m")),
                "front_distance_m": _num(geometry.get("front_distance_m")),
                "reprojection_px": _num(geometry.get("reprojection_px")),
                "trusted": bool(geometry.get("trusted")), "reason": geometry.get("reason"),
                "person_vs_mat_deg": _num(geometry.get("person_vs_mat_deg")),
            }
            self._last_set = entry
            if entry["calibration"] == "mat":
                self._observe_mat(entry, now)
            elif entry["calibration"] == "person" and entry["trusted"]:
                self._observe_person(entry, now)
            self._write_record()

    def _observe_mat(self, e: dict, now: float) -> None:
        s = self.settings
        err, usual, jump = e["reprojection_px"], self._usual_mat_error(), self._jump_px()
        why = None
        if err is not None and jump is not None and err > jump:
            why = f"the keypoints fit it {err:.1f} px, usually {usual:.1f} px"
        d = e["person_vs_mat_deg"]
        self._unchecked = 0 if d is not None else self._unchecked + 1
        if d is not None and abs(d) > s["person_vs_mat_deg"]:
            why = (why + "; " if why else "") + f"the person puts the side camera {abs(d):.0f} degrees from where the mat does"
        if why is None:
            self._pending = []
            if err is not None:
                self._mat_errors = (self._mat_errors + [err])[-s["mat_sets_kept"]:]
            return
        self._pending.append({**e, "why": why})
        if len(self._pending) < s["jump_sets"] or self._mat_state != "ok":
            return
        self._mat_state = "suspect"
        self._mat_message = (f"On the last {len(self._pending)} sets the cameras did not match the mat calibration "
                             f"({why}): a camera may have been moved or knocked. The mat is re-checked when the "
                             "station is idle; until then the calibration on the person is used.")
        self._next_check = now  # re-check at the next idle moment
        self._event(now, self._mat_message)
        self._pending = []

    def _usual_mat_error(self) -> float | None:
        if len(self._mat_errors) < self.settings["min_person_sets"]:
            return None
        return float(np.median(self._mat_errors))

    def _observe_person(self, e: dict, now: float) -> None:
        s = self.settings
        est = self.person_estimate()
        jumped = False
        if est is not None and est["sets"] >= s["min_person_sets"] and e["round_toward_front_deg"] is not None:
            off = abs(e["round_toward_front_deg"] - est["round_toward_front_deg"])
            other_side = e["side"] in ("left", "right") and est.get("side") in ("left", "right") and e["side"] != est["side"]
            jumped = off > s["person_jump_deg"] or other_side
        if not jumped:
            self._pending = []
            self._person = (self._person + [e])[-s["person_window"]:]
            return
        self._pending.append(e)
        if len(self._pending) < s["jump_sets"]:
            return
        new = float(np.median([p["round_toward_front_deg"] for p in self._pending]))
        msg = (f"The side camera seems to have moved: the last {len(self._pending)} sets put it about {new:.0f} "
               f"degrees toward the front, before about {est['round_toward_front_deg']:.0f} (over {est['sets']} "
               "sets). The calibration on the person starts again from these sets.")
        self._event(now, msg)
        self._person = list(self._pending)
        self._pending = []

    def person_estimate(self) -> dict | None:
        """The running person-based estimate: medians over the kept sets (a `geometry`-shaped
        dict with `sets`), None before the first trusted set."""
        with self._lock:
            if not self._person:
                return None
            out = {"path": "3d", "calibration": "person", "trusted": True, "sets": len(self._person)}
            for k in ("angle_deg", "round_toward_front_deg", "side_distance_m", "front_distance_m", "reprojection_px"):
                vals = [p[k] for p in self._person if p.get(k) is not None]
                out[k] = float(np.median(vals)) if vals else None
            sides = [p["side"] for p in self._person if p.get("side") in ("left", "right")]
            out["side"] = max(set(sides), key=sides.count) if sides else None
            return out

    # -- the idle mat re-check ------------------------------------------------------------------

    def claim_recheck(self) -> bool:
        """True (once) when a mat re-check is due: the caller takes stills and calls `recheck`."""
        with self._lock:
            self._load_mat()
            if self._mat is None or self._recheck_pending or self.clock() < self._next_check:
                return False
            self._recheck_pending = True
            return True

    def recheck(self, stills: dict | None):
        """Re-detect the mat in `stills` ({view: RGB}), act on the verdict; returns it (None
        without stills or calibration). Saves a recalibrated camera to the calibration file."""
        from device.geometry import calibration as calib

        with self._lock:
            now = self.clock()
            self._recheck_pending = False
            self._next_check = now + self.settings["recheck_every_s"]
            cal = self._mat
            if cal is None or not stills:
                if cal is not None:
                    self._next_check = now + self.settings["retry_after_s"]
                return None
        try:
            verdict = calib.recheck(cal, stills)  # about 0.5 s a still: outside the lock
        except calib.CalibrationError as e:
            with self._lock:
                self._checked_at, self._check_message = now, str(e)
                log.error("mat re-check: %s", e)
                self._write_record()
            return None
        with self._lock:
            self._checked_at = now
            self._check_message = verdict.message
            statuses = {v.status for v in verdict.views.values()}
            if statuses <= {"unknown"}:
                self._next_check = now + self.settings["retry_after_s"]
                log.info("mat re-check: cannot tell (%s)", verdict.message)
            elif not verdict.usable:
                if self._mat_state != "moved":
                    self._event(now, f"{verdict.message}. Run `ohsa calibrate` with the mat clear and in view; "
                                     "until then the calibration on the person (or 2-D) is used.")
                self._mat_state = "moved"
                self._mat_message = (f"A camera has moved and the mat is not enough in view to recalibrate it: "
                                     f"{verdict.message}. Run `ohsa calibrate` with the mat clear and in view; "
                                     "until then the calibration on the person (or 2-D) is used.")
            elif verdict.calibration is not None:
                calib.save(verdict.calibration, self.path)
                self._mat = verdict.calibration
                self._mat_mtime = self._mtime()
                self._mat_state, self._mat_errors, self._pending = "ok", [], []
                self._mat_message = f"Recalibrated on the mat: {verdict.message}"
                self._event(now, self._mat_message)
            elif "unknown" in statuses and self._mat_state in ("moved", "suspect"):
                self._next_check = now + self.settings["retry_after_s"]  # not every camera seen: not cleared
            else:
                if self._mat_state in ("moved", "suspect"):
                    self._event(now, f"The mat re-check finds the cameras in place: {verdict.message}")
                self._mat_state, self._mat_message = "ok", ""
            self._write_record()
            return verdict

    # -- the mat calibration file ------------------------------------------------------------------

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def _load_mat(self) -> None:
        """(Re)load the calibration file when it appeared or changed (`ohsa calibrate`)."""
        from device.geometry import calibration as calib

        mtime = self._mtime()
        if mtime == self._mat_mtime:
            return
        self._mat_mtime = mtime
        if mtime is None:
            self._mat, self._mat_state, self._mat_message = None, "none", ""
            return
        try:
            self._mat = calib.load(self.path)
        except calib.CalibrationError as e:
            self._mat, self._mat_state, self._mat_message = None, "invalid", f"The calibration file cannot be used: {e}"
            log.error("%s", e)
            return
        self._mat_state, self._mat_message, self._mat_errors, self._pending = "ok", "", [], []
        held, self._held = self._held, None
        if held and held.get("mtime") == mtime:  # same file as when it was set aside: still aside
            self._mat_state, self._mat_message = held["state"], str(held.get("message") or "")
        self._next_check = min(self._next_check, self.clock() + self.settings["first_check_after_s"])
        log.info("mat calibration loaded: %s", "; ".join(calib.describe(self._mat)))

    # -- status, record ----------------------------------------------------------------------------

    def _event(self, now: float, message: str) -> None:
        log.warning("calibration: %s", message)
        self._events = (self._events + [{"t": now, "message": message}])[-10:]

    def status(self) -> dict:
        """What the station's geometry rests on, in plain words (health page, `ohsa check`)."""
        with self._lock:
            self._load_mat()
            est = self.person_estimate()
            if self._mat_state == "ok":
                source, geometry = "mat", words.from_calibration(self._mat)
            else:
                source, geometry = ("person", est) if est else ("none", None)
            where = words.placement(geometry)
            if source == "mat":
                message = f"Mat calibration in use (3-D){': ' + where if where else ''}."
            elif source == "person":
                message = (f"Calibrated on the person over {est['sets']} set{'s' if est['sets'] != 1 else ''}"
                           f"{': ' + where if where else ''}.")
            else:
                message = "Not calibrated yet: 3-D needs the mat (`ohsa calibrate`) or a set the person-based calibration trusts."
            if self._mat_state in ("suspect", "moved", "invalid"):
                message = f"{self._mat_message} {message}"
            elif self._mat_state == "none":
                message += " No mat calibration: print the mat and run `ohsa calibrate` (docs/calibration.md)."
            last = self._last_set
            return {
                "source": source,
                "mat": self._mat_state,
                "warning": self._mat_state in ("suspect", "moved", "invalid"),
                "message": message,
                "placement": where,
                "last_set": None if last is None else {"path": words.path(last), "placement": words.placement(last),
                                                       "at": last["t"]},
                "three_d": None if last is None else last["path"] == "3d",
                "person_sets": len(self._person),
                "checked_at": self._checked_at,
                "check": self._check_message,
                "next_check_at": self._next_check if self._mat is not None else None,
                "events": list(self._events),
                "updated": self.clock(),
            }

    def _read_record(self) -> None:
        try:
            data = json.loads(self.record_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            log.warning("%s: not read (%s), starting a new record", self.record_path, e.__class__.__name__)
            return
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            log.warning("%s: not an %s file, starting a new record", self.record_path, RECORD_FORMAT)
            return
        self._person = [p for p in data.get("person") or [] if isinstance(p, dict)][-self.settings["person_window"]:]
        self._mat_errors = [float(x) for x in data.get("mat_errors") or [] if _num(x) is not None]
        self._events = [e for e in data.get("events") or [] if isinstance(e, dict)][-10:]
        last = data.get("last_set")
        self._last_set = last if isinstance(last, dict) else None
        self._checked_at = _num(data.get("checked_at"))
        self._check_message = str(data.get("check") or "")
        held = data.get("mat_held")  # a mat calibration set aside before a restart stays aside
        if isinstance(held, dict) and held.get("state") in ("suspect", "moved"):
            self._held = held

    def _write_record(self) -> None:
        data = {
            "format": RECORD_FORMAT, "person": self._person, "mat_errors": self._mat_errors,
            "events": self._events, "last_set": self._last_set, "checked_at": self._checked_at,
            "check": self._check_message,
            "mat_held": ({"state": self._mat_state, "message": self._mat_message, "mtime": self._mat_mtime}
                         if self._mat_state in ("suspect", "moved") else None),
        }
        try:
            data["status"] = self.status()
            atomic.write_text(self.record_path, json.dumps(data, indent=1) + "\n")
        except OSError as e:
            log.error("%s: not written (%s)", self.record_path, e)

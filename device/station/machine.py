"""The walk-up flow as plain logic: states, transitions, messages and panel effects.

    station = Station(config, clock=..., panel=..., analyse=..., save=..., submit=...)
    station.press() / long_press() / start() / cancel() / report_pain() / retest(kind)
    station.identify(number, how)                                # a member card or the keypad
    station.observe(view, t, keypoints, width, height, image)   # one processed frame
    station.set_camera(view, online, reason)                     # from the capture's status
    station.tick()                                               # timers (call often)
    station.state()                                              # plain dict for the page

idle -> positioning (both views: whole person on the spot, facing front, start stance held for
`positioning_hold_s`) -> countdown (a beep a second) -> recording (live rep counter; stops at
`target_reps` or `record_limit_s`) -> analysing (off this thread: `submit(job)`) -> result
(region LEDs) -> idle after `result_idle_s` or on a press. A long press cancels at any time
(during recording it means "stop, it hurts"). Person leaving, a camera going offline, too few
reps, pain and a failed analysis each end in their own state with a plain message; nothing of a
stopped set is saved (pain during a set is still told to `on_set_pain`, for the trainer's alerts).
While idle or positioning a member may identify (`identify`: a card's code seen by the front
camera, or the keypad); the set's Job carries the member number to the save. It is forgotten
back at idle, on a new set started from a result or message, and after IDENTIFY_KEEP_S idle.

Opening hours (`kiosk.opening_hours`, device/hours.py; none: always open): outside them an idle
station goes to `closed`, the station asleep (the runtime idles the cameras, the page goes dark,
the panel light is off). A press wakes it to idle; outside the hours it sleeps again after
`kiosk.wake_idle_s` idle. At opening time it wakes by itself. Time comes from the injected
`clock` (timers) and `wall` (local time of day, for the hours), frames from `observe`, so every
path is testable without cameras or threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device import hours
from device.analysis import retest
from device.analysis.keeper import ViewKeeper
from device.analysis.recorder import Recorder, live_counter
from device.config import validate as validate_config
from device.placement import person_present
from device.station import positioning
from device.thresholds import Thresholds
from device.track import Track, ViewTrack
from device.vocabulary import COMPENSATIONS, PRESENT, VIEWS

log = logging.getLogger(__name__)

ACTIVE = ("positioning", "countdown", "recording", "analysing")
STOPPED = ("cancelled", "person_left", "camera_offline", "timed_out", "too_few_reps", "pain", "error")
ASLEEP = "closed"  # outside the opening hours: no pose, a dark screen, the panel light off
STATES = ("idle", *ACTIVE, "result", *STOPPED, ASLEEP, "shutting_down")

MESSAGES = {
    "idle": "Press the button to start your squat check.",
    "idle_fault": "The {views} not working. Please ask a member of staff.",
    "safe_mode": "The station needs a member of staff: {reason}",
    "countdown": "Hold still: starting in {n}. Then squat slowly, arms overhead.",
    "recording": "Squat slowly, arms overhead: {reps} of {target}.",
    "recording_hips": "Squat slowly, hands on hips: {reps} of {target}.",
    "analysing": "Well done! Working out your results...",
    "result": "Your results are ready.",
    "cancelled": "Cancelled. Press the button to start again.",
    "person_left": "You stepped out of view, so the set was stopped. Press the button to start again.",
    "camera_offline": "The {view} camera stopped working, so the set was stopped. Please ask a member of staff.",
    "timed_out": (
        "The set was stopped: nobody was in the start position for {seconds:.0f} seconds ({why}). "
        "Press the button to start again."
    ),
    "timed_out_retest": (
        "The re-test was stopped: nobody was in its start position for {seconds:.0f} seconds "
        "({why}). Press the button to start again."
    ),
    "too_few_reps": "We counted {reps} squat{s}, at least {min} are needed, so there is no result this time. Press the button to try again.",
    "pain": (
        "Please stop. Pain during a squat is a reason to see a physiotherapist or doctor before "
        "training, so there is no exercise plan this time. A trainer can help you find one."
    ),
    "error": "Something went wrong working out your results. Please try again or ask a member of staff.",
    "shutting_down": "The station is shutting down.",
    ASLEEP: "Closed. Press the button to wake the station.",
}
COUNTDOWN_SLACK_S = 0.5  # the start position may break this long during the countdown
PAIN_LEFT_S = 2.0  # after "stop, it hurts": the front camera sees nobody this long -> the person left
CANCELLED_IDLE_S = 5.0  # "cancelled" goes back to idle sooner than other messages
INSTRUCTION_HOLD_S = 1.5  # a positioning instruction stays this long at least (unless ready)
READY_SLACK_S = 0.25  # ready held through a keypoint's score dipping for at most this long
READY_TEXT = "Hold that position."
IDENTIFY_STATES = ("idle", "positioning")  # a member may identify only before the set
IDENTIFY_KEEP_S = 120.0  # an identification nobody follows with a set is forgotten after this


@dataclass
class Job:
    """A finished set handed to the analysis worker (plain data; the worker owns it)."""

    token: int
    kind: str  # standard | heels_raised | hands_on_hips
    parent_id: str | None
    parent_result: dict | None
    track: Track
    keepers: dict[str, ViewKeeper]
    live_reps: int
    started: float
    ended: float
    member: str | None = None  # the member number the person identified with (None: anonymous)


class Station:
    def __init__(
        self,
        config: dict,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = dt.datetime.now,
        panel=None,
        analyse: Callable[[Job], dict] | None = None,
        save: Callable[[Job, dict], str] | None = None,
        submit: Callable[[Callable[[], None]], object] | None = None,
        count_reps: Callable[[ViewTrack, str], int] | None = None,
        on_pain: Callable[[str], None] | None = None,
        discard: Callable[[str], None] | None = None,
        on_set_pain: Callable[[dict], None] | None = None,
        on_stopped: Callable[[str], None] | None = None,
    ):
        config = validate_config(config)
        s = config.station
        self.target_reps = s.target_reps
        self.min_reps = min(s.min_reps, self.target_reps)
        self.record_limit_s = s.record_limit_s
        self.result_idle_s = s.result_idle_s
        self.countdown_s = s.countdown_s
        self.hold_s = s.positioning_hold_s
        self.positioning_timeout_s = s.positioning_timeout_s
        self.person_lost_s = s.person_lost_s
        self.message_idle_s = s.message_idle_s
        self.retest_offer = s.retest_offer
        self.offline_after_s = {v: config.cameras[v].offline_after_s for v in VIEWS}
        self._hours = hours.parse(config.kiosk.opening_hours)  # (): always open
        self.wake_idle_s = config.kiosk.wake_idle_s
        self._woken = False  # the button woke it outside the hours: it sleeps after wake_idle_s idle
        self._clock = clock
        self._wall = wall
        self._panel = panel
        self._analyse = analyse
        self._save = save
        self._submit = submit or (lambda fn: fn())
        # the live counter segments reps as the final evaluation will: same threshold overrides
        self._thresholds = Thresholds(config.rules.thresholds)  # also the placement limits
        self._count_reps = count_reps or live_counter(self._thresholds)
        self._on_pain = on_pain
        self._on_set_pain = on_set_pain
        self._discard = discard
        self._member: str | None = None
        self._member_how: str | None = None
        self._member_at = -math.inf
        self._on_stopped = on_stopped  # told each stopped state (why a set was cut short)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._outbox: list[Callable[[], None]] = []
        self._token = 0
        self._cameras = {v: {"online": False, "reason": "not started"} for v in VIEWS}
        self._last_frame = {v: -math.inf for v in VIEWS}  # clock time of the last observation
        self._latest: dict[str, tuple | None] = {v: None for v in VIEWS}
        self._safe_mode: str | None = None
        self._counters = {"sets": 0, "results": 0, "stopped": 0}
        with self._lock:
            self._enter("idle")

    # -- events -------------------------------------------------------------------------------

    def press(self) -> None:
        """A short press of the big button (nothing after "stop, it hurts": see `_pain`); while
        asleep it wakes the station (outside the hours, any press keeps it awake a while)."""
        with self._lock:
            if self._state == "pain":
                pass
            elif self._state == ASLEEP:  # awake: cameras and screen on; the next press starts a set
                log.info("station: woken by the button outside the opening hours")
                self._enter("idle")
            elif self._state == "idle":
                self._start("standard", None, None)
            elif self._state == "result" or self._state in STOPPED:
                self._enter("idle")
            self._woken = self._woken or self.opens() is not None
        self._flush()

    def long_press(self) -> None:
        """Held for hold_cancel_s: during a set "stop, it hurts"; otherwise cancel."""
        with self._lock:
            if self._state == "recording":
                self._pain()
            else:
                self._cancel()
        self._flush()

    def start(self) -> bool:
        """Start on the kiosk page: a new standard set from idle, a result or a message (not
        after "stop, it hurts" until the person has left or the wait is over); not while asleep."""
        with self._lock:
            ok = self._state == "idle" or self._state == "result" or (
                self._state in STOPPED and self._state != "pain")
            if ok:
                ok = self._start("standard", None, None)
                self._woken = self._woken or self.opens() is not None
        self._flush()
        return ok

    def cancel(self) -> bool:
        with self._lock:
            ok = self._cancel()
        self._flush()
        return ok

    def report_pain(self) -> bool:
        """'Stop, it hurts' on the page: the set stops and a referral replaces the plan."""
        with self._lock:
            ok = self._state in ACTIVE or self._state == "result"
            if ok:
                self._pain()
        self._flush()
        return ok

    def retest(self, kind: str) -> bool:
        """After a standard result: a set with heels raised or hands on hips, linked to it."""
        if kind not in retest.KINDS:
            raise ValueError(f"re-test kind must be one of {', '.join(retest.KINDS)}, got {kind!r}")
        with self._lock:
            ok = self._state == "result" and self._base is not None and self.retest_offer
            if ok:
                base_id, base_result = self._base
                ok = self._start(kind, base_id, base_result)
        self._flush()
        return ok

    def identify(self, number: str, how: str = "card") -> bool:
        """A member number (checked by the caller) from a card the front camera read or the
        kiosk's keypad; taken only while idle or positioning. False when not taken."""
        with self._lock:
            ok = self._state in IDENTIFY_STATES and bool(number)
            if ok and (number != self._member or how != self._member_how):
                self._member, self._member_how, self._member_at = str(number), how, self._clock()
                log.info("station: a member identified (%s)", how)
                self._bump()
            elif ok:
                self._member_at = self._clock()
        self._flush()
        return ok

    def forget_member(self) -> bool:
        """'Not me' / stay anonymous: the identification is dropped (before the set only)."""
        with self._lock:
            ok = self._state in IDENTIFY_STATES and self._member is not None
            if ok:
                self._member = self._member_how = None
                self._bump()
        self._flush()
        return ok

    def set_camera(self, view: str, online: bool, reason: str = "") -> None:
        with self._lock:
            cam = {"online": bool(online), "reason": "" if online else (reason or "offline")}
            if cam != self._cameras[view]:
                self._cameras[view] = cam
                if not online and self._state in ("countdown", "recording"):
                    self._camera_offline(view)
                elif self._state == "idle":
                    self._enter("idle")  # message and status light follow the cameras
                else:
                    self._bump()
        self._flush()

    def set_safe_mode(self, reason: str | None) -> None:
        with self._lock:
            self._safe_mode = reason
            if self._state == "idle" or reason:
                self._cancel_quietly()
                self._enter("idle")
        self._flush()

    def shutting_down(self) -> None:
        with self._lock:
            self._token += 1
            self._enter("shutting_down")
        self._flush()

    def observe(self, view, t, keypoints, width, height, image=None) -> None:
        """One processed frame of one view: keypoints (17, 3) in pixels, or None (no pose)."""
        rec = None
        with self._lock:
            now = self._clock()
            self._last_frame[view] = now
            kps = None if keypoints is None else np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
            self._latest[view] = (kps, int(width), int(height), now)
            if self._state == "recording":
                rec = self._rec
                self._record(view, t, kps, width, height, now)
            elif self._state in ("positioning", "countdown"):
                self._check_position(now)
            elif self._state == "pain" and view == "front":
                if person_present(kps):
                    self._pain_seen = now
                else:
                    self._pain_empty = now
        if rec is not None:
            rec.keep(view, t, image, kps)  # downscaling the frame: outside the lock
        self._flush()

    def tick(self) -> None:
        with self._lock:
            self._tick(self._clock())
        self._flush()

    def analysis_done(self, token: int, outcome: dict, job: Job | None = None) -> None:
        """The worker's answer for set `token`: {"result": ...} or {"error": "..."}.

        Runs on the worker's thread: decides under the lock whether the set still counts, saves
        outside it (a FULL-sync commit on an SD card must not hold up frames, the page or the
        button), then shows the result under the lock again."""
        with self._lock:
            if not self._still_wanted(token):
                log.info("analysis of a set that was stopped meanwhile: discarded, nothing saved")
                return
            save = self._judge_outcome(outcome, job)
        self._flush()
        if not save:
            return
        try:
            aid = self._save(job, outcome) if self._save is not None else None
        except Exception as e:
            log.exception("saving the assessment failed")
            with self._lock:
                if self._still_wanted(token):
                    self._enter("error", reason=str(e))
            self._flush()
            return
        with self._lock:
            shown = self._still_wanted(token)
            if shown:
                self._show_result(outcome, job, aid)
        if not shown and aid is not None:
            log.info("set stopped while it was being saved: assessment %s deleted again", aid)
            if self._discard is not None:
                self._discard(aid)
        self._flush()

    # -- reading ------------------------------------------------------------------------------

    @property
    def current(self) -> str:
        return self._state

    def state(self) -> dict:
        with self._lock:
            return self._snapshot()

    def wait_for_change(self, last_version: int, timeout: float) -> tuple[int, dict]:
        with self._changed:
            self._changed.wait_for(lambda: self._version != last_version, timeout)
            return self._version, self._snapshot()

    def counters(self) -> dict:
        with self._lock:
            return dict(self._counters)

    # -- transitions (lock held) --------------------------------------------------------------

    def _enter(self, state: str, message: str | None = None, **extra) -> None:
        assert state in STATES, state
        prev = getattr(self, "_state", None)
        self._state = state
        self._since = self._clock()
        if state in ("idle", ASLEEP):
            self._reset_set()
            self._result = None
            self._base = None
            if prev not in (None, "idle"):
                self._member = self._member_how = None
        if state == ASLEEP:
            self._woken = False
        if state in STOPPED:
            self._reset_set()
            self._counters["stopped"] += 1
            if self._on_stopped is not None and prev != state:
                self._outbox.append(lambda: self._on_stopped(state))
        self._message = message if message is not None else self._default_message(state)
        self._extra = extra
        if prev != state:
            log.info("station: %s -> %s", prev, state)
        self._panel_for(state)
        self._bump()

    def _default_message(self, state: str) -> str:
        if state == "idle":
            if self._safe_mode:
                return MESSAGES["safe_mode"].format(reason=self._safe_mode)
            down = [v for v in VIEWS if not self._cameras[v]["online"]]
            if down:
                views = " and ".join(down) + (" cameras are" if len(down) > 1 else " camera is")
                return MESSAGES["idle_fault"].format(views=views)
        return MESSAGES.get(state, "")

    def _panel_for(self, state: str) -> None:
        p = self._panel
        if p is None:
            return
        if state == "idle":
            p.clear_regions()
            healthy = not self._safe_mode and all(c["online"] for c in self._cameras.values())
            p.set_status("ready" if healthy else "attention")
            if hasattr(p, "trim_mock_history"):
                p.trim_mock_history()
        elif state in ACTIVE:
            p.clear_regions()
            p.set_status("busy")
        elif state == "result":
            p.show_regions(self._result["regions"])
            p.set_status("ready")
            p.beep("finish")
        elif state in STOPPED:
            p.clear_regions()
            p.set_status("attention")
            p.beep("alert")
        else:
            p.clear_regions()
            p.set_status("off")

    def _reset_set(self) -> None:
        self._rec: Recorder | None = None
        self._shown_at = -math.inf  # when the current positioning instruction was first shown
        self._waiting = False
        self._ready_since: float | None = None
        self._unready_since: float | None = None
        self._bad_since: float | None = None
        self._codes: dict[str, str | None] = {v: None for v in VIEWS}
        self._countdown: int | None = None

    def _start(self, kind: str, parent_id, parent_result) -> bool:
        if self._safe_mode:
            return False
        self._token += 1
        self._kind, self._parent_id, self._parent_result = kind, parent_id, parent_result
        if kind == "standard":
            self._base = None
            if self._state != "idle":  # from a result or a message: maybe somebody else
                self._member = self._member_how = None
        self._reset_set()
        self._counters["sets"] += 1
        down = [v for v in VIEWS if not self._cameras[v]["online"]]
        if down:
            self._camera_offline(down[0])
            return True
        now = self._clock()
        self._enter("positioning", self._instruction(now))
        self._check_position(now)  # the first instruction shows at once
        return True

    def _cancel(self) -> bool:
        if self._state == "pain":
            return False  # the referral stays until the person has left or the wait is over
        if self._state in ACTIVE:
            self._token += 1
            self._enter("cancelled")
            return True
        if self._state == "result" or self._state in STOPPED:
            self._enter("idle")
            return True
        return False

    def _cancel_quietly(self) -> None:
        self._token += 1

    def _pain(self) -> None:
        """Stop, it hurts: a referral instead of a plan, and no new set for this person. The
        station goes back to idle when they have left the mat (the front camera sees nobody for
        PAIN_LEFT_S) or after `message_idle_s`; until then Start, the button and Cancel do nothing."""
        aid = self._result["assessment_id"] if self._state == "result" and self._result else None
        if aid is None and self._on_set_pain is not None:  # during a set: nothing saved, still told
            on_set_pain = self._on_set_pain
            info = {"during": self._state, "kind": getattr(self, "_kind", "standard"), "member": self._member,
                    "reps": self._rec.reps if getattr(self, "_rec", None) else 0}
            self._outbox.append(lambda: on_set_pain(info))
        self._token += 1
        self._enter("pain")
        self._pain_seen, self._pain_empty = self._clock(), None
        self._countdown = self._pain_left(self._since)
        if aid and self._on_pain is not None:
            on_pain = self._on_pain
            self._outbox.append(lambda: on_pain(aid))

    def _camera_offline(self, view: str) -> None:
        self._token += 1
        self._enter("camera_offline", MESSAGES["camera_offline"].format(view=view), view=view)

    # -- positioning and countdown ------------------------------------------------------------

    def _stance(self) -> str:
        return retest.STANCE.get(self._kind, "arms_overhead")

    def _view_code(self, view: str, now: float) -> str | None:
        latest = self._latest[view]
        if latest is None or now - latest[3] > self.offline_after_s[view]:
            # frames start flowing when a set starts (no pose while idle): give them a moment
            if now - self._since > self.offline_after_s[view]:
                return "camera_missing"
            self._waiting = True
            return "no_person"
        kps, w, h, _ = latest
        return positioning.check_view(view, kps, w, h, self._stance(), self._thresholds)

    def _instruction(self, now: float) -> str:
        for v in VIEWS:
            code = self._codes.get(v)
            if code:
                return positioning.instruction(code, v)
        return self._ready_text()

    def _ready_text(self) -> str:
        if self._kind == "heels_raised":
            return positioning.instruction("heels")
        return READY_TEXT

    def _show_instruction(self, now: float, ready: bool) -> None:
        """Positioning: the instruction for the first problem, but one shown stays at least
        INSTRUCTION_HOLD_S (a person moving, or two cameras seeing a slightly different moment,
        would otherwise make it flicker); being ready shows at once."""
        wanted = self._ready_text() if ready else self._instruction(now)
        if wanted == self._message:
            if self._shown_at == -math.inf and not self._waiting:
                self._shown_at = now  # all views' frames are here: the hold starts
            return
        if ready or now - self._shown_at >= INSTRUCTION_HOLD_S:
            self._message = wanted
            # what is said while the cameras' first frames are awaited gives way at once
            self._shown_at = -math.inf if self._waiting else now
            self._bump()

    def _timed_out(self) -> None:
        """Nobody got into position in time: a stopped state that says why, not a silent idle."""
        problems = [positioning.instruction(c, v).rstrip(".") for v, c in self._codes.items() if c]
        why = "; ".join(dict.fromkeys(problems)) or "the start position was not held"
        key = "timed_out" if self._kind == "standard" else "timed_out_retest"
        self._token += 1
        self._enter("timed_out", MESSAGES[key].format(seconds=self.positioning_timeout_s, why=why),
                    codes={v: c for v, c in self._codes.items() if c})

    def _check_position(self, now: float) -> None:
        self._waiting = False  # set by _view_code while a view's first frames are awaited
        codes = {v: self._view_code(v, now) for v in VIEWS}
        if self._state == "positioning":
            changed = codes != self._codes
            self._codes = codes
            ready_now = not any(codes.values())
            if ready_now:
                self._unready_since = None
                if self._ready_since is None:
                    self._ready_since = now
            elif self._ready_since is not None:
                # one keypoint's score dipping under the line for a frame or two is not moving
                if self._unready_since is None:
                    self._unready_since = now
                if now - self._unready_since > READY_SLACK_S:
                    self._ready_since = self._unready_since = None
            ready = self._ready_since is not None
            if ready_now and now - self._ready_since >= self.hold_s:
                self._begin_countdown(now)
                return
            if changed:
                self._bump()  # the page's per-view codes
            self._show_instruction(now, ready)
        elif self._state == "countdown":
            # During the countdown only leaving (or a camera dropping out) counts: a person who
            # lowers the arms for a moment is not sent back to the start.
            codes = {
                v: (c if c in ("camera_missing", "no_person", "not_whole") else None)
                for v, c in codes.items()
            }
            if any(codes.values()):
                if self._bad_since is None:
                    self._bad_since = now
                elif now - self._bad_since > COUNTDOWN_SLACK_S:
                    self._codes = codes
                    self._ready_since = self._unready_since = None
                    self._enter("positioning", self._instruction(now))
                    self._shown_at = now
            else:
                self._bad_since = None

    def _begin_countdown(self, now: float) -> None:
        if self.countdown_s <= 0:
            self._begin_recording(now)
            return
        self._countdown = self.countdown_s
        self._enter("countdown", MESSAGES["countdown"].format(n=self._countdown))
        self._beep("tick")

    def _begin_recording(self, now: float) -> None:
        self._rec = Recorder(started=now, target_reps=self.target_reps, count_reps=self._count_reps)
        self._countdown = None
        self._enter("recording", self._recording_message())
        self._beep("go")

    def _recording_message(self) -> str:
        reps = self._rec.reps if self._rec else 0
        key = "recording_hips" if self._kind == "hands_on_hips" else "recording"
        return MESSAGES[key].format(reps=reps, target=self.target_reps)

    # -- recording ----------------------------------------------------------------------------

    def _record(self, view, t, kps, width, height, now) -> None:
        reps = self._rec.add(view, t, kps, width, height, now)
        if reps is None:
            return
        self._message = self._recording_message()
        self._bump()
        if reps >= self.target_reps:
            self._finish_recording(now)

    def _finish_recording(self, now: float) -> None:
        rec = self._rec
        job = Job(
            token=self._token, kind=self._kind, parent_id=self._parent_id,
            parent_result=self._parent_result, track=rec.track(), keepers=rec.close(),
            live_reps=rec.reps, started=rec.started, ended=now, member=self._member,
        )
        self._rec = None
        self._enter("analysing")
        self._beep("finish")
        if self._analyse is None:
            self._judge_outcome({"error": "no analysis configured"}, job)
            return
        analyse, token = self._analyse, job.token

        def work():
            try:
                outcome = analyse(job)
            except Exception as e:  # the station must come back whatever the analysis does
                log.exception("analysis failed")
                outcome = {"error": f"{e.__class__.__name__}: {e}"}
            self.analysis_done(token, outcome, job)

        self._outbox.append(lambda: self._submit(work))

    def _still_wanted(self, token: int) -> bool:
        return token == self._token and self._state == "analysing"

    def _judge_outcome(self, outcome: dict, job: Job | None) -> bool:
        """An error or too few reps end the set here; True when the outcome is to be saved."""
        if "error" in outcome:
            log.error("analysis failed: %s", outcome["error"])
            self._enter("error")
            return False
        reps = int(outcome["result"].get("reps") or 0)
        if reps < self.min_reps:
            self._enter(
                "too_few_reps",
                MESSAGES["too_few_reps"].format(reps=reps, s="" if reps == 1 else "s", min=self.min_reps),
                reps=reps,
            )
            return False
        return True

    def _show_result(self, outcome: dict, job: Job | None, aid: str | None) -> None:
        result = outcome["result"]
        present = [c for c, e in result["compensations"].items() if e.get("status") == PRESENT]
        comparison = result.get("retest")  # the analysis compared a re-test with its base, once
        self._result = {
            "assessment_id": aid,
            "kind": job.kind if job else "standard",
            "parent_id": job.parent_id if job else None,
            "reps": int(result.get("reps") or 0),
            "findings": present,
            "regions": sorted({COMPENSATIONS[c].region for c in present}),
            "comparison": comparison,
        }
        if self._result["kind"] == "standard":
            self._base = (aid, result) if aid else None
        self._counters["results"] += 1
        self._enter("result")

    # -- timers -------------------------------------------------------------------------------

    def _follow_hours(self, now: float) -> None:
        """Asleep outside the opening hours, awake inside them (and for a while after a press)."""
        if not self._hours:
            return
        open_now = hours.is_open(self._wall(), self._hours)
        if self._state == ASLEEP and open_now:
            log.info("station: opening time")
            self._enter("idle")
        elif self._state == "idle" and not open_now:
            if now - self._since >= (self.wake_idle_s if self._woken else 0.0):
                log.info("station: outside the opening hours, going to sleep")
                self._enter(ASLEEP)
        if open_now:
            self._woken = False

    def opens(self) -> dt.datetime | None:
        """When the station next opens, while outside the opening hours (None inside them)."""
        if not self._hours:
            return None
        now = self._wall()
        return None if hours.is_open(now, self._hours) else hours.next_change(now, self._hours)

    def _tick(self, now: float) -> None:
        self._follow_hours(now)
        st, age = self._state, now - self._since
        if st == "idle" and self._member is not None and now - self._member_at >= IDENTIFY_KEEP_S:
            self._member = self._member_how = None  # identified, then nobody started
            self._bump()
        if st == "positioning":
            self._check_position(now)
            if self._state == "positioning" and age >= self.positioning_timeout_s:
                self._timed_out()
        elif st == "countdown":
            self._check_position(now)
            if self._state != "countdown":
                return
            left = self.countdown_s - int(age)
            if age >= self.countdown_s:
                self._begin_recording(now)
            elif left != self._countdown:
                self._countdown = left
                self._message = MESSAGES["countdown"].format(n=left)
                self._beep("tick")
                self._bump()
        elif st == "recording":
            for v in VIEWS:
                if now - self._last_frame[v] > self.offline_after_s[v]:
                    self._camera_offline(v)
                    return
            rec = self._rec
            # frames keep coming but show nobody (a stalled camera is the case above)
            if any(self._last_frame[v] - rec.last_seen(v) > self.person_lost_s for v in VIEWS):
                self._token += 1
                self._enter("person_left")
                return
            if age >= self.record_limit_s:
                self._finish_recording(now)
        elif st == "result":
            if age >= self.result_idle_s:
                self._enter("idle")
        elif st == "pain":
            left = self._pain_empty is not None and self._pain_empty - self._pain_seen >= PAIN_LEFT_S
            if age >= self.message_idle_s or left:
                self._enter("idle")
            elif self._pain_left(now) != self._countdown:
                self._countdown = self._pain_left(now)
                self._bump()
        elif st in STOPPED:
            limit = min(self.message_idle_s, CANCELLED_IDLE_S) if st == "cancelled" else self.message_idle_s
            if age >= limit:
                self._enter("idle")

    def _pain_left(self, now: float) -> int:
        """Whole seconds until a new set may start after "stop, it hurts" (the page shows it)."""
        return max(0, math.ceil(self.message_idle_s - (now - self._since) - 1e-6))

    # -- helpers ------------------------------------------------------------------------------

    def _beep(self, kind: str) -> None:
        if self._panel is not None:
            self._panel.beep(kind)

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _flush(self) -> None:
        """Run what was queued under the lock (submitting analysis, pain hooks) outside it."""
        while True:
            with self._lock:
                if not self._outbox:
                    return
                action = self._outbox.pop(0)
            action()

    def _snapshot(self) -> dict:
        rec, res = self._rec, self._result
        return {
            "state": self._state,
            "message": self._message,
            "version": self._version,
            "kind": getattr(self, "_kind", "standard") if self._state != "idle" else None,
            "reps": rec.reps if rec else (res["reps"] if res and self._state == "result" else 0),
            "target_reps": self.target_reps,
            "countdown": self._countdown if self._state in ("countdown", "pain") else None,
            "positioning": dict(self._codes) if self._state == "positioning" else None,
            "assessment_id": res["assessment_id"] if res and self._state == "result" else None,
            "parent_id": res["parent_id"] if res and self._state == "result" else None,
            "findings": list(res["findings"]) if res and self._state == "result" else [],
            "regions": list(res["regions"]) if res and self._state == "result" else [],
            "comparison": res["comparison"] if res and self._state == "result" else None,
            "retests": self._offered(),
            "referral": self._state == "pain",
            "panel": self._panel.state() if self._panel is not None else None,
            "cameras": {v: dict(c) for v, c in self._cameras.items()},
            "safe_mode": self._safe_mode,
            "opens": _minute(self.opens()),
            "member": _masked(self._member),
            "member_how": self._member_how if self._member else None,
            "detail": dict(self._extra),
        }

    def _offered(self) -> list[str]:
        if self._state != "result" or not self.retest_offer or self._base is None:
            return []
        return list(retest.KINDS)


def _minute(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M")


def _masked(number: str | None) -> str | None:
    """What the screen shows of a member number: enough to recognise, not to copy."""
    if not number:
        return None
    return "\u2022" * max(0, min(len(number), 8) - 3) + number[-3:] if len(number) > 3 else number

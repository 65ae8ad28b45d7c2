"""Both views at once: one capture thread per camera, newest frame wins, health per view.

    capture = DualCapture.from_config(config)           # or DualCapture({"front": src, ...})
    with capture:                                        # start() ... stop()
        frame = capture.wait_for_frame("front", timeout=1.0)   # newer than the last one handed out
        frame = capture.latest("side")                   # peek: newest frame or None
        capture.status()   # {"front": {"status": "online", "reason": "", "fps": 29.8, ...}, ...}
        capture.hold_replays(); capture.play_replays()   # recordings as cameras: in lock-step
        capture.pause(); capture.resume()                # cameras closed while the station sleeps

Each view keeps only its newest frame: a frame that is replaced before anyone took it counts as
dropped (so do gaps in the source's own frame numbers); nothing queues up. Frames handed out
carry the capture's own running `seq` per view (it survives restarts of the camera).

Health: `online` while frames arrive; `offline` with a reason when no usable frame came for
`offline_after_s`, when the camera raised, or when a recording ended; `missing` when no camera
is configured or attached; `paused` from `pause()` (each camera closed, its thread waiting) until
the first frame after `resume()`. A failed camera is closed and opened again, at most
`restarts_per_minute` times in any minute (and not more often than `min_retry_s`); one that
comes back is used again. A capture that hangs inside the driver still shows as offline, since
status is worked out from the age of the newest frame when asked.

A read or an open that never returns (a driver that hangs) is found by a watch thread
(`check_hung`): after `hang_after_s` inside one call, that capture thread is abandoned (it closes its own camera and
ends if the read ever comes back; nothing it reads is used) and the view gets a fresh source
from its factory (`from_config` passes `make_source`) in a new thread, within the same restart
budget. `status()[view]["budget_exhausted"]` says when a minute's reconnects are spent while the
camera is not online, and `["hung"]` how many capture threads are still stuck in a read: a
station that cannot get a camera back in-process lets systemd restart the process (its
watchdog, device/station/runtime.py).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time

from device.camera.frame import CameraMissing, EndOfStream, Frame, FrameSource, is_usable_image
from device.errors import InputError
from device.vocabulary import VIEWS

log = logging.getLogger(__name__)

ONLINE, OFFLINE, MISSING, PAUSED = "online", "offline", "missing", "paused"
PAUSE_POLL_S = 1.0  # a paused capture thread looks at least this often whether to stop
FPS_WINDOW_S = 2.0


class RestartBudget:
    """At most `per_minute` attempts in any `window_s`, and at least `min_gap_s` apart."""

    def __init__(self, per_minute: int, window_s: float = 60.0, min_gap_s: float = 1.0):
        self.per_minute = max(1, int(per_minute))
        self.window_s = window_s
        self.min_gap_s = min_gap_s
        self._attempts: collections.deque[float] = collections.deque()

    def wait_s(self, now: float) -> float:
        """Seconds until the next attempt is allowed (0: now)."""
        while self._attempts and now - self._attempts[0] >= self.window_s:
            self._attempts.popleft()
        wait = 0.0
        if self._attempts:
            wait = max(wait, self._attempts[-1] + self.min_gap_s - now)
        if len(self._attempts) >= self.per_minute:
            wait = max(wait, self._attempts[0] + self.window_s - now)
        return max(0.0, wait)

    def spend(self, now: float) -> None:
        self._attempts.append(now)

    def exhausted(self, now: float) -> bool:
        """All attempts of the window are spent (the next one waits for the window)."""
        self.wait_s(now)
        return len(self._attempts) >= self.per_minute


class _View:
    def __init__(self, name: str, source: FrameSource | None, offline_after_s: float):
        self.name = name
        self.source = source
        self.offline_after_s = float(offline_after_s)
        self.frame: Frame | None = None  # the newest usable frame
        self.taken = True  # whether `frame` was handed out by take/wait
        self.last_taken_seq = 0
        self.seq = 0
        self.last_source_seq: int | None = None
        self.frames = 0
        self.dropped = 0
        self.corrupt = 0
        self.errors = 0
        self.restarts = 0
        self.opens = 0
        self.arrivals: collections.deque[float] = collections.deque()
        self.last_arrival: float | None = None  # capture clock
        self.opened_at: float | None = None
        self.status = MISSING if source is None else OFFLINE
        self.reason = "no camera configured" if source is None else "starting"
        self.ever_online = False
        self.ended = False
        self.budget_exhausted = False
        self.thread: threading.Thread | None = None
        self.budget: RestartBudget | None = None
        self.generation = 0  # a capture thread whose generation is behind was abandoned
        self.read_since: float | None = None  # capture clock: inside source.read() since then
        self.abandoned: list[threading.Thread] = []  # threads left hung in a read
        self.hangs = 0


class DualCapture:
    def __init__(
        self,
        sources: dict[str, FrameSource | None],
        *,
        offline_after_s: float | dict[str, float] = 3.0,
        restarts_per_minute: int = 5,
        restart_window_s: float = 60.0,
        min_retry_s: float = 1.0,
        read_timeout_s: float = 0.5,
        hang_after_s: float | None = None,
        factories: dict | None = None,
        watch: bool = True,
        clock=time.monotonic,
    ):
        """`factories` ({view: () -> FrameSource}) make a fresh source for a view whose capture
        thread hung in a read; `hang_after_s` (default: the view's offline_after_s + 1 s) is how
        long a read may take; `watch=False` leaves `check_hung` to the caller (tests)."""
        unknown = set(sources) - set(VIEWS)
        if unknown:
            raise ValueError(f"unknown view(s) {sorted(unknown)}; views are {VIEWS}")
        self._clock = clock
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._paused = False
        self._read_timeout_s = read_timeout_s
        self._budget_args = (restarts_per_minute, restart_window_s, min_retry_s)
        self._views: dict[str, _View] = {}
        for name in VIEWS:
            after = offline_after_s.get(name, 3.0) if isinstance(offline_after_s, dict) else offline_after_s
            self._views[name] = _View(name, sources.get(name), after)
            self._views[name].budget = RestartBudget(*self._budget_args)
        self._hang_after_s = hang_after_s
        self._factories = dict(factories or {})
        self._watch = watch
        self._watcher: threading.Thread | None = None
        self._started = False

    @classmethod
    def from_config(cls, config: dict, *, recordings: dict[str, str] | None = None,
                    paced: bool = True, **kwargs) -> DualCapture:
        """Sources per `config["cameras"]`; `recordings` ({view: path}) replace a view's camera."""
        from device.camera.sources import make_source

        cams = config["cameras"]
        recordings = recordings or {}
        def factory(v):
            return lambda: make_source(v, cams[v], recording=recordings.get(v), paced=paced)

        sources = {v: factory(v)() for v in VIEWS}
        kwargs.setdefault("offline_after_s", {v: cams[v]["offline_after_s"] for v in VIEWS})
        kwargs.setdefault("restarts_per_minute", cams["restarts_per_minute"])
        kwargs.setdefault("factories", {v: factory(v) for v in VIEWS if sources[v] is not None})
        return cls(sources, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> DualCapture:
        if self._started:
            return self
        self._started = True
        self._stop.clear()
        for view in self._views.values():
            if view.source is None:
                continue
            self._spawn(view)
        if self._watch:
            self._watcher = threading.Thread(target=self._watch_loop, name="camera-watch", daemon=True)
            self._watcher.start()
        return self

    def _spawn(self, view: _View) -> None:
        view.thread = threading.Thread(target=self._run, args=(view, view.generation, view.source),
                                       name=f"camera-{view.name}", daemon=True)
        view.thread.start()

    # -- hung reads ------------------------------------------------------------------------
    WATCH_EVERY_S = 0.5

    def _watch_loop(self) -> None:
        while not self._stop.wait(self.WATCH_EVERY_S):
            try:
                self.check_hung()
            except Exception:
                log.exception("camera watch failed")

    def hang_after_s(self, view: str) -> float:
        return self._hang_after_s if self._hang_after_s is not None else self._views[view].offline_after_s + 1.0

    def check_hung(self) -> list[str]:
        """Views whose capture thread has been inside one read for longer than `hang_after_s`:
        each is abandoned and, budget and factory allowing, replaced by a fresh source in a new
        thread. Returns the views acted on."""
        acted = []
        for v in self._views.values():
            with self._cond:
                now = self._clock()
                since = v.read_since
                if since is None or v.thread is None or now - since <= self.hang_after_s(v.name):
                    continue
                v.generation += 1  # the stuck thread now drops whatever it reads and ends
                v.read_since = None
                v.hangs += 1
                v.abandoned.append(v.thread)
                v.thread = None
                factory = self._factories.get(v.name)
                wait = v.budget.wait_s(now)
                problem = f"camera hung: a read did not return for {now - since:.1f} s"
            acted.append(v.name)
            if factory is None or wait > 0:
                v.budget_exhausted = v.budget.exhausted(now)
                why = "no way to reopen it" if factory is None else "reconnects for this minute spent"
                log.error("%s %s; %s", v.name, problem, why)
                self._set(v, OFFLINE, f"{problem}; {why}")
                if factory is not None:
                    self._reopen_later(v, factory, wait)
                continue
            self._replace(v, factory, problem)
        return acted

    def _replace(self, v: _View, factory, problem: str) -> None:
        """A fresh source in a new capture thread (its open spends from the budget)."""
        try:
            source = factory()
        except Exception as e:
            log.error("%s camera: cannot make a new source (%s)", v.name, _describe(e))
            self._set(v, OFFLINE, f"{problem}; cannot reopen: {_describe(e)}")
            return
        with self._cond:
            v.source = source
        log.warning("%s %s: reopened in a new thread", v.name, problem)
        self._set(v, OFFLINE, f"{problem}; reopened, waiting for a frame")
        if not self._stop.is_set():
            self._spawn(v)

    def _reopen_later(self, v: _View, factory, wait: float) -> None:
        def later():
            if self._stop.wait(wait):
                return
            with self._cond:
                if v.thread is not None:  # something else brought it back
                    return
            self._replace(v, factory, "camera hung")

        threading.Thread(target=later, name=f"camera-{v.name}-reopen", daemon=True).start()

    def request_stop(self) -> None:
        """Tell the capture threads to end after their current read, without waiting (waiters
        in `wait_for_frame(s)` return at once); `stop()` then joins them."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> list[str]:
        """Stop the capture threads and close the cameras, within `timeout` seconds in all.

        Returns the views whose thread is still running (stuck in a driver or a decoder): their
        camera is closed by that thread when it comes out. A process should not finalise the
        interpreter while such a thread is inside native code (see `ohsa run`)."""
        self.request_stop()
        deadline = time.monotonic() + timeout
        stuck = []
        if self._watcher is not None:
            self._watcher.join(max(0.0, deadline - time.monotonic()))
            self._watcher = None
        for view in self._views.values():
            for thread in [view.thread, *view.abandoned]:
                if thread is None:
                    continue
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("%s camera thread did not stop within %.1f s", view.name, timeout)
                    if view.name not in stuck:
                        stuck.append(view.name)
            view.thread = None
            view.abandoned = [t for t in view.abandoned if t.is_alive()]
        self._started = False
        return stuck

    def __enter__(self) -> DualCapture:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- asleep (the station outside its opening hours) ----------------------------------------
    def pause(self) -> None:
        """Close every camera and stop reading (after the read under way) until `resume()`."""
        with self._cond:
            if self._paused:
                return
            self._paused = True
            for v in self._views.values():
                if v.source is not None and v.status != MISSING and not v.ended:
                    v.status, v.reason = PAUSED, "the station is asleep"
            self._cond.notify_all()
        log.info("cameras paused")

    def resume(self) -> None:
        """Open the cameras again; each stays `paused` until its first frame (or a failure)."""
        with self._cond:
            if not self._paused:
                return
            self._paused = False
            self._cond.notify_all()
        log.info("cameras resumed")

    @property
    def paused(self) -> bool:
        return self._paused

    def _sleep_while_paused(self, v: _View) -> None:
        with self._cond:
            while self._paused and not self._stop.is_set():
                self._cond.wait(PAUSE_POLL_S)

    # -- recordings in lock-step (device.camera.replay) --------------------------------------
    def _replays(self) -> list:
        from device.camera.replay import ReplaySource

        return [v.source for v in self._views.values() if isinstance(v.source, ReplaySource)]

    def hold_replays(self) -> bool:
        """Recordings go back to their first frame and show it until `play_replays` (a set is
        starting: the person in them waits in the start position). False: no recordings."""
        replays = self._replays()
        for src in replays:
            src.hold()
        return bool(replays)

    def play_replays(self, delay_s: float = 0.05) -> bool:
        """Recordings play from their first frame at one moment and loop with one period (the
        longest recording's length), so two views stay in step however long they run."""
        replays = self._replays()
        if not replays:
            return False
        lengths = [src.duration for src in replays if src.duration]
        period = max(lengths) if lengths else None
        origin = replays[0].now() + delay_s
        for src in replays:
            src.play(origin, period)
        log.info("recordings playing in lock-step (period %s s)", None if period is None else round(period, 3))
        return True

    # -- frames ----------------------------------------------------------------------------
    def latest(self, view: str) -> Frame | None:
        """The newest frame of `view` (or None), without marking it taken."""
        with self._cond:
            return self._views[view].frame

    def take(self, view: str) -> Frame | None:
        """The newest frame if it was not handed out yet, else None."""
        with self._cond:
            v = self._views[view]
            return None if v.taken else self._take(v)

    def wait_for_frame(self, view: str, after_seq: int | None = None, timeout: float | None = None) -> Frame | None:
        """The newest frame with `seq > after_seq` (default: the last one handed out), waiting
        up to `timeout` seconds; None on timeout, on stop, or when the view has ended."""
        v = self._views[view]
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            after = v.last_taken_seq if after_seq is None else after_seq
            while True:
                if v.frame is not None and v.frame.seq > after:
                    return self._take(v)
                if self._stop.is_set() or v.ended or v.source is None:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_for_frames(self, after: dict[str, int] | None = None, timeout: float | None = None) -> dict[str, Frame]:
        """New frames of any view (`{view: frame}`), waiting up to `timeout` for at least one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                out = {}
                for v in self._views.values():
                    seq = v.last_taken_seq if after is None or v.name not in after else after[v.name]
                    if v.frame is not None and v.frame.seq > seq:
                        out[v.name] = self._take(v)
                if out or self._stop.is_set():
                    return out
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return out
                self._cond.wait(remaining)

    def _take(self, v: _View) -> Frame | None:
        frame = v.frame
        if frame is not None:
            v.taken = True
            v.last_taken_seq = max(v.last_taken_seq, frame.seq)
        return frame

    # -- health ----------------------------------------------------------------------------
    def status(self, view: str | None = None) -> dict:
        """Per view: status, reason, fps, frames, dropped, corrupt, restarts, age_s, source."""
        with self._cond:
            now = self._clock()
            out = {name: self._status(v, now) for name, v in self._views.items()}
        return out[view] if view else out

    def online(self, view: str) -> bool:
        return self.status(view)["status"] == ONLINE

    def _status(self, v: _View, now: float) -> dict:
        status, reason = v.status, v.reason
        age = None if v.last_arrival is None else now - v.last_arrival
        if status == ONLINE and age is not None and age > v.offline_after_s:
            status, reason = OFFLINE, f"no frame for {age:.1f} s"
        while v.arrivals and now - v.arrivals[0] > FPS_WINDOW_S:
            v.arrivals.popleft()
        fps = 0.0
        if status == ONLINE and len(v.arrivals) >= 2:
            span = v.arrivals[-1] - v.arrivals[0]
            fps = (len(v.arrivals) - 1) / span if span > 0 else 0.0
        return {
            "status": status,
            "reason": reason,
            "fps": round(fps, 1),
            "frames": v.frames,
            "dropped": v.dropped,
            "corrupt": v.corrupt,
            "errors": v.errors,
            "restarts": v.restarts,
            "age_s": None if age is None else round(age, 2),
            "source": None if v.source is None else v.source.name,
            # all reconnects of this minute spent: a station may prefer a process restart now
            "budget_exhausted": v.budget_exhausted and status != ONLINE,
            "hung": sum(t.is_alive() for t in v.abandoned),  # capture threads stuck in a read
            "capturing": v.thread is not None and v.thread.is_alive(),  # a live capture thread
            "hangs": v.hangs,
        }

    # -- the capture thread ----------------------------------------------------------------
    def _set(self, v: _View, status: str, reason: str) -> None:
        with self._cond:
            if (status, reason) != (v.status, v.reason):
                starting = status == ONLINE or reason == "waiting for the first frame"
                level = logging.INFO if starting else logging.WARNING
                log.log(level, "%s camera %s%s", v.name, status, f": {reason}" if reason else "")
            v.status, v.reason = status, reason
            self._cond.notify_all()

    def _run(self, v: _View, generation: int, source: FrameSource) -> None:
        budget = v.budget
        is_open = False
        last_problem = ""
        mine = lambda: v.generation == generation  # noqa: E731  (False once abandoned)
        try:
            while not self._stop.is_set() and mine():
                if self._paused:
                    if is_open:
                        self._close(v, source)
                        is_open = False
                    self._sleep_while_paused(v)
                    continue
                if not is_open:
                    wait = budget.wait_s(self._clock())
                    v.budget_exhausted = budget.exhausted(self._clock())
                    if wait > 0:
                        if v.status != MISSING:
                            self._set(v, OFFLINE, f"{last_problem}; next try in {wait:.0f} s".lstrip("; "))
                        self._stop.wait(min(wait, 1.0))
                        continue
                    budget.spend(self._clock())
                    v.budget_exhausted = budget.exhausted(self._clock())
                    v.opens += 1
                    if v.opens > 1:
                        v.restarts += 1
                    with self._cond:
                        v.read_since = self._clock()  # an open that never returns is a hang too
                    try:
                        source.open()
                    except (CameraMissing, InputError) as e:  # not attached, or no such recording
                        if not mine():
                            return
                        last_problem = str(e)
                        self._close(v, source)
                        self._set(v, OFFLINE if v.ever_online else MISSING, str(e))
                        continue
                    except Exception as e:  # any failure to open is reported, then retried
                        if not mine():
                            return
                        v.errors += 1
                        last_problem = f"cannot open: {_describe(e)}"
                        self._close(v, source)
                        self._set(v, OFFLINE, last_problem)
                        continue
                    finally:
                        with self._cond:
                            if mine():
                                v.read_since = None
                    if not mine():
                        log.warning("%s camera: a hung open came back; that capture thread ends", v.name)
                        return
                    is_open = True
                    v.opened_at = self._clock()
                    v.last_source_seq = None
                    if v.status not in (ONLINE, PAUSED):  # paused: until its first frame
                        waiting = "reopened, waiting for a frame" if last_problem else "waiting for the first frame"
                        self._set(v, OFFLINE, f"{last_problem}; {waiting}".lstrip("; "))
                with self._cond:
                    v.read_since = self._clock()
                try:
                    frame = source.read(self._read_timeout_s)
                except EndOfStream as e:
                    if not mine():
                        return
                    self._close(v, source)
                    with self._cond:
                        v.ended = True
                    self._set(v, OFFLINE, str(e) or "recording ended")
                    return
                except Exception as e:
                    if not mine():
                        return
                    v.errors += 1
                    last_problem = f"camera error: {_describe(e)}"
                    self._close(v, source)
                    is_open = False
                    self._set(v, OFFLINE, last_problem)
                    continue
                finally:
                    with self._cond:
                        if mine():
                            v.read_since = None
                if not mine():
                    log.warning("%s camera: a hung read came back; that capture thread ends", v.name)
                    return
                if frame is not None and not is_usable_image(frame.image):
                    with self._cond:
                        v.corrupt += 1
                    frame = None
                if frame is None:
                    since = v.last_arrival if v.last_arrival is not None and v.last_arrival > v.opened_at else v.opened_at
                    quiet = self._clock() - since
                    if quiet > v.offline_after_s:
                        what = "no usable frame" if v.corrupt else "no frame"
                        last_problem = f"{what} for {quiet:.1f} s"
                        self._close(v, source)
                        is_open = False
                        self._set(v, OFFLINE, last_problem)
                    continue
                self._publish(v, frame, generation)
        finally:
            self._close(v, source)

    def _publish(self, v: _View, frame: Frame, generation: int | None = None) -> None:
        now = self._clock()
        with self._cond:
            if generation is not None and generation != v.generation:
                return  # from an abandoned thread
            if self._paused:
                return  # read just before a pause: the camera is closed next
            if v.last_source_seq is not None and frame.seq > v.last_source_seq + 1:
                v.dropped += frame.seq - v.last_source_seq - 1  # the source skipped frames
            v.last_source_seq = frame.seq
            if v.frame is not None and not v.taken:
                v.dropped += 1  # replaced before anyone took it
            v.seq += 1
            v.frame = dataclasses.replace(frame, view=v.name, seq=v.seq)
            v.taken = False
            v.frames += 1
            v.last_arrival = now
            v.arrivals.append(now)
            if len(v.arrivals) > 512:
                v.arrivals.popleft()
            if v.status != ONLINE:
                v.ever_online = True
                log.info("%s camera online (%s)", v.name, v.source.name if v.source else "?")
                v.status, v.reason = ONLINE, ""
            self._cond.notify_all()

    def _close(self, v: _View, source: FrameSource | None = None) -> None:
        try:
            (source or v.source).close()
        except Exception as e:  # closing a failed camera may fail again; it is being replaced
            log.debug("%s camera: close failed: %s", v.name, e)


def _describe(e: Exception) -> str:
    text = str(e)
    return text if text else e.__class__.__name__

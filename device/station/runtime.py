"""The supervised station process: one owner per camera, one pose worker per view, one for the
GPIO, one analysis worker, a supervisor, and the `StationControl` the web layer calls.

    runtime = StationRuntime(config, data_dir, recordings={"front": F, "side": S}).open()
    app = web.create_app(runtime.store, station=runtime, config=config, data_dir=data_dir)
    ...
    runtime.close()

Threads: `camera-front` / `camera-side` (DualCapture: newest frame wins), `pose-front` /
`pose-side` (device.station.pose_worker: each view its own MoveNet interpreter and crop tracker,
pose on each new frame while a set is under way, straight into the state machine; LiteRT
releases the GIL, so two views use two cores), `frames` (the supervisor: the state machine's
timers, camera status, recordings held and played in lock-step, the systemd watchdog ping only
while both pose workers come round), `analysis` (rules, silhouette, stills, store), gpiozero's
own threads for the button (they only call the state machine), and Waitress's threads for the
web (they only read state and call start/cancel/...). Inference and analysis never run on a web
or GPIO thread, so the page and the button stay responsive.

Memory stays bounded over a day: each view keeps one newest frame, one preview, one pose; a set's
keypoints are bounded by `record_limit_s`, its frames by the keeper; stats use fixed windows.
"""

from __future__ import annotations

import ctypes
import datetime
import logging
import os
import threading
import time
import queue
from collections import deque
from pathlib import Path

import numpy as np

from device import sdnotify
from device.display import Display
from device.errors import OhsaError
from device.panel import open_panel
from device.annotate import annotate
from device.station.analysis import Analyser
from device.station.calibration import CalibrationKeeper
from device.analysis.keeper import KEEP_LONG_SIDE, downscale
from device.station.machine import ASLEEP, Station
from device.station.pose_worker import PoseWorker
from device.vocabulary import VIEWS

log = logging.getLogger(__name__)

# pose runs only while a set is under way, and after "stop, it hurts" (has the person left?)
INFER_STATES = ("positioning", "countdown", "recording", "pain")
IDENTIFY_STATES = ("idle", "positioning")  # the front camera looks for a member card then
IDENTIFY_EVERY_S = 0.5  # a QR/barcode search costs ~30 ms here: two a second is plenty
PREVIEW_STATES = ("positioning", "countdown", "recording")
PREVIEW_EVERY_S = 0.2  # the kiosk preview is re-encoded at most this often per view
PREVIEW_LONG_SIDE = 480
BACKGROUND_EVERY_S = 1.0  # idle: one frame per second per view may teach the empty scene
NOBODY_SCORE = 0.15  # an idle frame with a mean keypoint score below this shows nobody
CAMERA_SYNC_EVERY_S = 0.25
TICK_S = 0.05  # the supervisor runs the state machine's timers this often
WORKER_STUCK_S = 10.0  # a pose worker whose loop has not come round this long is hung
RETENTION_EVERY_S = 6 * 3600.0
EMA_ALPHA = 0.1
STORE_FILE = "assessments.db"
MALLOC_ARENAS = 2  # glibc makes up to 8 per core for our ~15 threads; freed memory then lingers
CLOSE_TIMEOUT_S = 12.0  # all of close(); systemd's TimeoutStopSec (20 s) leaves room for the web


class Worker:
    """One daemon thread running submitted work in order (the analysis worker).

    Unlike a ThreadPoolExecutor (whose threads the interpreter joins at exit, for as long as
    they take), `close(timeout)` is bounded: work not started yet is dropped, the running one
    may finish within the timeout, and whether the thread ended is returned.
    """

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, fn) -> None:
        if self._closed:
            log.warning("%s: stopping, work dropped", self.thread.name)
            return
        self._queue.put(fn)

    def _run(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None or self._closed:
                return
            try:
                fn()
            except Exception:
                log.exception("%s: work failed", self.thread.name)

    def close(self, timeout: float) -> bool:
        """Drop queued work, let the running one end; True when the thread has ended."""
        self._closed = True
        self._queue.put(None)
        self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()


class Stats:
    """inference_ms (moving average around the tracker), processed fps per view, uptime."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self.started = clock()
        self.inference_ms: float | None = None
        self.inferences = 0
        self._lock = threading.Lock()
        self._processed = {v: deque(maxlen=90) for v in VIEWS}

    def inference(self, view: str | None, ms: float) -> None:
        with self._lock:
            self.inferences += 1
            self.inference_ms = ms if self.inference_ms is None else (
                (1 - EMA_ALPHA) * self.inference_ms + EMA_ALPHA * ms
            )
            if view is not None:
                self._processed[view].append(self._clock())

    def processed_fps(self, view: str) -> float:
        with self._lock:
            times = list(self._processed[view])
        now = self._clock()
        times = [t for t in times if now - t <= 2.0]
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return round((len(times) - 1) / (times[-1] - times[0]), 1)


def process_memory() -> dict:
    """RSS (MB) and open file descriptors of this process, from /proc (None elsewhere)."""
    rss = fds = None
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        rss = round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
        fds = len(os.listdir("/proc/self/fd"))
    except (OSError, ValueError, IndexError):
        pass
    return {"rss_mb": rss, "open_files": fds}


class StationRuntime:
    """The station process's parts, wired together; implements StationControl for web/."""

    def __init__(
        self,
        config: dict,
        data_dir: str | os.PathLike,
        *,
        recordings: dict[str, str] | None = None,
        safe_mode: str | None = None,
        model_path: str | os.PathLike | None = None,
        shutdown_action=None,
        store=None,
        capture=None,
        movenet=None,
        wall=None,
        display: Display | None = None,
    ):
        self.config = config
        self.data_dir = Path(data_dir)
        self.recordings = {v: p for v, p in (recordings or {}).items() if p}
        self._safe_mode = safe_mode
        self._model_path = model_path or config.model.path or None
        self._shutdown_action = shutdown_action
        self.store = store
        self.capture = capture
        self.movenet = movenet  # the front worker's interpreter; each view gets its own
        self.movenets: dict = {}
        self.workers: dict[str, PoseWorker] = {}
        self.panel = None
        self.fleet = None  # device.fleet.publisher.Publisher when [fleet] enabled
        self.station: Station | None = None
        self._stats = Stats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor: Worker | None = None
        self._trackers: dict = {}
        self._backgrounds: dict = {}
        self._bg_at = {v: -1e9 for v in VIEWS}
        self._poses: dict[str, tuple[int, np.ndarray]] = {}
        self._preview: dict[str, tuple[int, float, bytes]] = {}
        self._preview_lock = threading.Lock()
        self._ready = threading.Event()
        self._closed = False
        self._stuck: list[str] = []
        self._alert: str | None = None
        self.calibration: CalibrationKeeper | None = None
        self._identifier = None  # device.identify.Identifier, made on first use (front worker)
        self._identify_at = -1e9
        self._wall = wall or datetime.datetime.now  # local time of day, for the opening hours
        self.display = display  # the screen's sleep (device.display); made in open() from the config
        self._followed: str | None = None  # the state the cameras, replays and screen last followed

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> StationRuntime:
        from device.camera import DualCapture
        from device.store import Store

        self.data_dir.mkdir(parents=True, exist_ok=True)
        _malloc("mallopt", -8, MALLOC_ARENAS)  # M_ARENA_MAX, before our threads start
        fleet_on = self.config.fleet.enabled
        if self.store is None:
            self.store = Store(self.data_dir / STORE_FILE, outbox=fleet_on)
        elif fleet_on:
            self.store.outbox = True
        self._retention()
        self.panel = open_panel(self.config.panel, shutdown_action=self._shutdown_action)
        if self.display is None:
            self.display = Display(self.config.kiosk.display_sleep)
        self.display.wake()  # a station stopped while asleep must not leave the screen dark
        if self.movenet is None:
            try:
                from device.pose import MoveNet

                self.movenet = MoveNet(self._model_path, threads=self.config.model.threads)
            except OhsaError as e:
                log.error("no pose model: %s", e)
                self._safe_mode = "; ".join(filter(None, [self._safe_mode, f"pose model: {e}"]))
        if self.movenet is not None:
            from device.pose import MoveNet, PoseTracker

            # one interpreter per view (a second one costs a few MB): the views' workers never
            # wait for each other's invoke()
            self.movenets = {v: self.movenet if i == 0 else MoveNet(self.movenet.model_path, threads=self.movenet.threads)
                             for i, v in enumerate(VIEWS)}  # fmt: skip
            self._trackers = {v: PoseTracker(self.movenets[v]) for v in VIEWS}
        if self.capture is None:
            self.capture = DualCapture.from_config(self.config, recordings=self.recordings, paced=True)
        self._executor = Worker("analysis")
        from device.silhouette import BackgroundModel

        self._backgrounds = {v: BackgroundModel() for v in VIEWS}
        self.calibration = CalibrationKeeper(self.data_dir)
        analyser = Analyser(
            self.config, self.store, backgrounds=self._background_images, model_sha256=_model_sha(),
            calibration=self.calibration,
        )
        self.analyser = analyser
        self.station = Station(
            self.config, panel=self.panel, analyse=analyser.analyse, save=analyser.save,
            submit=self._submit, on_pain=analyser.mark_pain, discard=self.store.delete,
            on_set_pain=analyser.pain_during_set,
            on_stopped=self._set_stopped, wall=self._wall,
        )
        self.panel.when_pressed = self._press
        self.panel.when_held = self.station.long_press
        self.panel.when_shutdown = self.station.shutting_down
        if self._safe_mode:
            log.error("safe mode: %s", self._safe_mode)
            self.station.set_safe_mode(self._safe_mode)
        self.capture.start()
        for view, st in self.capture.status().items():
            if st["status"] == "missing":
                log.warning("%s camera missing (%s): the station runs without it and says so", view, st["reason"])
        self.workers = {
            v: PoseWorker(v, self.capture, self.station, self.movenets.get(v), self._trackers.get(v),
                          self._handle).start()
            for v in VIEWS
        }
        self._thread = threading.Thread(target=self._frame_loop, name="frames", daemon=True)
        self._thread.start()
        if fleet_on:  # paho loads only when the fleet link is on
            import device
            from device.fleet.publisher import Publisher

            self.fleet = Publisher(self.config.fleet, self.store, health=self._fleet_health,
                                   version=device.__version__, station_name=self.config.station.name).start()
        return self

    def _fleet_health(self) -> dict:
        """What the fleet's health message says: sets today, each camera's status, uptime."""
        cams = self.capture.status() if self.capture is not None else {}
        return {"sets_today": self.store.sets_today(),
                "cameras": {v: str(c.get("status") or "unknown") for v, c in cams.items()},
                "uptime_s": int(time.monotonic() - self._stats.started)}

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> list[str]:
        """Stop in order within `timeout` seconds: frame loop and cameras (told together, so the
        cameras wind down while the loop ends), then the analysis worker (a running analysis may
        finish and be stored), the panel, the store. Returns the names of threads still running
        (stuck in native code): empty after a clean stop. With a thread left, the store is closed
        only if its lock comes free in time (a write under way finishes first); SQLite's journal
        keeps it whole either way when the process then exits."""
        if self._closed:
            return list(self._stuck)
        self._closed = True
        deadline = time.monotonic() + timeout
        left = lambda: max(0.0, deadline - time.monotonic())  # noqa: E731
        stuck: list[str] = self._stuck
        self._stop.set()
        for worker in self.workers.values():
            worker.stop()
        if self.display is not None and self.display.status()["asleep"]:
            self.display.wake()  # stopped for good: a dark screen would look like a dead one
        if self.capture is not None:
            self.capture.request_stop()  # cameras stop reading; wait_for_frame returns at once
        if self._thread is not None:
            self._thread.join(min(left(), timeout / 2))
            if self._thread.is_alive():
                log.error("frame loop did not stop within %.1f s", timeout / 2)
                stuck.append(self._thread.name)
            self._thread = None
        for worker in self.workers.values():
            if not worker.join(min(left(), timeout / 2)):
                log.error("%s did not stop within %.1f s", worker.thread.name, timeout / 2)
                stuck.append(worker.thread.name)
        if self.capture is not None:
            stuck += [f"camera-{v}" for v in self.capture.stop(timeout=left())]
        if self._executor is not None:
            if not self._executor.close(left()):
                log.error("analysis did not finish within the %.1f s to stop", timeout)
                stuck.append(self._executor.thread.name)
        if self.fleet is not None:  # after the analysis: its last save is in the outbox either way
            if not self.fleet.close(max(0.5, min(left(), 4.0))):  # a daemon thread: it ends with the process
                log.error("fleet link did not stop in time (connecting to its broker)")
            self.fleet = None
        if self.panel is not None:
            try:
                self.panel.close()
            except Exception:
                log.exception("panel close failed")
            self.panel = None
        if self.store is not None:
            if not stuck:
                self.store.close()
            else:  # a stuck thread may hold the store's lock: wait for it a little, not forever
                closer = threading.Thread(target=self.store.close, name="store-close", daemon=True)
                closer.start()
                closer.join(max(1.0, left()))
                if closer.is_alive():
                    log.error("store busy: left to its journal")
        return stuck

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    @property
    def ready(self) -> bool:
        """Cameras started and the supervisor running (the model loaded, unless in safe mode)."""
        return self._ready.is_set()

    # -- the supervisor and the pose workers ----------------------------------------------

    def _frame_loop(self) -> None:
        """Timers, camera status, recordings in lock-step, the watchdog; frames are the
        workers'. The watchdog is pinged only while every pose worker comes round and no
        camera is past help in-process (`camera_alert`: hung in its driver with the minute's
        reconnects spent), so either gets the process restarted, as a hung single loop did."""
        interval = sdnotify.watchdog_interval()
        last_ping = last_sync = last_retention = time.monotonic()
        self._followed = self.station.current
        self._ready.set()
        while not self._stop.wait(TICK_S):
            try:
                now = time.monotonic()
                if now - last_sync >= CAMERA_SYNC_EVERY_S:
                    last_sync = now
                    self._sync_cameras()
                self.station.tick()
                self._recheck_mat_when_idle()
                self.follow_state()
                alert = self.camera_alert()
                if alert != self._alert:
                    self._alert = alert
                    if alert:
                        log.error("%s", alert)
                    sdnotify.status(alert or "running")
                if (interval and now - last_ping >= interval / 2 and self._workers_alive(now)
                        and not self.camera_needs_restart()):
                    sdnotify.watchdog()  # only from here: a hung worker or loop gets restarted
                    last_ping = now
                if now - last_retention >= RETENTION_EVERY_S:
                    last_retention = now
                    self._executor.submit(self._retention)
            except Exception:  # the loop must survive one bad turn; systemd watches for hangs
                log.exception("supervisor error")
                self._stop.wait(0.5)

    def _recheck_mat_when_idle(self) -> None:
        """Idle and a mat re-check due (device.station.calibration): the cameras' newest frames
        are checked against the kept calibration on the analysis worker, off this loop."""
        if self.calibration is None or self.station.current != "idle" or not self.calibration.claim_recheck():
            return

        def run():
            frames = {v: self.capture.latest(v) for v in VIEWS}
            self.calibration.recheck({v: f.image for v, f in frames.items() if f is not None})

        self._executor.submit(run)

    def _workers_alive(self, now: float) -> bool:
        hung = [w.thread.name for w in self.workers.values() if not w.alive(now, WORKER_STUCK_S)]
        if hung:
            log.error("%s not coming round: no watchdog ping", ", ".join(hung))
        return not hung

    def follow_state(self) -> None:
        """The cameras, the recordings and the screen follow a change of the machine's state
        (the supervisor calls this after each tick; the machine itself stays pure)."""
        state = self.station.current
        prev, self._followed = self._followed, state
        if prev is None or state == prev:
            return
        self._cameras_follow(prev, state)
        self._replays_follow(prev, state)
        self._display_follow(prev, state)

    def _display_follow(self, prev: str, state: str) -> None:
        """Asleep: the screen's backlight off where there is one (else the black page alone);
        woken by the button or at opening time: on again. A refused write is logged, no more."""
        if self.display is None:
            return
        if state == ASLEEP:
            self.display.sleep()
        elif prev == ASLEEP:
            self.display.wake()

    def _cameras_follow(self, prev: str, state: str) -> None:
        """Asleep outside the opening hours: the cameras are closed (the pose workers take no
        frames either, device/station/pose_worker.py); awake again: opened."""
        if state == ASLEEP:
            self.capture.pause()
        elif prev == ASLEEP:
            self.capture.resume()

    def _replays_follow(self, prev: str, state: str) -> None:
        """Recordings as cameras: a set starting holds them at their first frame (the person in
        them waits in the start position); recording plays both from there in lock-step."""
        if state == "positioning" and prev not in INFER_STATES:
            self.capture.hold_replays()
        elif state == "recording":
            self.capture.play_replays()

    def _handle(self, worker: PoseWorker, frame, state: str) -> None:
        """One frame of one view, on that view's worker thread."""
        view = worker.view
        if state in INFER_STATES and worker.tracker is not None:
            t0 = time.perf_counter()
            pose = worker.tracker.process(frame.image, frame.t)
            self._stats.inference(view, (time.perf_counter() - t0) * 1000)
            kps = pose.to_array()
            self._poses[view] = (frame.seq, kps)
            self.station.observe(view, frame.t, kps, frame.width, frame.height, frame.image)
        elif state == "idle" and worker.movenet is not None:
            now = time.monotonic()
            if now - self._bg_at[view] >= BACKGROUND_EVERY_S:
                self._bg_at[view] = now
                self._learn_background(worker.movenet, view, frame)
        if view == "front" and state in IDENTIFY_STATES:
            self._identify(frame)

    def _identify(self, frame) -> None:
        """A membership card held up to the front camera (at most every IDENTIFY_EVERY_S)."""
        now = time.monotonic()
        if now - self._identify_at < IDENTIFY_EVERY_S:
            return
        self._identify_at = now
        if self._identifier is None:
            from device.identify import Identifier

            self._identifier = Identifier()
        number = self._identifier.decode(frame.image)
        if number:
            self.station.identify(number, "card")

    def identify(self, number: str, how: str = "keypad") -> bool:
        return self.station.identify(number, how)

    def forget_member(self) -> bool:
        return self.station.forget_member()

    def _submit(self, work) -> None:
        def run():
            try:
                work()
            finally:
                _malloc("malloc_trim", 0)  # hand a set's frames and arrays back to the system

        self._executor.submit(run)

    def _sync_cameras(self) -> None:
        """The capture's view of each camera into the state machine (it acts on changes)."""
        for view, st in self.capture.status().items():
            # paused (asleep) counts as online: woken, a set may start while they open again
            self.station.set_camera(view, st["status"] in ("online", "paused"), st["reason"])

    def _press(self) -> None:
        self._sync_cameras()  # a press right after a camera came up sees it up
        self.station.press()

    def _learn_background(self, movenet, view: str, frame) -> None:
        from device.pose import estimate_image

        t0 = time.perf_counter()
        pose = estimate_image(movenet, frame.image)
        self._stats.inference(None, (time.perf_counter() - t0) * 1000)
        if pose.mean_score < NOBODY_SCORE:
            small, _ = downscale(frame.image, KEEP_LONG_SIDE)
            self._backgrounds[view].update(small)

    def _background_images(self) -> dict:
        return {v: m.image for v, m in self._backgrounds.items() if m.ready}

    def _set_stopped(self, reason: str) -> None:
        """A set cut short (the machine's stopped state), recorded for the owner's page."""
        try:
            self.store.add_stopped_set(reason)
        except Exception:
            log.exception("could not record the stopped set (%s)", reason)

    def _retention(self) -> None:
        days = self.config.storage.retention_days
        if self.store is not None:  # also purges deletions past their undo period
            try:
                removed = self.store.apply_retention(days)
                if removed:
                    log.info("retention: %d assessment(s) removed (older than %d days, or deleted and past undo)", removed, days)
            except Exception:
                log.exception("retention failed")

    # -- StationControl -----------------------------------------------------------------------

    def state(self) -> dict:
        return self._with_cameras(self.station.state())

    def wait_for_change(self, last_version: int, timeout: float) -> tuple[int, dict]:
        version, state = self.station.wait_for_change(last_version, timeout)
        return version, self._with_cameras(state)

    def stats(self) -> dict:
        cams = self.capture.status() if self.capture is not None else {}
        skipped = sum(int(c.get("dropped") or 0) for c in cams.values())
        return {
            "state": self.station.current,
            "uptime_s": round(time.monotonic() - self._stats.started, 1),
            "inference_ms": None if self._stats.inference_ms is None else round(self._stats.inference_ms, 2),
            "inferences": self._stats.inferences,
            "runtime": getattr(self.movenet, "runtime", None),
            "cameras": {
                v: {
                    "status": c.get("status"), "reason": c.get("reason"), "fps": c.get("fps"),
                    "processed_fps": self._stats.processed_fps(v), "skipped": c.get("dropped"),
                    "frames": c.get("frames"), "restarts": c.get("restarts"),
                    "budget_exhausted": c.get("budget_exhausted"), "hung": c.get("hung"), "hangs": c.get("hangs"),
                }
                for v, c in cams.items()
            },
            "skipped_frames": skipped,
            "camera_alert": self.camera_alert(cams),
            "counters": self.station.counters(),
            "fleet": self.fleet.state() if self.fleet is not None else {"enabled": False},
            "display": self.display.status() if self.display is not None else None,
            **process_memory(),
        }

    def start(self) -> bool:
        self._sync_cameras()
        return self.station.start()

    def cancel(self) -> bool:
        return self.station.cancel()

    def report_pain(self) -> bool:
        return self.station.report_pain()

    def retest(self, kind: str) -> bool:
        return self.station.retest(kind)

    def preview_jpeg(self, view: str) -> bytes | None:
        """The newest frame of `view` with its skeleton, at most 5 per second; None when idle."""
        if view not in VIEWS or self.station.current not in PREVIEW_STATES or self.capture is None:
            return None
        frame = self.capture.latest(view)
        if frame is None:
            return None
        now = time.monotonic()
        with self._preview_lock:
            cached = self._preview.get(view)
            if cached and (cached[0] == frame.seq or now - cached[1] < PREVIEW_EVERY_S):
                return cached[2]
            small, scale = downscale(frame.image, PREVIEW_LONG_SIDE)
            pose = self._poses.get(view)
            rows = None
            if pose is not None:
                rows = pose[1].copy()
                rows[:, :2] *= scale
            jpeg = annotate(small, rows, [], view, quality=70)
            self._preview[view] = (frame.seq, now, jpeg)
            return jpeg

    # -- helpers ------------------------------------------------------------------------------

    def camera_alert(self, cams: dict | None = None) -> str | None:
        """What to tell staff when a camera's reconnects for the minute are spent while it is
        not online (it tries again when the minute is up), or when it is past help in this
        process (`camera_needs_restart`). None when all is well enough."""
        if self.capture is None:
            return None
        cams = self.capture.status() if cams is None else cams
        spent = [v for v, c in cams.items() if c.get("budget_exhausted")]
        if not spent:
            return None
        names = " and ".join(spent)
        cameras = f"The {names} camera{'s' if len(spent) > 1 else ''}"
        if self.camera_needs_restart(cams):
            return f"{cameras} stopped answering and is stuck in its driver: the station restarts itself."
        return f"{cameras} stopped answering and the reconnects for this minute are spent: it tries again within a minute."

    def camera_needs_restart(self, cams: dict | None = None) -> bool:
        """A view whose capture threads are all stuck in a read with no reconnect left: only a
        new process (systemd, through the watchdog) can get it back."""
        if self.capture is None:
            return False
        cams = self.capture.status() if cams is None else cams
        return any(c.get("budget_exhausted") and c.get("hung") and not c.get("capturing") for c in cams.values())

    def _with_cameras(self, state: dict) -> dict:
        if self.capture is not None:
            cams = self.capture.status()
            for v, c in cams.items():
                state["cameras"][v].update(status=c["status"], reason=c["reason"], fps=c["fps"],
                                           budget_exhausted=c.get("budget_exhausted", False),
                                           hung=c.get("hung", 0))
            alert = self.camera_alert(cams)
            state["camera_alert"] = alert
            if alert and alert not in state.get("message", ""):
                state["message"] = f"{state.get('message', '')} {alert}".strip()
        return state


def _malloc(name: str, *args) -> None:
    """Call a glibc allocator tuning function when there is one (not on musl or macOS)."""
    try:
        getattr(ctypes.CDLL("libc.so.6"), name)(*args)
    except (OSError, AttributeError):
        pass


def _model_sha() -> str:
    try:
        from device.model import SHA256
    except ImportError:
        return ""
    return str(SHA256)


class SafeModeStation:
    """What the web pages talk to when the station itself could not start: the page stays up,
    says why (`safe_mode`), and the trainer can log in, read the health page and fix the
    settings; nothing is assessed. Same methods as the StationControl the pages use."""

    MESSAGE = "The station needs a member of staff: {reason}"

    def __init__(self, reason: str):
        self.reason = reason
        self._started = time.monotonic()
        self._idle = threading.Event()

    def state(self) -> dict:
        return {"state": "safe_mode", "message": self.MESSAGE.format(reason=self.reason), "version": 1,
                "reps": 0, "countdown": None, "assessment_id": None, "panel": {"status": "attention"},
                "cameras": {}, "safe_mode": self.reason, "retests": []}

    def stats(self) -> dict:
        return {"state": "safe_mode", "safe_mode": self.reason, "uptime_s": time.monotonic() - self._started}

    def wait_for_change(self, last_version, timeout: float):
        if last_version == 1:
            self._idle.wait(timeout)  # nothing ever changes
        return 1, self.state()

    def preview_jpeg(self, view: str):
        return None

    def start(self) -> bool:
        return False

    cancel = report_pain = start

    def retest(self, kind: str) -> bool:
        return False

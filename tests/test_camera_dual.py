"""DualCapture: newest frame wins, shared clock, counters, and health under injected faults
(stalls, exceptions, disconnect/reconnect with a restart budget, corrupt frames)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from device import config
from device.camera.dual import DualCapture, RestartBudget
from device.camera.frame import CameraMissing, Frame, FrameSource, SourceError
from tests import fake_picamera2
from tests.fake_picamera2 import FakeCamera
from tests.test_camera_sources import write_video
from tests.waiting import wait_until


class FaultySource(FrameSource):
    """A camera whose behaviour a test switches at any time.

    mode: "ok" (frames at `fps`), "stall" (nothing, read times out), "raise" (read raises),
    "corrupt" (frames of the wrong shape/type), "unplugged" (read raises, open fails),
    "missing" (open raises CameraMissing), "hang" (read blocks until the mode changes).
    """

    def __init__(self, view: str, fps: float = 100.0, mode: str = "ok"):
        self.view, self.fps, self.mode = view, fps, mode
        self.name = f"faulty {view}"
        self.opens = self.closes = 0
        self.is_open = False
        self._seq = 0
        self.skip_every = 0  # >0: the source's own frame numbers skip one every n frames

    def open(self):
        self.opens += 1
        if self.mode == "unplugged":
            raise SourceError(f"{self.name}: device unplugged")
        if self.mode == "missing":
            raise CameraMissing(f"{self.name}: not attached")
        self.is_open = True

    def close(self):
        self.closes += 1
        self.is_open = False

    def read(self, timeout=1.0):
        assert self.is_open, "read on a closed source"
        mode = self.mode
        if mode == "hang":
            while self.mode == "hang":
                time.sleep(0.01)
            mode = self.mode
        if mode == "stall":
            time.sleep(timeout)
            return None
        if mode in ("raise", "unplugged"):
            time.sleep(0.01)
            raise SourceError(f"{self.name}: USB device disconnected")
        time.sleep(1.0 / self.fps)
        self._seq += 1
        if self.skip_every and self._seq % self.skip_every == 0:
            self._seq += 1
        if mode == "corrupt":
            bad = [np.zeros((8, 8), np.uint8), np.zeros((48, 64, 3), np.float32), None][self._seq % 3]
            return Frame(self.view, time.monotonic(), bad, self._seq)
        image = np.full((48, 64, 3), self._seq % 256, np.uint8)
        return Frame(self.view, time.monotonic(), image, self._seq)


def capture(front, side=None, **kw):
    kw.setdefault("offline_after_s", 0.5)
    kw.setdefault("restarts_per_minute", 100)
    kw.setdefault("min_retry_s", 0.02)
    kw.setdefault("read_timeout_s", 0.05)
    return DualCapture({"front": front, "side": side}, **kw)


def test_both_views_on_one_monotonic_clock_with_fps_and_clean_stop():
    front, side = FaultySource("front", 100), FaultySource("side", 50)
    cap = capture(front, side)
    with cap:
        a = cap.wait_for_frame("front", timeout=2)
        b = cap.wait_for_frame("side", timeout=2)
        assert a.view == "front" and b.view == "side"
        assert abs(a.t - b.t) < 0.5 and abs(time.monotonic() - a.t) < 0.5
        time.sleep(0.5)
        status = cap.status()
        assert status["front"]["status"] == status["side"]["status"] == "online"
        assert 30 < status["front"]["fps"] < 110 and 15 < status["side"]["fps"] < 55
        assert status["front"]["fps"] > status["side"]["fps"]
        threads = [v.thread for v in cap._views.values()]
    assert not any(t.is_alive() for t in threads)
    assert not front.is_open and not side.is_open and front.closes >= 1
    cap.take("front")  # the last frame may still be waiting
    start = time.monotonic()
    assert cap.wait_for_frame("front", timeout=5) is None  # stopped: no waiting for ever
    assert time.monotonic() - start < 0.5


def test_newest_frame_wins_and_unread_frames_count_as_dropped():
    src = FaultySource("front", 200)
    with capture(src) as cap:
        first = cap.wait_for_frame("front", timeout=2)
        time.sleep(0.3)  # nobody reads: frames pile up nowhere, the slot keeps the newest
        newest = cap.latest("front")
        assert newest.seq > first.seq + 10
        again = cap.wait_for_frame("front", timeout=1)
        assert again.seq >= newest.seq
        stats = cap.status("front")
        # every delivered frame is either handed out, dropped, or the one now waiting
        assert stats["dropped"] >= again.seq - first.seq - 2
        assert stats["frames"] - stats["dropped"] in (2, 3)
        assert cap.take("front") is None or cap.take("front") is None  # taken once only


def test_gaps_in_the_sources_frame_numbers_count_as_dropped():
    src = FaultySource("front", 200)
    src.skip_every = 5
    with capture(src) as cap:
        seen = []
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            f = cap.wait_for_frame("front", timeout=1)
            seen.append(f.seq)
        stats = cap.status("front")
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # the capture's own seq increases
    assert stats["dropped"] >= stats["frames"] // 6


def test_wait_for_frame_times_out_and_wait_for_frames_gives_any_view():
    front, side = FaultySource("front", 100), FaultySource("side", 100, mode="stall")
    with capture(front, side) as cap:
        assert cap.wait_for_frame("side", timeout=0.2) is None
        got = cap.wait_for_frames(timeout=1)
        assert set(got) == {"front"}
        got2 = cap.wait_for_frames(timeout=1)
        assert got2["front"].seq > got["front"].seq


def test_a_stalled_camera_goes_offline_is_restarted_and_comes_back():
    src = FaultySource("front", 100)
    with capture(src) as cap:
        assert cap.wait_for_frame("front", timeout=2)
        assert cap.status("front")["budget_exhausted"] is False
        src.mode = "stall"
        assert wait_until(lambda: cap.status("front")["status"] == "offline")
        assert "no frame for" in cap.status("front")["reason"]
        assert wait_until(lambda: src.opens >= 2)  # closed and opened again
        src.mode = "ok"
        assert wait_until(lambda: cap.status("front")["status"] == "online")
        assert cap.status("front")["restarts"] >= 1
        assert cap.wait_for_frame("front", timeout=1) is not None


def test_a_read_that_hangs_in_the_driver_still_shows_offline():
    src = FaultySource("front", 100)
    with capture(src) as cap:
        assert cap.wait_for_frame("front", timeout=2)
        src.mode = "hang"
        assert wait_until(lambda: cap.status("front")["status"] == "offline")
        assert "no frame for" in cap.status("front")["reason"]
        src.mode = "ok"
        assert wait_until(lambda: cap.status("front")["status"] == "online")


def test_exceptions_are_reported_with_the_reason_and_recovered_from():
    src = FaultySource("side", 100)
    with capture(FaultySource("front"), src) as cap:
        assert cap.wait_for_frame("side", timeout=2)
        src.mode = "raise"
        assert wait_until(lambda: "USB device disconnected" in cap.status("side")["reason"])
        assert cap.status("side")["status"] == "offline"
        assert cap.status("front")["status"] == "online"  # the other view keeps going
        src.mode = "ok"
        assert wait_until(lambda: cap.status("side")["status"] == "online")
        assert cap.status("side")["errors"] >= 1


def test_reconnect_attempts_follow_the_restart_budget():
    src = FaultySource("front", 100)
    with capture(src, restarts_per_minute=3, restart_window_s=60.0, min_retry_s=0.01) as cap:
        assert cap.wait_for_frame("front", timeout=2)  # open number 1 of 3 this minute
        src.mode = "unplugged"
        assert wait_until(lambda: "next try in" in cap.status("front")["reason"])
        time.sleep(0.4)
        assert src.opens == 3  # budget spent: no more attempts this minute
        status = cap.status("front")
        assert status["status"] == "offline" and "unplugged" in status["reason"]
        assert status["budget_exhausted"] is True


def test_a_camera_that_comes_back_is_used_again_once_the_budget_allows():
    src = FaultySource("front", 100)
    with capture(src, restarts_per_minute=2, restart_window_s=0.8, min_retry_s=0.01) as cap:
        assert cap.wait_for_frame("front", timeout=2)
        src.mode = "unplugged"
        assert wait_until(lambda: cap.status("front")["status"] == "offline")
        src.mode = "ok"  # plugged back in
        assert wait_until(lambda: cap.status("front")["status"] == "online", timeout=3)
        before = cap.wait_for_frame("front", timeout=1).seq
        assert cap.wait_for_frame("front", timeout=1).seq > before


def test_corrupt_frames_are_counted_never_handed_on_and_end_in_offline():
    src = FaultySource("front", 100)
    with capture(src) as cap:
        good = cap.wait_for_frame("front", timeout=2)
        src.mode = "corrupt"
        assert wait_until(lambda: cap.status("front")["status"] == "offline")
        status = cap.status("front")
        assert status["corrupt"] >= 5
        assert "no usable frame" in status["reason"] or "no frame" in status["reason"]
        latest = cap.latest("front")
        assert latest.image.dtype == np.uint8 and latest.image.shape == (48, 64, 3)
        assert latest.seq >= good.seq
        src.mode = "ok"
        assert wait_until(lambda: cap.status("front")["status"] == "online")


def test_missing_and_unconfigured_views():
    with capture(FaultySource("front", mode="missing"), None) as cap:
        assert wait_until(lambda: cap.status("front")["reason"].endswith("not attached"))
        status = cap.status()
        assert status["front"]["status"] == "missing"
        assert status["side"] == {**status["side"], "status": "missing", "reason": "no camera configured"}
        assert cap.wait_for_frame("side", timeout=0.1) is None


def test_restart_budget_window_and_gap():
    b = RestartBudget(3, window_s=60, min_gap_s=1.0)
    assert b.wait_s(0.0) == 0
    b.spend(0.0)
    assert b.wait_s(0.5) == pytest.approx(0.5)
    b.spend(1.0), b.spend(2.0)
    assert b.wait_s(3.0) == pytest.approx(57.0)
    assert b.wait_s(60.0) == 0  # the first attempt left the window


def test_replay_through_dual_capture_ends_offline(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", frames=5, fps=50)
    cfg = config.validate({"cameras": {"front": {"backend": "replay", "source": str(clip), "loop": False},
                                       "side": {"backend": "none"}}})
    with DualCapture.from_config(cfg) as cap:
        seqs = []
        while (f := cap.wait_for_frame("front", timeout=1)) is not None:
            seqs.append(f.seq)
        status = cap.status("front")
    assert seqs and seqs == sorted(seqs)
    assert status["status"] == "offline" and "recording ended" in status["reason"]
    assert cap.status("side")["status"] == "missing"


def test_a_recording_that_is_not_there_is_missing_with_the_reason(tmp_path):
    cfg = config.validate({"cameras": {"side": {"backend": "none"}}})
    gone = tmp_path / "gone.mov"
    with DualCapture.from_config(cfg, recordings={"front": str(gone)}) as cap:
        assert wait_until(lambda: "no such file" in cap.status("front")["reason"])
        status = cap.status("front")
    assert status["status"] == "missing" and str(gone) in status["reason"]


def test_two_pi_cameras_pinned_by_id_one_unplugged_and_back(monkeypatch):
    cams = fake_picamera2.install(monkeypatch, [FakeCamera("imx708", "/base/i2c@88000/imx708@1a"),
                                                FakeCamera("imx708", "/base/i2c@80000/imx708@1a")])
    cfg = config.validate({"cameras": {
        "front": {"backend": "picamera2", "camera_id": cams[1].id, "lores_width": 320, "lores_height": 240},
        "side": {"backend": "picamera2", "camera_id": cams[0].id, "lores_width": 320, "lores_height": 240},
    }})
    with DualCapture.from_config(cfg, offline_after_s=0.3, min_retry_s=0.05, read_timeout_s=0.1) as cap:
        f = cap.wait_for_frame("front", timeout=2)
        assert f.image.shape == (240, 320, 3)
        assert cap._views["front"].source.info["Id"] == cams[1].id
        assert cap.wait_for_frame("side", timeout=2) is not None
        cams[0].unplug()  # the side camera's cable comes out
        assert wait_until(lambda: cap.status("side")["status"] == "offline")
        assert cap.status("front")["status"] == "online"
        cams[0].plug()
        assert wait_until(lambda: cap.status("side")["status"] == "online", timeout=4)


def test_stop_is_prompt_even_while_waiting_for_a_restart():
    src = FaultySource("front", mode="unplugged")
    cap = capture(src, restarts_per_minute=1).start()
    assert wait_until(lambda: "next try in" in cap.status("front")["reason"])
    waiter = threading.Thread(target=cap.wait_for_frame, args=("front",), kwargs={"timeout": 10})
    waiter.start()
    start = time.monotonic()
    cap.stop()
    waiter.join(2)
    assert time.monotonic() - start < 2.5 and not waiter.is_alive()


def test_recordings_are_held_then_played_in_lock_step(tmp_path):
    """Two recordings of different length as cameras: held at their first frame when a set
    starts, then both played from one origin with the longer one's length as the period."""
    from device.camera.replay import ReplaySource

    long_ = ReplaySource(write_video(tmp_path / "a.mp4", 12), "front", loop=True)
    short = ReplaySource(write_video(tmp_path / "b.mp4", 7), "side", loop=True)
    clips = {v: [f.image for f in ReplaySource(p, v, paced=False)]
             for v, p in (("front", tmp_path / "a.mp4"), ("side", tmp_path / "b.mp4"))}
    firsts = {v: c[0] for v, c in clips.items()}
    with DualCapture({"front": long_, "side": short}) as cap:
        assert wait_until(lambda: all(cap.latest(v) is not None for v in ("front", "side")), 5)
        assert cap.hold_replays()
        # from now on each view shows its first frame, again and again
        held = {v: [] for v in firsts}

        def all_first(view):
            f = cap.wait_for_frame(view, timeout=1.0)
            held[view].append(f is not None and np.array_equal(f.image, firsts[view]))
            return held[view][-3:] == [True] * 3

        assert wait_until(lambda: all_first("front") and all_first("side"), 10)
        assert cap.play_replays(delay_s=0.2)
        origin = long_.now() + 0.2
        frames = {v: [] for v in firsts}
        deadline = time.monotonic() + 2.0  # into the second period
        while time.monotonic() < deadline:
            for view, f in cap.wait_for_frames(timeout=0.2).items():
                frames[view].append(f)
    for view, seq in frames.items():
        played = [f for f in seq if f.t >= origin - 0.05]
        assert len(played) >= 3
        for f in played:  # frame k of the clip is due at origin + k / fps in both views
            k = (f.t - origin) / 0.1
            assert abs(k - round(k)) < 0.01, (view, f.t, origin)
            i = round(k) % 12  # the period: 12 frames; the shorter clip holds its last frame
            assert np.array_equal(f.image, clips[view][min(i, len(clips[view]) - 1)]), (view, k)
    assert long_._period == short._period == pytest.approx(1.2)  # the longer clip's length


def test_play_replays_without_recordings_does_nothing():
    cap = DualCapture({"front": FaultySource("front")})
    assert cap.hold_replays() is False and cap.play_replays() is False


class HangingSource(FrameSource):
    """A camera whose every read (or, with in_open, its open) blocks inside the "driver" until
    the test releases it."""

    def __init__(self, view: str, value: int = 255, in_open: bool = False):
        self.view, self.name, self.value, self.in_open = view, f"hanging {view}", value, in_open
        self.entered, self.release = threading.Event(), threading.Event()
        self.closes = 0

    def open(self):
        if self.in_open:
            self.entered.set()
            self.release.wait(60)

    def close(self):
        self.closes += 1

    def read(self, timeout=1.0):
        self.entered.set()
        self.release.wait(60)  # bounded only so a failing test cannot leave it forever
        return Frame(self.view, time.monotonic(), np.full((48, 64, 3), self.value, np.uint8), 1)


class HandTime:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_a_hung_camera_is_reopened_in_its_own_thread():
    clock, hung, fresh = HandTime(), HangingSource("front"), []

    def factory():
        fresh.append(FaultySource("front", 200))
        return fresh[-1]

    cap = capture(hung, clock=clock, watch=False, hang_after_s=4.0, factories={"front": factory})
    with cap:
        assert hung.entered.wait(10)
        clock.t += 3.9
        assert cap.check_hung() == [] and not fresh  # a slow read is not a hung one
        clock.t += 0.2
        assert cap.check_hung() == ["front"] and len(fresh) == 1
        frame = cap.wait_for_frame("front", timeout=10)
        assert frame is not None and frame.image[0, 0, 0] != 255  # from the fresh source
        st = cap.status("front")
        assert st["status"] == "online" and st["hangs"] == 1 and st["hung"] == 1 and st["restarts"] == 1
        seen = cap.status("front")["frames"]
        hung.release.set()  # the old read comes back at last: its frame is not used
        assert wait_until(lambda: cap.status("front")["hung"] == 0)
        assert hung.closes == 1
        later = cap.wait_for_frame("front", timeout=10)
        assert later.image[0, 0, 0] != 255 and cap.status("front")["frames"] > seen


def test_hung_cameras_spend_the_restart_budget_and_say_so():
    clock, made = HandTime(), []

    def factory():
        made.append(HangingSource("front"))
        return made[-1]

    first = HangingSource("front")
    cap = capture(first, clock=clock, watch=False, hang_after_s=4.0, restarts_per_minute=2,
                  factories={"front": factory})
    try:
        cap.start()
        assert first.entered.wait(10)  # the first open spent one of the two
        clock.t += 4.5
        assert cap.check_hung() == ["front"] and len(made) == 1
        assert made[0].entered.wait(10)
        assert cap.status("front")["budget_exhausted"] is True  # both spent, camera not online
        clock.t += 4.5
        assert cap.check_hung() == ["front"] and len(made) == 1  # no third source this minute
        st = cap.status("front")
        assert st["status"] == "offline" and "reconnects for this minute spent" in st["reason"]
        assert st["budget_exhausted"] is True and st["hung"] == 2 and st["hangs"] == 2
    finally:
        for src in [first, *made]:
            src.release.set()
        assert cap.stop(timeout=10) == []


def test_an_open_that_hangs_is_a_hang_too():
    clock, fresh = HandTime(), []
    stuck = HangingSource("front", in_open=True)

    def factory():
        fresh.append(FaultySource("front", 200))
        return fresh[-1]

    cap = capture(stuck, clock=clock, watch=False, hang_after_s=4.0, factories={"front": factory})
    with cap:
        assert stuck.entered.wait(10)
        clock.t += 4.5
        assert cap.check_hung() == ["front"]
        assert cap.wait_for_frame("front", timeout=10) is not None
        stuck.release.set()
        assert wait_until(lambda: cap.status("front")["hung"] == 0)
        assert cap.status("front")["status"] == "online"

"""Members identify before the set: a real QR code (segno) or EAN-13 barcode rendered into a real
camera frame and read by device/identify.py; the state machine carries the member to the save;
pain during a set reaches the trainers' alerts; and a replayed front camera showing a card
identifies the person in the running station."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import segno

from device.camera import DualCapture
from device.errors import InputError
from device.identify import Identifier, decode
from device.media import open_media
from device.station.analysis import Analyser
from tests.conftest import DATA
from tests.loop_source import LoopSource
from tests.test_station_machine import Rig
from tests.waiting import wait_until

FRONT = DATA / "overhead-squat-pair" / "front.mov"
SIDE = DATA / "overhead-squat-pair" / "side_oblique.mov"


def _frames(path, n, size=(540, 960)):
    out = []
    with open_media(path) as media:
        for i, (_, rgb) in enumerate(media):
            if i >= n:
                break
            out.append(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return out


@pytest.fixture(scope="module")
def front_frames():
    return _frames(FRONT, 30)


def qr_rgb(text: str, scale: int = 5) -> np.ndarray:
    buf = io.BytesIO()
    segno.make_qr(text, error="m").save(buf, kind="png", scale=scale, border=4)
    bgr = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


EAN_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
EAN_G = ["0100111", "0110011", "0011011", "0100001", "0011101", "0111001", "0000101", "0010001", "0001001", "0010111"]
EAN_FIRST = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]


def ean13_rgb(digits12: str, module: int = 3, height: int = 120) -> tuple[np.ndarray, str]:
    """An EAN-13 barcode drawn from its definition (GS1): the 13 digits and the image."""
    d = [int(c) for c in digits12]
    check = (10 - sum(x * (3 if i % 2 else 1) for i, x in enumerate(d)) % 10) % 10
    d.append(check)
    bits = "101"
    for i, x in enumerate(d[1:7]):
        bits += EAN_L[x] if EAN_FIRST[d[0]][i] == "L" else EAN_G[x]
    bits += "01010"
    for x in d[7:]:
        bits += "".join("1" if b == "0" else "0" for b in EAN_L[x])  # R = complement of L
    bits += "101"
    quiet = 11
    row = np.array([255] * quiet + [0 if b == "1" else 255 for b in bits] + [255] * quiet, np.uint8)
    img = np.repeat(np.repeat(row[None, :], height, axis=0), module, axis=1)
    return np.dstack([img] * 3), "".join(map(str, d))


def paste(frame: np.ndarray, card: np.ndarray, x: int, y: int) -> np.ndarray:
    out = frame.copy()
    h, w = card.shape[:2]
    out[y:y + h, x:x + w] = card
    return out


def test_a_qr_code_in_a_real_frame_is_read(front_frames):
    reader = Identifier()
    assert "qr" in reader.kinds
    frame = paste(front_frames[0], qr_rgb("M-10023"), 20, 40)
    assert reader.decode(frame) == "M-10023"
    assert decode(frame) == "M-10023"
    # held at a slant and a little blurred, as a phone is held up to a camera
    card = qr_rgb("CARD-55017", scale=6)
    h, w = card.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 0.9)
    slanted = cv2.warpAffine(card, m, (w, h), borderValue=(255, 255, 255))
    frame = paste(front_frames[5], cv2.GaussianBlur(slanted, (3, 3), 0), 300, 60)
    assert reader.decode(frame) == "CARD-55017"


def test_nothing_or_not_a_member_number_gives_none(front_frames):
    reader = Identifier()
    assert reader.decode(front_frames[0]) is None  # a person, no card
    assert reader.decode(paste(front_frames[0], qr_rgb("https://gym.example/join"), 20, 40)) is None
    assert reader.decode(paste(front_frames[0], qr_rgb("two words"), 20, 40)) is None
    with pytest.raises(InputError, match="RGB uint8"):
        reader.decode(front_frames[0].astype(np.float32))


def test_a_barcode_in_a_real_frame_is_read_when_opencv_has_the_reader(front_frames):
    reader = Identifier()
    if "barcode" not in reader.kinds:
        pytest.skip("this OpenCV build has no cv2.barcode")
    for module in (2, 3, 4):  # bars 2-4 px wide: a card near or far
        bars, number = ean13_rgb("400638133393", module=module, height=160)
        assert number == "4006381333931"  # the check digit as GS1 computes it
        card = np.full((bars.shape[0] + 40, bars.shape[1] + 40, 3), 255, np.uint8)  # the card's white
        card[20:-20, 20:-20] = bars
        assert reader.decode(paste(front_frames[0], card, 20, 600)) == number, module


# -- the state machine (fake clock) -------------------------------------------------------


class PeopleRig(Rig):
    """The machine rig with the member carried to the real store and pain during a set recorded
    by the station's own Analyser hook."""

    def __init__(self, tmp_path, **kw):
        super().__init__(tmp_path, **kw)
        from device.station import Station

        self.analyser = Analyser(self.config, self.store)
        self.station = Station(
            self.config, clock=self.clock, panel=self.panel, analyse=self.analyse, save=self.save,
            submit=self.submit, count_reps=self.station._count_reps, on_pain=self.analyser.mark_pain,
            discard=self.store.delete, on_set_pain=self.analyser.pain_during_set,
        )
        for v in ("front", "side"):
            self.station.set_camera(v, True)

    def save(self, job, outcome):
        return self.store.save_assessment(outcome["result"], job.track, {}, kind=job.kind,
                                          parent_id=job.parent_id, member=job.member)


@pytest.fixture
def prig(tmp_path):
    r = PeopleRig(tmp_path, present={"knees_cave_in"})
    yield r
    r.panel.close()
    r.store.close()


def test_identified_member_goes_with_the_set_to_the_store(prig):
    assert prig.station.identify("M-777", "card")
    assert prig.station.state()["member"] == "••777"  # the screen shows only the end
    prig.to_recording()
    assert not prig.station.identify("M-999", "card")  # not during the set
    prig.squats(5)
    assert prig.state == "result"
    aid = prig.station.state()["assessment_id"]
    assert prig.jobs[-1].member == "M-777"
    assert prig.store.get(aid)["member"]["number"] == "M-777"
    # a re-test is the same person; back at idle the member is forgotten
    prig.station.press()
    assert prig.state == "idle" and prig.station.state()["member"] is None


def test_an_identification_nobody_follows_is_forgotten(prig):
    assert prig.station.identify("M-1", "keypad")
    prig.frames(60.0)
    assert prig.station.state()["member"] is not None
    prig.frames(61.0)
    assert prig.station.state()["member"] is None
    assert prig.station.identify("M-2", "keypad") and prig.station.forget_member()
    prig.to_recording()
    prig.squats(5)
    assert prig.store.get(prig.station.state()["assessment_id"])["member"] is None  # anonymous


def test_pain_during_a_set_is_an_alert_though_nothing_is_saved(prig):
    prig.station.identify("M-42", "card")
    prig.to_recording()
    prig.squats(2)
    assert prig.station.report_pain()
    assert prig.state == "pain"
    assert prig.store.list() == []  # nothing of the set
    (event,) = prig.store.events()
    assert event["kind"] == "pain" and event["member_number"] == "M-42" and event["assessment_id"] is None
    assert "after 2 rep(s)" in event["detail"]


def test_pain_on_the_result_is_a_referral_alert(prig):
    prig.to_recording()
    prig.squats(5)
    aid = prig.station.state()["assessment_id"]
    assert prig.station.report_pain()
    (event,) = prig.store.events()
    assert event["kind"] == "referral" and event["assessment_id"] == aid and event["member_id"] is None
    assert prig.store.get(aid)["pain"]


# -- the running station, a replayed front camera showing a card --------------------------


class CardSource(LoopSource):
    """Loops real frames in real time; `card` (an RGB image) is pasted in while set."""

    card: np.ndarray | None = None

    def picture(self, img):
        return img if self.card is None else paste(img, self.card, 10, 10)


def test_a_card_shown_to_the_replayed_front_camera_identifies_the_person(tmp_path, movenet, front_frames):
    from device import config as cfg
    from device.station.runtime import StationRuntime

    config = cfg.validate({"station": {"target_reps": 5, "min_reps": 2, "countdown_s": 1, "positioning_hold_s": 0.0,
                                       "record_limit_s": 60.0, "person_lost_s": 5.0, "message_idle_s": 60.0},
                           "panel": {"hold_cancel_s": 0.3, "hold_shutdown_s": 5.0},
                           "cameras": {"front": {"offline_after_s": 5.0}, "side": {"offline_after_s": 5.0}}})
    sources = {"front": CardSource("front", front_frames[:10]), "side": LoopSource("side", _frames(SIDE, 10))}
    capture = DualCapture(sources, offline_after_s=5.0)
    rt = StationRuntime(config, tmp_path / "data", capture=capture, movenet=movenet,
                        shutdown_action=lambda: None).open()
    try:
        assert wait_until(lambda: all(c["status"] == "online" for c in capture.status().values()), 20)
        assert rt.state()["member"] is None
        sources["front"].card = qr_rgb("GYM-31337", scale=4)
        assert wait_until(lambda: rt.state()["member"] is not None, 15), rt.state()
        assert rt.state()["member"].endswith("337") and rt.state()["member_how"] == "card"
        assert rt.station._member == "GYM-31337"
        sources["front"].card = None
        # the person starts, then stops with pain: the alert names the member though nothing is saved
        assert rt.start()
        assert wait_until(lambda: rt.state()["state"] in ("countdown", "recording"), 30), rt.state()
        assert rt.report_pain()
        assert wait_until(lambda: rt.store.events(), 10)
        (event,) = rt.store.events()
        assert event["kind"] == "pain" and event["member_number"] == "GYM-31337"
        assert rt.store.list() == []
    finally:
        rt.close()


def test_a_card_is_read_in_nearly_every_frame_wherever_it_is_held():
    """Not one lucky frame: 20 frames of a person squatting, the card in a corner and mid-frame."""
    frames = _frames(FRONT, 20)
    reader = Identifier()
    card = qr_rgb("GYM-31337", scale=4)
    for x, y in ((10, 10), (200, 400)):
        read = sum(reader.decode(paste(f, card, x, y)) == "GYM-31337" for f in frames)
        assert read >= 18, (x, y, read)

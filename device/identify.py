"""A membership card's QR code or barcode, read from one camera frame (pure: no station state).

    from device.identify import Identifier
    reader = Identifier()
    reader.decode(rgb)          # "M-10023" or None

Gyms' member apps show a QR code or a 1-D barcode (EAN-13, UPC, Code 128 ...). OpenCV reads
both: `cv2.QRCodeDetectorAruco` (4.8+; `cv2.QRCodeDetector` before); `cv2.barcode.BarcodeDetector` in opencv-python-headless
4.8-4.12 (checked on start: `Identifier.kinds` says which are available). The frame is RGB
uint8 as every camera backend gives it (device/camera/frame.py). What is read is checked as a
member number would be (device/store/people.py `clean_number`): printable ASCII, no spaces, at
most 64 characters, not a web address; anything else (a link in a QR code, binary) is not a
member number and gives None.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from device.errors import InputError
from device.store.people import clean_number

log = logging.getLogger(__name__)

MAX_SIDE = 960  # larger frames are scaled down first (a card held up fills a good part of it)
BARCODE_SCALES = (1.0, 0.7, 0.5)  # tried in turn until a barcode is read


class Identifier:
    """The detectors, built once (they keep models and buffers); one per thread."""

    def __init__(self):
        # the ArUco-based QR finder (OpenCV 4.8+) read a card in 20 of 20 real frames where the
        # classic one read 9 (a person and a busy gym behind it); the classic one is the fallback
        self._qr = cv2.QRCodeDetectorAruco() if hasattr(cv2, "QRCodeDetectorAruco") else cv2.QRCodeDetector()
        barcode = getattr(cv2, "barcode", None)
        self._bar = barcode.BarcodeDetector() if barcode is not None and hasattr(barcode, "BarcodeDetector") else None
        self.kinds = ("qr", "barcode") if self._bar is not None else ("qr",)

    def decode(self, rgb: np.ndarray) -> str | None:
        """The member number shown in the frame, or None."""
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InputError("identify: expected an RGB uint8 image (H, W, 3)")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        if max(h, w) > MAX_SIDE:
            scale = MAX_SIDE / max(h, w)
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        for text in self._read(gray):
            number = _number(text)
            if number:
                return number
        return None

    def _read(self, gray: np.ndarray):
        try:
            text, _, _ = self._qr.detectAndDecode(gray)
        except cv2.error as e:  # a frame OpenCV cannot take is no card, not a crash
            log.debug("QR decode failed: %s", e)
            text = ""
        if text:
            yield text
        if self._bar is None:
            return
        h, w = gray.shape
        for scale in BARCODE_SCALES:  # OpenCV's 1-D reader finds bars of a few pixels best
            img = gray if scale == 1.0 else cv2.resize(gray, (round(w * scale), round(h * scale)),
                                                      interpolation=cv2.INTER_AREA)
            try:
                out = self._bar.detectAndDecode(img)
            except cv2.error as e:
                log.debug("barcode decode failed: %s", e)
                return
            # 4.8+: (decoded_info, decoded_type, points); older: (ok, decoded_info, decoded_type, points)
            infos = out[1] if len(out) == 4 else out[0]
            if isinstance(infos, str):
                infos = (infos,)
            found = [info for info in infos or () if info]
            if found:
                yield from found
                return


def _number(text: str) -> str | None:
    if "://" in text:  # a web address (a poster, a share link), not a membership card
        return None
    try:
        return clean_number(text)
    except InputError:
        return None


def decode(rgb: np.ndarray) -> str | None:
    """One-off decode (builds the detectors each call; the station keeps an `Identifier`)."""
    return Identifier().decode(rgb)

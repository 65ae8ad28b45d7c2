"""The printable SVG as a browser draws it (headless Chromium): every marker is there, where the
mat's data says, at the printed scale."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from device.geometry import mat

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PX_PER_MM = 2


def test_svg_drawn_by_chromium_shows_every_marker_in_place(tmp_path):
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    svg = tmp_path / "mat.svg"
    svg.write_text(mat.to_svg())
    w, h = round(841 * PX_PER_MM), round(594 * PX_PER_MM)
    page_html = tmp_path / "page.html"
    page_html.write_text(f'<html><body style="margin:0"><img src="mat.svg" width="{w}" height="{h}"></body></html>')
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": w, "height": h})
            page.goto(page_html.as_uri())
            page.wait_for_function("document.images[0].complete && document.images[0].naturalWidth > 0")
            png = page.screenshot(clip={"x": 0, "y": 0, "width": w, "height": h})
        finally:
            browser.close()
    grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    det = mat.detect(grey)
    assert sorted(det) == sorted(mat.MAT.markers)
    for i, corners in det.items():
        expect = np.array([[(x + mat.MAT.width_m / 2) * 1000 * PX_PER_MM, (mat.MAT.depth_m / 2 - y) * 1000 * PX_PER_MM]
                           for x, y, _ in mat.MAT.marker_corners(i)])
        assert np.abs(corners - expect).max() < 1.5, i

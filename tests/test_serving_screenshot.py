"""The picture of the web page that lesson 07 shows is the one the project's code makes.

``python -m course_lib.serving.screenshot`` regenerates it (the service with the ImageNet
model, headless Chromium, the cat photo). Two runs differ only in the time and latency
printed in the page; after a Chromium upgrade changes how text is drawn, regenerate the
file with that command.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib.serving import screenshot

pytest.importorskip("playwright.sync_api", reason="needs Playwright (pip install playwright)")
pytestmark = pytest.mark.skipif(
    not screenshot.CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (make browser)"
)


def test_the_committed_screenshot_is_what_the_code_makes(tmp_path: Path):
    fresh = np.asarray(
        Image.open(screenshot.take_screenshot(tmp_path / "page.png")).convert("RGB"), dtype=np.int16
    )
    committed = np.asarray(Image.open(screenshot.SCREENSHOT).convert("RGB"), dtype=np.int16)
    assert fresh.shape == committed.shape, "the page's layout changed: regenerate the screenshot"
    differing = (np.abs(fresh - committed).max(axis=-1) > 0).mean()
    assert differing < 0.01, f"{differing:.1%} of the pixels differ: regenerate the screenshot"

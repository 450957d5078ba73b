"""A picture of the service's web page, taken by a real browser, for lesson 07.

``python -m course_lib.serving.screenshot [PATH]`` starts the service as ``make serve``
does (the ImageNet model) with an empty database, on a free port of 127.0.0.1, opens
its page in headless Chromium driven by Playwright, uploads the course's cat photo,
clicks Predict, waits for the answer to appear in the page and in the history, and
saves the whole page as a PNG (by default :data:`SCREENSHOT`, which the lesson shows).
The server is stopped by its process group and the browser closed, whatever happens.

It needs Playwright (a dev dependency) and Chromium at ``/usr/bin/chromium``
(``make browser``). The browser runs in UTC with an English locale, so the same
code gives the same picture apart from the time and latency printed in the page.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

from PIL import Image

SCREENSHOT = Path(__file__).parent / "static" / "page-screenshot.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--font-render-hinting=none",
]
VIEWPORT = {"width": 1000, "height": 900}
TIMEOUT_MS = 120_000


def take_screenshot(
    path: str | Path = SCREENSHOT, chromium: str | Path = CHROMIUM, photo: str = "cat"
) -> Path:
    """Serve the ImageNet model, classify ``photo`` (of ``data.sample_photos()``), save the page."""
    from playwright.sync_api import sync_playwright

    from course_lib import data
    from course_lib.serving import ServeConfig, free_port, start_server

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="course-screenshot-") as tmp:
        folder = Path(tmp)
        upload = folder / f"{photo}.jpg"
        Image.fromarray(data.sample_photos()[photo]).save(upload, quality=92)
        config = ServeConfig.from_env(
            {}, model="imagenet", db=folder / "predictions.sqlite3", port=free_port(), threads=2
        )
        with (
            # the first start on LiteRT converts the model: allow minutes on a busy machine
            start_server(config, log_path=folder / "server.log", timeout=900) as server,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
            )
            try:
                context = browser.new_context(
                    viewport=VIEWPORT, device_scale_factor=1, locale="en-US", timezone_id="UTC"
                )
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(server.url)
                page.set_input_files("#file-input", str(upload))
                page.click("#predict-button")
                page.locator("#result-label").wait_for(state="visible")
                page.locator("#history-list li").first.wait_for()
                page.locator("#result-image").evaluate("img => img.decode()")  # the photo is drawn
                png = page.screenshot(full_page=True, animations="disabled", caret="hide")
            finally:
                browser.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(io.BytesIO(png)).convert("RGB").save(path, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(SCREENSHOT), help="where to save the PNG")
    args = parser.parse_args()
    print(f"saved {take_screenshot(args.path)}")


if __name__ == "__main__":
    main()

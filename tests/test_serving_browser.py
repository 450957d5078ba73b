"""The web page in a real browser: headless Chromium, driven by Playwright, against gunicorn.

Uploads a real photo, clicks Predict, reads the label and the new history row,
sends feedback (with markup in it, which must stay text), and checks the page
at phone width. Set COURSE_SCREENSHOTS=<folder> to keep screenshots of the page.
"""

import io
import os
import re
from pathlib import Path

import pytest
import requests
from PIL import Image
from serving_support import png, tiny_model_path

from course_lib import data
from course_lib.serving import ServeConfig, free_port, start_server

expect = pytest.importorskip(
    "playwright.sync_api", reason="needs Playwright (pip install playwright)"
).expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
CATS = {"Egyptian cat", "tabby", "tiger cat"}
TOKEN = "browser-test-token"
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Chromium at /usr/bin/chromium (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    # The default model, ImageNet; on Keras, so that the start needs no conversion (the page is
    # the same on both runtimes; test_serving_litert covers LiteRT).
    config = ServeConfig.from_env(
        {}, db=folder / "predictions.sqlite3", port=free_port(), threads=4, runtime="keras"
    )
    server = start_server(config, log_path=folder / "server.log", timeout=300)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "my cat <3>.jpg"
    Image.fromarray(data.sample_photos()["cat"]).save(path, quality=92)
    return path


def screenshot(page, name):
    folder = os.environ.get("COURSE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_upload_predict_history_and_feedback_in_a_real_browser(server, browser, photo_file):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    expect(page.locator("#model-info")).to_contain_text("efficientnet_lite0")
    expect(page.locator("#predict-button")).to_be_disabled()

    page.set_input_files("#file-input", str(photo_file))
    # the page reads the file and shows it asynchronously: wait for it, as a user would
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#predict-button")).to_be_enabled()
    page.click("#predict-button")
    page.locator("#result-label").wait_for(state="visible")
    label = page.locator("#result-label").text_content()
    assert label in CATS
    assert page.locator("#result-top-k li").count() == 5

    row = page.locator("#history-list li").first
    row.wait_for()
    prediction_id = row.get_attribute("data-prediction-id")
    expect(row.locator(".history-label")).to_have_text(label)
    expect(page.locator("#history-summary")).to_contain_text("1 prediction")
    expect(row.locator(".history-meta")).to_contain_text("my_cat_3.jpg")
    screenshot(page, "page-desktop.png")

    result_feedback = page.locator("#result-feedback")
    result_feedback.get_by_role("button", name="No").click()
    result_feedback.locator(".correct-label").fill("tabby")
    result_feedback.locator(".comment").fill('<img src=x onerror="window.__hacked=1">')
    result_feedback.get_by_role("button", name="Send").click()
    state = result_feedback.locator(".feedback-state")
    expect(state).to_contain_text("Thank you")
    assert "correct label: tabby" in state.text_content()
    assert '<img src=x onerror="window.__hacked=1">' in state.text_content()  # shown as text
    assert page.locator("#result-feedback img, #history-list .feedback img").count() == 0
    assert page.evaluate("window.__hacked") is None
    history_row = page.locator(
        f'#history-list li[data-prediction-id="{prediction_id}"] .feedback-state'
    )
    expect(history_row).to_contain_text("tabby")
    stored = requests.get(f"{server.url}/history/{prediction_id}", timeout=30).json()
    assert stored["feedback"]["correct_label"] == "tabby" and stored["feedback"]["correct"] is False
    screenshot(page, "page-feedback.png")
    assert not errors, errors
    page.close()


def test_the_page_explains_a_bad_upload(server, browser, tmp_path):
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("these are notes, not a photo")
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.set_input_files("#file-input", str(not_an_image))
    page.click("#predict-button")
    expect(page.locator("#status")).to_contain_text("not an image")
    assert "error" in page.locator("#status").get_attribute("class")
    page.close()


def test_the_page_fits_a_phone_screen(server, browser, photo_file):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.set_input_files("#file-input", str(photo_file))
    page.click("#predict-button")
    page.locator("#result-label").wait_for(state="visible")
    page.locator("#history-list li").first.wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the phone"
    box = page.locator("#predict-button").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300  # a thumb-sized button
    screenshot(page, "page-phone.png")
    context.close()


def test_history_pages_through_older_predictions(server, browser):
    pixels = data.sample_photos()["coffee"]
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG")
    files = [("file", (f"coffee{i}.jpg", out.getvalue(), "image/jpeg")) for i in range(11)]
    assert requests.post(f"{server.url}/predict", files=files, timeout=120).status_code == 200
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    page.locator("#history-list li").first.wait_for()
    assert page.locator("#history-list li").count() == 10
    first_page_ids = page.locator("#history-list li").first.get_attribute("data-prediction-id")
    page.click("#next-page")
    expect(page.locator("#page-info")).to_have_text("page 2 of 2")
    assert (
        page.locator("#history-list li").first.get_attribute("data-prediction-id") != first_page_ids
    )
    expect(page.locator("#prev-page")).to_be_enabled()
    page.close()


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory):
    """A service with a token (the tiny model on Keras: quick to start) and one stored photo."""
    folder = tmp_path_factory.mktemp("guarded")
    config = ServeConfig.from_env(
        {},
        model=str(tiny_model_path()),
        runtime="keras",
        db=folder / "predictions.sqlite3",
        port=free_port(),
        threads=2,
        token=TOKEN,
    )
    server = start_server(config, log_path=folder / "server.log", timeout=300)
    try:
        files = {"file": ("a.png", png(size=(96, 96)))}
        assert requests.post(f"{server.url}/predict", files=files, timeout=60).status_code == 200
        yield server
    finally:
        server.stop()


def test_history_photos_behind_the_token_show_once_the_page_has_it(guarded_server, browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(guarded_server.url)
    row = page.locator("#history-list li").first
    row.wait_for()
    # No token: a message in the frame and above the list, not an empty frame.
    expect(row.locator(".thumb.locked")).to_have_text("token needed")
    assert row.locator("img").count() == 0
    expect(page.locator("#token-message")).to_contain_text("protected by the service's token")

    page.fill("#token-input", "not the token")
    page.click("#token-save")
    expect(page.locator("#history-list li .thumb.locked").first).to_have_text("token refused")
    expect(page.locator("#token-message")).to_contain_text("refused")

    page.fill("#token-input", TOKEN)
    page.click("#token-save")
    thumb = page.locator("#history-list li img.thumb").first
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("document.querySelector('#history-list img.thumb').naturalWidth > 0")
    expect(page.locator("#token-forget")).to_be_visible()
    page.close()

    # The token in the address's fragment: used, kept for the tab, removed from the address.
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{guarded_server.url}/#token={TOKEN}")
    expect(page.locator("#history-list li img.thumb").first).to_have_attribute(
        "src", re.compile(r"^blob:")
    )
    assert TOKEN not in page.url
    page.close()
    assert not errors, errors

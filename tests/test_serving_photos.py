"""Who sees the photos: originals kept beside predictions, retention, deletion, the token rule."""

import base64
import csv
import io

import pytest
from PIL import Image
from serving_support import jpeg, png
from test_serving_app import FakeClassifier, assert_error, make_app, upload

from course_lib.serving import ServeConfig, create_app
from course_lib.serving.config import is_loopback

TOKEN = "s3cret-token"
PHOTO_ROUTES = ["/history/{id}/image", "/history/{id}/original", "/feedback.csv"]


@pytest.fixture
def client(tmp_path):
    app = make_app(tmp_path)
    yield app.test_client()
    app.extensions["course_serving"]["host"].close()


@pytest.fixture
def guarded(tmp_path):
    """A service with a token, as it must have on a shared address."""
    app = make_app(tmp_path, host="0.0.0.0", token=TOKEN)
    yield app.test_client()
    app.extensions["course_serving"]["host"].close()


def bearer(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- originals


def test_the_original_upload_is_kept_byte_for_byte_beside_its_prediction(client):
    data = jpeg((800, 400), seed=4)
    body = upload(client, ("big.jpg", data)).get_json()
    assert body["original"] == {"kept": True, "bytes": len(data), "note": None}
    original = client.get(body["original_url"])
    assert (
        original.status_code == 200 and original.data == data and original.mimetype == "image/jpeg"
    )
    assert Image.open(io.BytesIO(client.get(body["image_url"]).data)).size == (
        256,
        128,
    )  # the preview
    assert client.get(f"/history/{body['id']}").get_json()["original"]["kept"] is True


def test_an_upload_over_the_keep_limit_keeps_the_preview_and_says_so(tmp_path):
    app = make_app(tmp_path, keep_upload_mb=0.001)
    client = app.test_client()
    data = png((80, 80), seed=1)
    assert len(data) > 0.001 * 2**20
    body = upload(client, ("a.png", data)).get_json()
    assert (
        body["original"]["kept"] is False and "only a preview is kept" in body["original"]["note"]
    )
    assert body["original_url"] is None and client.get(body["image_url"]).status_code == 200
    assert_error(client.get(f"/history/{body['id']}/original"), 404, "only a preview is kept")
    assert client.get(f"/history/{body['id']}").get_json()["original"] == body["original"]
    app.extensions["course_serving"]["host"].close()


def test_tf_serving_b64_files_are_kept_too_and_tensors_have_no_original(client):
    data = png(seed=7)
    client.post(
        "/v1/models/fake:predict", json={"instances": [{"b64": base64.b64encode(data).decode()}]}
    )
    client.post("/v1/models/fake:predict", json={"instances": [[[[0.5] * 3] * 8] * 8]})
    tensor, b64 = client.get("/history").get_json()["items"]
    assert client.get(b64["original_url"]).data == data
    assert tensor["original"] is None and tensor["original_url"] is None
    assert_error(client.get(f"/history/{tensor['id']}/original"), 404, "sent as a tensor")


def test_feedback_export_links_the_originals(client):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    client.post(f"/feedback/{pid}", json={"correct": False, "label": "dog"})
    (row,) = csv.DictReader(io.StringIO(client.get("/feedback.csv").get_data(as_text=True)))
    assert row["original_url"].endswith(f"/history/{pid}/original")


# ---------------------------------------------------------------- deletion


def test_deleting_a_photo_removes_preview_and_original_and_keeps_the_prediction(client):
    data = png(seed=2)
    pid = upload(client, ("a.png", data)).get_json()["id"]
    client.post(f"/feedback/{pid}", json={"correct": True})
    response = client.delete(f"/history/{pid}/image")
    assert response.status_code == 200
    assert response.get_json() == {"id": pid, "deleted": {"preview": True, "original": True}}
    assert_error(client.get(f"/history/{pid}/image"), 404, "no stored image")
    assert_error(client.get(f"/history/{pid}/original"), 404, "deleted on request")
    item = client.get(f"/history/{pid}").get_json()
    assert (
        item["image_url"] is None
        and item["original_url"] is None
        and item["feedback"]["correct"] is True
    )
    assert_error(
        client.delete(f"/history/{pid}/image"), 404, "no stored image"
    )  # nothing left to delete


@pytest.mark.parametrize(
    ("method", "path", "status", "phrase"),
    [
        ("delete", "/history/999/image", 404, "no prediction with id 999"),
        ("delete", "/history/abc/image", 404, "/history/abc/image"),
        ("get", "/history/999/original", 404, "no prediction with id 999"),
        ("post", "/history/1/original", 405, "use GET"),
        ("put", "/history/1/image", 405, "use DELETE or GET"),
    ],
)
def test_bad_requests_to_the_photo_routes(client, method, path, status, phrase):
    upload(client, ("a.png", png()))
    assert_error(getattr(client, method)(path), status, phrase)


# ---------------------------------------------------------------- the token rule


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_which_addresses_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_a_non_loopback_address_without_a_token_refuses_to_start():
    with pytest.raises(
        ValueError, match="COURSE_SERVE_HOST='0.0.0.0' lets other machines reach"
    ) as refused:
        ServeConfig.from_env({"COURSE_SERVE_HOST": "0.0.0.0"})
    assert "COURSE_SERVE_TOKEN" in str(refused.value)
    assert (
        ServeConfig.from_env({"COURSE_SERVE_HOST": "0.0.0.0", "COURSE_SERVE_TOKEN": TOKEN}).token
        == TOKEN
    )
    assert TOKEN not in repr(ServeConfig(host="0.0.0.0", token=TOKEN))  # never in a log line


def test_the_command_line_refuses_with_a_message_not_a_traceback(monkeypatch, capsys):
    from course_lib.serving import __main__ as entry

    monkeypatch.setenv("COURSE_SERVE_HOST", "0.0.0.0")
    monkeypatch.delenv("COURSE_SERVE_TOKEN", raising=False)
    monkeypatch.setattr(entry.os, "execv", lambda *args: pytest.fail("the server was started"))
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert "set COURSE_SERVE_TOKEN" in str(stopped.value.code) and "Traceback" not in str(
        stopped.value.code
    )


def test_create_app_refuses_a_shared_address_without_a_token(tmp_path):
    with pytest.raises(ValueError, match="set COURSE_SERVE_TOKEN"):
        create_app(ServeConfig(db=tmp_path / "p.sqlite3", host="0.0.0.0"), FakeClassifier())


@pytest.mark.parametrize("route", PHOTO_ROUTES + ["DELETE /history/{id}/image"])
@pytest.mark.parametrize(
    ("headers", "phrase"),
    [
        ({}, "send the service's token as 'Authorization: Bearer"),
        (bearer("wrong"), "does not match COURSE_SERVE_TOKEN"),
        (bearer(TOKEN + "x"), "does not match"),
        ({"Authorization": f"Basic {TOKEN}"}, "does not match"),
        ({"Authorization": "Bearer"}, "does not match"),
    ],
)
def test_photo_routes_answer_401_without_the_right_token(guarded, route, headers, phrase):
    pid = upload(guarded, ("a.png", png())).get_json()["id"]
    method, _, path = route.rpartition(" ")
    response = getattr(guarded, (method or "get").lower())(path.format(id=pid), headers=headers)
    assert_error(response, 401, phrase)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        guarded.get(f"/history/{pid}/image", headers=bearer()).status_code == 200
    )  # nothing was deleted


def test_photo_routes_answer_with_the_token_and_the_rest_needs_none(guarded):
    data = png(seed=3)
    body = upload(guarded, ("a.png", data)).get_json()  # predicting needs no token
    pid = body["id"]
    assert guarded.post(f"/feedback/{pid}", json={"correct": True}).status_code == 200
    assert guarded.get("/history").status_code == 200 and guarded.get("/model").status_code == 200
    assert guarded.get(f"/history/{pid}/original", headers=bearer()).data == data
    assert guarded.get(f"/history/{pid}/image", headers=bearer()).mimetype == "image/png"
    assert guarded.get("/feedback.csv", headers=bearer()).status_code == 200
    assert guarded.delete(f"/history/{pid}/image", headers=bearer()).status_code == 200


def test_a_token_set_on_loopback_is_required_too(tmp_path):
    app = make_app(tmp_path, token=TOKEN)
    client = app.test_client()
    pid = upload(client, ("a.png", png())).get_json()["id"]
    assert_error(client.get(f"/history/{pid}/image"), 401, "token")
    assert client.get(f"/history/{pid}/image", headers=bearer()).status_code == 200
    app.extensions["course_serving"]["host"].close()


def test_loopback_without_a_token_serves_the_photo_routes_openly(client):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    for route in PHOTO_ROUTES:
        assert client.get(route.format(id=pid)).status_code == 200, route


# ---------------------------------------------------------------- the page and the token


def test_the_page_asks_for_the_token_only_when_the_service_has_one(client, guarded):
    open_page = client.get("/").get_data(as_text=True)
    assert 'data-token-required="0"' in open_page
    page = guarded.get("/").get_data(as_text=True)
    assert 'data-token-required="1"' in page and 'id="token-form"' in page
    assert TOKEN not in page  # the page asks for it; the server never hands it out


def test_the_page_fetches_photos_with_the_token_instead_of_plain_img_src(client):
    script = client.get("/static/app.js").get_data(as_text=True)
    # An <img src> cannot send a header: photos come through fetch() with the token,
    # into blob: URLs, and without a token the page says so rather than showing an empty frame.
    assert "Authorization: `Bearer ${getToken()}`" in script
    assert "URL.createObjectURL(await response.blob())" in script
    assert "sessionStorage" in script and "#token=" in script
    assert "thumb.src = item.image_url" not in script
    assert '"token needed"' in script

"""The predict path, written once for every route: photos → model inputs → the model → the store.

``/predict`` and TensorFlow Serving's route both call :func:`classify_files` (encoded files)
or :func:`classify_inputs` (ready model inputs) inside :func:`served`, which holds one model
version from the first step to the stored row, even if another version is swapped in meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from course_lib.serving import uploads
from course_lib.serving.app import service
from course_lib.serving.batching import BatcherClosed, ModelNotReady, Served
from course_lib.serving.classifier import Classifier, top_k
from course_lib.serving.errors import ApiError
from course_lib.serving.store import NewPrediction, now

Preview = tuple[bytes, str] | tuple[None, None]

# A request's previews are made here while the model runs: Pillow and both runtimes release
# the GIL, so the answer does not wait for a preview made after the model.
_PREVIEW_MAKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="previews")


def ready_classifier(wait: bool = True) -> Classifier:
    """The loaded classifier; a request made while it loads waits up to the request timeout."""
    config, host = service().config, service().host
    if wait and host.state == "loading":
        host.wait(config.timeout_s)
    if host.state == "failed":
        raise ApiError(f"the model could not be loaded: {host.error}", 503)
    if not host.ready or host.classifier is None:
        raise ApiError("the model is still loading; try again in a few seconds", 503)
    return host.classifier


@contextmanager
def served() -> Iterator[Served]:
    """The served model for this request (waiting while it loads), kept until the request ends."""
    ready_classifier()
    try:
        with service().host.lease() as model:
            yield model
    except ModelNotReady as exc:
        raise ApiError(str(exc), 503) from None


def classify_files(
    model: Served, files: Sequence[tuple[str, bytes, str]], k: int, source: str, started: float
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Classify encoded images ``(file name, bytes, how an error names it)``; returns the items."""
    config = service().config
    # A large JPEG is decoded at a reduced scale that still covers the model's input and the
    # preview, unless the classifier's prepare needs the photo as decoded.
    needed = model.classifier.decode_at_least
    at_least = None if needed is None else max(needed, uploads.PREVIEW_SIDE)
    decoded, prepared = [], []
    # the pixels of a request's photos together: as many as /predict's largest request holds
    budget = config.max_files * config.max_pixels
    for i, (_, data, described) in enumerate(files):
        upload = uploads.decode_upload(data, config.max_pixels, name=described, at_least=at_least)
        budget -= upload.size[0] * upload.size[1]
        if budget < 0:
            raise ApiError(
                f"the images of one request hold more than {config.max_files:,} × "
                f"{config.max_pixels:,} pixels together; send fewer at once",
                413,
            )
        # classifier.prepare: the lesson's own way from photo to model input
        prepared.append(model.classifier.prepare(upload.image))
        if i < len(files) - 1:  # one photo at full size in memory at a time, not all of them
            uploads.shrink_to_preview(upload.image)
        decoded.append(upload)
    previews = start_previews(decoded)
    inputs = np.stack(prepared)
    return classify_inputs(
        model,
        inputs,
        [name for name, _, _ in files],
        k,
        source,
        started,
        decoded,
        [data for _, data, _ in files],
        previews,
    )


def start_previews(decoded: Sequence[uploads.Upload]) -> Future[list[Preview]]:
    """The previews of ``decoded``, made in another thread from now on."""
    return _PREVIEW_MAKERS.submit(lambda: [uploads.preview_bytes(u.image) for u in decoded])


def classify_inputs(
    model: Served,
    inputs: np.ndarray,
    names: Sequence[str],
    k: int,
    source: str,
    started: float,
    decoded: Sequence[uploads.Upload] | None = None,
    originals: Sequence[bytes | None] | None = None,
    previews: Future[list[Preview]] | None = None,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Run the model on prepared inputs, record a row each; returns the items and probabilities.

    ``previews``: those of ``decoded``, already started (:func:`start_previews`).
    """
    config = service().config
    try:
        probabilities = model.predict_inputs(inputs, timeout=config.timeout_s)
    except BatcherClosed as exc:
        raise ApiError(str(exc), 503) from None
    except TimeoutError:
        raise ApiError(
            f"the model did not answer within {config.timeout_s:g} s; the server is overloaded, "
            "try again",
            503,
        ) from None
    latency_ms = (time.perf_counter() - started) * 1000
    items = _record(
        model.classifier,
        probabilities,
        k,
        latency_ms,
        names,
        decoded or [None] * len(names),
        source,
        originals or [None] * len(names),
        previews,
    )
    return items, probabilities


def _record(
    classifier: Classifier,
    probabilities: np.ndarray,
    k: int,
    latency_ms: float,
    names: Sequence[str],
    decoded: Sequence[uploads.Upload | None],
    source: str,
    originals: Sequence[bytes | None],
    previews: Future[list[Preview]] | None,
) -> list[dict[str, Any]]:
    store = service().store
    created = now()
    made: list[Preview] = (
        previews.result()
        if previews is not None
        else [uploads.preview_bytes(u.image) if u else (None, None) for u in decoded]
    )
    rows, tops = [], []
    for name, upload, original, probs, (preview, mime) in zip(
        names, decoded, originals, probabilities, made, strict=True
    ):
        top = top_k(probs, classifier.class_names, k)
        best = top[0]
        rows.append(
            NewPrediction(
                filename=name,
                model_name=classifier.name,
                model_version=classifier.version,
                label=best["label"],
                class_index=best["class_index"],
                confidence=best["confidence"],
                top_k=top,
                latency_ms=round(latency_ms, 3),
                width=upload.size[0] if upload else None,
                height=upload.size[1] if upload else None,
                source=source,
                image=preview,
                image_type=mime,
                original=original,
                original_type=(upload.mime if upload else None)
                or (uploads.mime_type(original) if original is not None else None),
            )
        )
        tops.append(top)
    ids = store.add(rows, created_at=created)
    return [
        {
            "id": pid,
            "filename": row.filename,
            "label": row.label,
            "class_index": row.class_index,
            "confidence": row.confidence,
            "top_k": top,
            "model": {
                "name": row.model_name,
                "version": row.model_version,
                "runtime": classifier.runtime,
            },
            "latency_ms": row.latency_ms,
            "created_at": created,
            "image_url": f"/history/{pid}/image" if row.image else None,
            **original_fields(pid, _original_of(row.original)),
        }
        for pid, row, top in zip(ids, rows, tops, strict=True)
    ]


def _original_of(data: bytes | None) -> dict[str, Any] | None:
    """What the store does with an upload of these bytes, as ``original_status`` reports it."""
    if data is None:
        return None
    store = service().store
    kept = store.keeps(len(data))
    return {
        "kept": kept,
        "bytes": len(data),
        "note": None if kept else store.not_kept_reason(len(data)),
    }


def original_fields(prediction_id: int, status: dict[str, Any] | None) -> dict[str, Any]:
    url = f"/history/{prediction_id}/original" if status and status["kept"] else None
    return {"original": status, "original_url": url}


def public(item: dict[str, Any]) -> dict[str, Any]:
    """A stored prediction as the API shows it: links instead of the image flag."""
    item = dict(item)
    item["image_url"] = f"/history/{item['id']}/image" if item.pop("has_image") else None
    item.update(original_fields(item["id"], service().store.original_status(item["id"])))
    return item


def existing(prediction_id: int) -> dict[str, Any]:
    """The stored prediction, or a 404 naming the id."""
    # a number past SQLite's largest id (2**63 - 1) names no prediction either
    item = service().store.get(prediction_id) if 0 < prediction_id < 2**63 else None
    if item is None:
        raise ApiError(f"no prediction with id {prediction_id}", 404)
    return item

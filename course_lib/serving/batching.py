"""Serving one model to many threads: load once, warm up, batch concurrent requests.

:class:`MicroBatcher` runs every model call on one inference thread and lets
requests that arrive while the model is busy share the next call.
:class:`ModelHost` loads the classifier (in the background, so the server can
answer ``/health`` with "loading" meanwhile), warms it up, and reports whether
it is ready.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from course_lib.serving.classifier import Classifier

log = logging.getLogger(__name__)


class BatcherClosed(RuntimeError):
    """The batcher was stopped while a request waited for it."""


class MicroBatcher:
    """Collects concurrent requests into one model call from a single inference thread.

    Each request hands in its model inputs and waits for its own rows of the result.
    The thread takes the first waiting request, adds whatever else is already
    queued (up to ``max_batch`` images, waiting at most ``max_wait_ms`` for more)
    and calls the model once, through ``classifier.predict_inputs``: the batcher
    does no preprocessing of its own, so a photo the service prepared with
    ``classifier.prepare`` reaches the model exactly as in a lesson. Under no load a request runs alone at once; under
    load, requests that arrived while the model was busy share the next call.
    """

    def __init__(self, classifier: Classifier, max_batch: int = 32, max_wait_ms: float = 0.0) -> None:
        self.classifier = classifier
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self._queue: queue.Queue[tuple[np.ndarray, Future] | None] = queue.Queue()
        self._closed = False
        self.calls = 0  # model calls made, for tests and monitoring
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    def predict(self, pixels: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for uint8 ``pixels`` (n, h, w, c) at the model's size, computed in a shared batch.

        The pixels are scaled here, in the caller's thread, as ``classifier.predict_batch`` would.
        """
        pixels = np.asarray(pixels)
        shape = self.classifier.input_shape
        if pixels.dtype != np.uint8 or pixels.shape[1:] != shape:
            raise ValueError(f"expected uint8 pixels of shape (n, {', '.join(map(str, shape))}), "
                             f"got {pixels.dtype} {pixels.shape}")
        return self.predict_inputs(self.classifier.to_inputs(pixels), timeout)

    def predict_inputs(self, inputs: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for float32 model inputs (n, h, w, c), e.g. ``classifier.prepare`` of each photo."""
        if self._closed:
            raise BatcherClosed("the model is shutting down")
        future: Future = Future()
        self._queue.put((np.asarray(inputs, np.float32), future))
        return future.result(timeout=timeout)

    def close(self) -> None:
        """Stop the inference thread after the requests already queued."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            batch, size = [item], len(item[0])
            deadline = time.monotonic() + self.max_wait
            stop = False
            while size < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                size += len(nxt[0])
            self._run_batch(batch)
            if stop:
                break
        while True:  # anything queued after close(): fail it rather than leave it waiting
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].set_exception(BatcherClosed("the model is shutting down"))

    def _run_batch(self, batch: list[tuple[np.ndarray, Future]]) -> None:
        live = [(inputs, future) for inputs, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            probabilities = self.classifier.predict_inputs(np.concatenate([x for x, _ in live]))
            self.calls += 1
        except Exception as exc:  # hand the error to every waiting request
            for _, future in live:
                future.set_exception(exc)
            return
        start = 0
        for inputs, future in live:
            future.set_result(probabilities[start:start + len(inputs)])
            start += len(inputs)


class ModelNotReady(RuntimeError):
    """A prediction was asked for before the model finished loading (or after it failed to)."""


class ModelHost:
    """Owns the classifier of one server process: loading, warm-up, readiness, batching.

    ``source`` is a ready :class:`Classifier` or a function that loads one. With
    ``background=True`` loading runs on a thread and :attr:`state` reads
    ``"loading"`` until the warm-up is done, then ``"ready"`` (or ``"failed"``).
    """

    def __init__(self, source: Classifier | Callable[[], Classifier], max_batch: int = 32,
                 max_wait_ms: float = 0.0, background: bool = True) -> None:
        self._source = source
        self._max_batch, self._max_wait_ms = max_batch, max_wait_ms
        self.state = "loading"
        self.error: str | None = None
        self.classifier: Classifier | None = None
        self.batcher: MicroBatcher | None = None
        self.load_seconds: float | None = None
        self._ready = threading.Event()
        if background:
            threading.Thread(target=self._load, name="model-loader", daemon=True).start()
        else:
            self._load()
            if self.state == "failed":
                raise RuntimeError(f"could not load the model: {self.error}")

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            classifier = self._source if isinstance(self._source, Classifier) else self._source()
            classifier.warm_up(sorted({1, self._max_batch}))
            self.batcher = MicroBatcher(classifier, self._max_batch, self._max_wait_ms)
            self.classifier = classifier
            self.load_seconds = time.perf_counter() - started
            self.state = "ready"
            log.info("model %s %s ready in %.1f s", classifier.name, classifier.version, self.load_seconds)
        except Exception as exc:  # reported by /health; the process stays up to say why
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
            log.exception("could not load the model")
        finally:
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading finished (either way); True if the model is ready."""
        self._ready.wait(timeout)
        return self.ready

    def predict(self, pixels: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for uint8 pixels ``(n, h, w, c)``, through the micro-batcher."""
        if not self.ready or self.batcher is None:
            raise ModelNotReady(self.error or "the model is still loading")
        return self.batcher.predict(pixels, timeout)

    def predict_inputs(self, inputs: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for float32 model inputs ``(n, h, w, c)``, through the micro-batcher."""
        if not self.ready or self.batcher is None:
            raise ModelNotReady(self.error or "the model is still loading")
        return self.batcher.predict_inputs(inputs, timeout)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

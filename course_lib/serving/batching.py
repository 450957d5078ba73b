"""Serving one model to many threads: load once, warm up, batch concurrent requests.

:class:`MicroBatcher` runs every model call on one inference thread and lets
requests that arrive while the model is busy share the next call.
:class:`ModelHost` loads the classifier (in the background, so the server can
answer ``/health`` with "loading" meanwhile), warms it up, reports whether
it is ready, and swaps in another version when a folder of versions says so.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

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
    ``classifier.prepare`` reaches the model exactly as in a lesson. Under no load a request
    runs alone at once; under load, requests that arrived while the model was busy share the
    next call.

    A request that finds the model idle and nobody queued calls it itself, in its own
    thread: handing one image to the inference thread and waking up again costs two thread
    switches, about a millisecond with the GIL, on a model call of a few milliseconds.
    One lock keeps model calls one at a time either way; the inference thread takes it
    before it gathers a batch, so what queued during a direct call shares the next one.

    A classifier with ``concurrent_calls`` (LiteRT, :mod:`~course_lib.serving.lanes`) is
    called in each request's own thread, without the lock: it spreads the images of
    concurrent requests over its cores itself, and a batch would make them wait for each other.
    """

    def __init__(
        self, classifier: Classifier, max_batch: int = 32, max_wait_ms: float = 0.0
    ) -> None:
        self.classifier = classifier
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self._queue: queue.Queue[tuple[np.ndarray, Future] | None] = queue.Queue()
        self._closed = False
        self._model_lock = threading.Lock()  # one model call at a time
        self.calls = 0  # model calls made, for tests and monitoring (not of concurrent_calls)
        self.direct_calls = 0  # of those, made by an idle request in its own thread
        # A classifier that takes concurrent calls is called in the requests' threads: no
        # inference thread waits for work that never comes (one per served version).
        self._thread: threading.Thread | None = None
        if not classifier.concurrent_calls:
            self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
            self._thread.start()

    def predict(self, pixels: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for uint8 ``pixels`` (n, h, w, c) at the model's size, in a shared batch.

        The pixels are scaled here, in the caller's thread, as ``classifier.predict_batch`` would.
        """
        pixels = np.asarray(pixels)
        shape = self.classifier.input_shape
        if pixels.dtype != np.uint8 or pixels.shape[1:] != shape:
            raise ValueError(
                f"expected uint8 pixels of shape (n, {', '.join(map(str, shape))}), "
                f"got {pixels.dtype} {pixels.shape}"
            )
        return self.predict_inputs(self.classifier.to_inputs(pixels), timeout)

    def predict_inputs(self, inputs: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for float32 model inputs (n, h, w, c), e.g. ``classifier.prepare``'s."""
        if self._closed:
            raise BatcherClosed("the model is shutting down")
        inputs = np.asarray(inputs, np.float32)
        if self.classifier.concurrent_calls:  # it shares out concurrent calls itself
            return self.classifier.predict_inputs(inputs, timeout=timeout)
        if len(inputs) <= self.max_batch and self._model_lock.acquire(blocking=False):
            try:
                if self._queue.empty():  # idle: no hand-off to the inference thread
                    probabilities = self.classifier.predict_inputs(inputs)
                    self.calls += 1
                    self.direct_calls += 1
                    return probabilities
            finally:
                self._model_lock.release()
        future: Future = Future()
        self._queue.put((inputs, future))
        return future.result(timeout=timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the inference thread after the requests already queued; refuse new ones."""
        if not self._closed:
            self._closed = True
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            with self._model_lock:  # a direct call in progress ends first
                batch, size = [item], len(item[0])
                deadline = time.monotonic() + self.max_wait
                stop = False
                while size < self.max_batch:
                    try:
                        remaining = deadline - time.monotonic()
                        nxt = (
                            self._queue.get(timeout=remaining)
                            if remaining > 0
                            else self._queue.get_nowait()
                        )
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
        live = [
            (inputs, future) for inputs, future in batch if future.set_running_or_notify_cancel()
        ]
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
            future.set_result(probabilities[start : start + len(inputs)])
            start += len(inputs)


class ModelNotReady(RuntimeError):
    """A prediction was asked for before the model finished loading (or after it failed to)."""


class Watch(Protocol):
    """Where the model to serve can change while the service runs: a folder of versions."""

    def stamp(self) -> Hashable:
        """A cheap key (a file's stat) that changes when the model to serve may have changed."""

    def wanted(self) -> str | None:
        """The version the host's source would load now."""


@dataclass
class Served:
    """One loaded classifier with its own micro-batcher: what a request uses from start to end.

    A newly served version replaces the whole object; the old one keeps answering the
    requests that hold it (``users``) and closes when the last of them is done.
    """

    classifier: Classifier
    batcher: MicroBatcher
    users: int = 0
    retired: bool = False

    def predict_inputs(self, inputs: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        return self.batcher.predict_inputs(inputs, timeout)


class ModelHost:
    """The classifier of one server process: loading, warm-up, readiness, batching, new versions.

    ``source`` is a ready :class:`Classifier` or a function that loads one. With
    ``background=True`` loading runs on a thread and :attr:`state` reads
    ``"loading"`` until the warm-up is done, then ``"ready"`` (or ``"failed"``).

    With a ``watch`` (a folder of versions), :meth:`refresh` looks at most every
    ``check_every_s`` seconds whether another version is to be served; if so it calls
    ``source`` again, warms the new model up (in the background with ``background=True``,
    meanwhile the old one answers) and swaps it in at once: a request uses one
    :class:`Served` from start to end (:meth:`lease`), so requests in flight finish on the
    old version and every later one gets the new. A version that fails to load leaves the
    old one serving, with the reason in :attr:`reload_error`.
    """

    def __init__(
        self,
        source: Classifier | Callable[[], Classifier],
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        background: bool = True,
        watch: Watch | None = None,
        check_every_s: float = 1.0,
    ) -> None:
        self._source = source
        self._max_batch, self._max_wait_ms = max_batch, max_wait_ms
        self._background = background
        self.watch, self.check_every_s = watch, check_every_s
        self.state = "loading"
        self.error: str | None = None
        self.load_seconds: float | None = None
        self.reloading: str | None = None  # the version being loaded to replace the served one
        self.reload_error: str | None = None
        self.swaps = 0  # versions swapped in after the first, for tests and /health
        self._current: Served | None = None
        self._lock = threading.Lock()  # guards _current and the users counts
        self._checking = threading.Lock()  # one version check (and load) at a time
        self._stamp: Hashable = None
        self._last_check = 0.0
        self._ready = threading.Event()
        if background:
            threading.Thread(target=self._load, name="model-loader", daemon=True).start()
        else:
            self._load()
            if self.state == "failed":
                raise RuntimeError(f"could not load the model: {self.error}")

    @property
    def classifier(self) -> Classifier | None:
        """The classifier serving now (None until loaded)."""
        current = self._current
        return current.classifier if current else None

    @property
    def batcher(self) -> MicroBatcher | None:
        current = self._current
        return current.batcher if current else None

    def _build(self) -> Served:
        classifier = self._source if isinstance(self._source, Classifier) else self._source()
        classifier.warm_up(sorted({1, self._max_batch}))
        return Served(classifier, MicroBatcher(classifier, self._max_batch, self._max_wait_ms))

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            if self.watch is not None:
                self._stamp = (
                    self.watch.stamp()
                )  # before loading: a change during the load is seen later
                self._last_check = time.monotonic()
            served = self._build()
            self._swap(served)
            self.load_seconds = time.perf_counter() - started
            self.state = "ready"
            log.info(
                "model %s %s ready in %.1f s",
                served.classifier.name,
                served.classifier.version,
                self.load_seconds,
            )
        except Exception as exc:  # reported by /health; the process stays up to say why
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
            log.exception("could not load the model")
        finally:
            self._ready.set()

    def refresh(self) -> None:
        """Serve the version the watch names; cheap if nothing changed (a stat a second)."""
        if (
            self.watch is None
            or not self.ready
            or time.monotonic() - self._last_check < self.check_every_s
        ):
            return
        if not self._checking.acquire(blocking=False):
            return  # another request is checking or loading
        wanted = None
        try:
            self._last_check = time.monotonic()
            stamp = self.watch.stamp()
            if stamp != self._stamp:
                # a version that fails to load is not retried until the record changes again
                self._stamp = stamp
                wanted = self.watch.wanted()
                current = self.classifier
                if current is not None and wanted == current.version:
                    wanted = None
        except Exception:  # a broken record must not fail the request that noticed it
            log.exception("could not check which version to serve")
            wanted = None
        if wanted is None:
            self._checking.release()
            return
        self.reloading = wanted  # _reload releases the check lock when it is done
        if self._background:
            threading.Thread(target=self._reload, name="model-reloader", daemon=True).start()
        else:
            self._reload()

    def _reload(self) -> None:
        started = time.perf_counter()
        try:
            served = self._build()
            self._swap(served)
            self.swaps += 1
            self.reload_error = None
            log.info(
                "now serving %s %s (loaded in %.1f s)",
                served.classifier.name,
                served.classifier.version,
                time.perf_counter() - started,
            )
        except Exception as exc:  # keep serving the old version
            self.reload_error = f"version {self.reloading}: {type(exc).__name__}: {exc}"
            log.exception(
                "could not load version %s; still serving the previous one", self.reloading
            )
        finally:
            self.reloading = None
            self._checking.release()

    def _swap(self, served: Served) -> None:
        with self._lock:
            old, self._current = self._current, served
            close_old = old is not None and old.users == 0
            if old is not None:
                old.retired = True
        if close_old:
            old.batcher.close()

    @contextmanager
    def lease(self) -> Iterator[Served]:
        """The served model for one request: usable until the request is done, even after a swap."""
        with self._lock:
            served = self._current
            if not self.ready or served is None:
                raise ModelNotReady(self.error or "the model is still loading")
            served.users += 1
        try:
            yield served
        finally:
            with self._lock:
                served.users -= 1
                close = served.retired and served.users == 0
            if close:
                served.batcher.close()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading finished (either way); True if the model is ready."""
        self._ready.wait(timeout)
        return self.ready

    def predict(self, pixels: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for uint8 pixels ``(n, h, w, c)``, through the micro-batcher."""
        with self.lease() as served:
            return served.batcher.predict(pixels, timeout)

    def predict_inputs(self, inputs: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Probabilities for float32 model inputs ``(n, h, w, c)``, through the micro-batcher."""
        with self.lease() as served:
            return served.predict_inputs(inputs, timeout)

    def close(self) -> None:
        current = self._current
        if current is not None:
            current.batcher.close()

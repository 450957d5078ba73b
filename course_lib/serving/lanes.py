"""LiteRT under load: one single-thread interpreter per core, each taking the next waiting image.

A server with several requests at once gets the most images per second from its cores when
each core runs a whole image on an interpreter of its own, rather than every core working
on one image and waiting for the others (``bench/results/serving.md`` measures the CPU time
per EfficientNet-Lite0 image both ways). :class:`Lanes` keeps one such interpreter per core, each
with a thread that takes the next image from one queue, whichever request it belongs to:
a lane that finishes starts on the next image at once, instead of waiting for the other
lanes to finish a batch. A lone image with nothing else running is better served by the
interpreter that uses every core (half the wait); :meth:`Lanes.start_alone` lets it run and
holds the lanes back meanwhile, so the two never compete for the cores.

The lanes' threads hold the lanes, not the classifier that made them: when that classifier is
no longer used (a newly served version replaced it), :meth:`Lanes.stop` runs and they end.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

# One image's task: run ``invoke(interpreter, row)``; the future says when it is done.
_Task = tuple[Callable[[Any, int], None], int, Future]


class Lanes:
    """One thread per interpreter of ``interpreters`` (LiteRT's, single-thread, allocated).

    Each thread runs the next waiting row on its own interpreter; :meth:`run` hands in rows.
    """

    def __init__(self, interpreters: Iterable[Any]) -> None:
        self.interpreters = list(interpreters)
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._state = threading.Condition()
        self._pending = 0  # images queued or running on a lane
        self._alone = False  # the interpreter that uses every core is running
        self._stopped = False
        self.threads = [
            threading.Thread(
                target=self._run, args=(interpreter,), name=f"litert-lane-{n}", daemon=True
            )
            for n, interpreter in enumerate(self.interpreters)
        ]
        for thread in self.threads:
            thread.start()

    def __len__(self) -> int:
        return len(self.interpreters)

    def start_alone(self) -> bool:
        """True if nothing runs or waits on the lanes: the caller may use every core now.

        The caller must call :meth:`end_alone` when done; until then, lanes wait.
        """
        with self._state:
            if self._pending or self._alone or self._stopped:
                return False
            self._alone = True
            return True

    def end_alone(self) -> None:
        with self._state:
            self._alone = False
            self._state.notify_all()

    def run(
        self, invoke: Callable[[Any, int], None], rows: int, timeout: float | None = None
    ) -> None:
        """``invoke(interpreter, row)`` for each of ``rows`` rows, on whichever lane is free.

        Waits until every row is done; a row that raised raises here. After ``timeout``
        seconds raises :class:`TimeoutError`, and the rows not yet started are dropped.
        """
        done = [Future() for _ in range(rows)]
        with self._state:
            if self._stopped:
                raise RuntimeError("the model's lanes were stopped")
            self._pending += rows
        for row, future in enumerate(done):
            self._tasks.put((invoke, row, future))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for future in done:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                future.result(timeout=left)
        except TimeoutError:
            for future in done:
                future.cancel()  # a lane skips the rows of a request that gave up
            raise

    def stop(self) -> None:
        """End the lanes' threads once the images already queued are done."""
        with self._state:
            self._stopped = True
        for _ in self.interpreters:
            self._tasks.put(None)

    def _run(self, interpreter: Any) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            self._do(interpreter, *task)
            del task  # holds the request's arrays (and its classifier) until the next one

    def _do(
        self, interpreter: Any, invoke: Callable[[Any, int], None], row: int, future: Future
    ) -> None:
        try:
            if future.set_running_or_notify_cancel():
                with self._state:  # the interpreter that uses every core goes first
                    while self._alone:
                        self._state.wait()
                try:
                    invoke(interpreter, row)
                except Exception as exc:  # handed to the request that asked
                    future.set_exception(exc)
                else:
                    future.set_result(None)
        finally:
            with self._state:
                self._pending -= 1

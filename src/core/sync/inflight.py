"""Several vendor calls in flight at once, their outcomes handed back to the caller's thread.

The push sends a connection's write batches through a window of `width` calls: each call runs in a
worker thread, and the caller (the engine's thread, the only one that writes the state store)
collects the finished ones, oldest first, and records them. With a width of 1 there is no thread
unless asked for (`threaded`: the caller has other work to do while the call is out): the call
runs in the caller's thread when it is submitted, exactly as a plain loop would.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

__all__ = ["Finished", "InFlight"]

T = TypeVar("T")
R = TypeVar("R")


class Finished(Generic[T, R]):
    """One finished call: the caller's `tag`, and its `result` or the `error` it raised."""

    __slots__ = ("tag", "result", "error")

    def __init__(self, tag: T, result: R | None, error: Exception | None) -> None:
        self.tag = tag
        self.result = result
        self.error = error


class InFlight(Generic[T, R]):
    """At most `width` calls running at once; `finished()` waits for one and returns every finished call.

    Only `Exception`s of a call are caught and returned; anything else (a second stop signal in
    the caller's thread) propagates. `close()` never waits: calls still running are abandoned (their
    writes were recorded as possibly applied before they were sent).
    """

    def __init__(self, width: int, name: str = "leadsync-call", *, threaded: bool = False) -> None:
        self.width = max(1, int(width))
        threaded = threaded or self.width > 1  # a width of 1 runs in a thread only when asked to
        self._pool = ThreadPoolExecutor(self.width, thread_name_prefix=name) if threaded else None
        self._running: dict[Future[R], tuple[int, T]] = {}
        self._seq = 0

    def __enter__(self) -> InFlight[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._running)

    def has_room(self) -> bool:
        return len(self._running) < self.width

    def any_finished(self) -> bool:
        """Whether a call has finished and waits to be collected (never blocks)."""
        return any(future.done() for future in self._running)

    def tags(self) -> list[T]:
        """The tags of the calls submitted and not yet returned by `finished()`."""
        return [tag for _, tag in self._running.values()]

    def submit(self, tag: T, call: Callable[[], R]) -> None:
        """Start `call` (in the caller's thread when the width is 1); the window must have room."""
        if not self.has_room():
            raise RuntimeError("no room in the window: collect a finished call first")
        future: Future[R]
        if self._pool is None:
            future = Future()
            try:
                future.set_result(call())
            except Exception as exc:  # returned by finished(), like a worker's
                future.set_exception(exc)
        else:
            future = self._pool.submit(call)
        self._running[future] = (self._seq, tag)
        self._seq += 1

    def finished(self) -> list[Finished[T, R]]:
        """Wait until at least one call has finished; every finished one, in the order submitted."""
        if not self._running:
            return []
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        out: list[tuple[int, Finished[T, R]]] = []
        for future in done:
            seq, tag = self._running.pop(future)
            error = future.exception()
            if error is not None and not isinstance(error, Exception):
                raise error
            out.append((seq, Finished(tag, None if error is not None else future.result(), error)))  # type: ignore[arg-type]
        return [item for _, item in sorted(out, key=lambda pair: pair[0])]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

"""Reading a connection's streams at the same time, committing their pages one at a time.

Each stream reads in its own thread (a vendor's budgets are per endpoint class: a list on one
bucket and a search on another finish sooner side by side than one after the other). Pages come
back to the caller's thread, which alone writes the store: each stream's pages in their order, each
committed with its cursor as before. A page may wait for another stream: `ready` says when it may
be committed (an activity waits until the lead it names is stored, or the leads stream is done). A
lane holds at most `depth` pages not yet committed, so a waiting lane stops reading ahead.

Streams are grouped in lanes: the streams of one lane are read one after the other, in order (for
streams that rely on another's having run first); lanes run side by side.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["interleaved"]

K = TypeVar("K")
P = TypeVar("P")
_DONE = object()


class _Lane(Generic[K, P]):
    def __init__(self, sources: list[tuple[K, Iterator[P]]], depth: int) -> None:
        self.sources = sources
        self.slots = threading.Semaphore(depth)
        self.held: deque[tuple[K, P]] = deque()
        self.unread = [key for key, _ in sources]  # keys still reading or still to read, in order


def interleaved(
    lanes: list[list[tuple[K, Iterator[P]]]],
    ready: Callable[[K, P, set[K]], bool],
    depth: int = 4,
) -> Iterator[tuple[K, P]]:
    """Yield (key, page) of every source; each lane's pages in order, a page only once `ready`.

    `ready(key, page, running)` gets the keys of the sources still reading (or still to read); a
    page is always ready once none is. The first error of any source is raised here; closing the
    generator stops every reader.
    """
    events: queue.Queue[tuple[_Lane[K, P], K, object]] = queue.Queue()
    stop = threading.Event()
    feeds = [_Lane(sources, depth) for sources in lanes if sources]

    def produce(lane: _Lane[K, P]) -> None:
        key: K | None = None
        try:
            for key, pages in lane.sources:
                for page in pages:
                    while not lane.slots.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    events.put((lane, key, page))
                events.put((lane, key, _DONE))
        except BaseException as exc:  # handed to the consumer, raised there
            events.put((lane, key, exc))  # type: ignore[arg-type]

    threads = [threading.Thread(target=produce, args=(f,), name="leadsync-stream", daemon=True) for f in feeds]
    for thread in threads:
        thread.start()
    try:
        while any(f.unread or f.held for f in feeds):
            lane, key, item = events.get()
            if item is _DONE:
                lane.unread.remove(key)
            elif isinstance(item, BaseException):
                raise item
            else:
                lane.held.append((key, item))  # type: ignore[arg-type]
            progressed = True
            while progressed:  # commit whatever is ready, in each lane's order
                progressed = False
                running = {k for f in feeds for k in f.unread}
                for waiting in feeds:
                    while waiting.held and (not running or ready(*waiting.held[0], running)):
                        yield waiting.held.popleft()
                        waiting.slots.release()
                        progressed = True
                        running = {k for f in feeds for k in f.unread}
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)

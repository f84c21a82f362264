"""Run an asyncio service either on the caller's loop or on its own loop in a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

T = TypeVar("T")


class BackgroundService:
    """Base for services with `start_async`/`stop_async` that tests run in a background thread.

    Subclasses implement `_start` and `_stop` (coroutines on the serving loop). `start()`
    runs them on a private loop in a daemon thread; `await start_async()` runs them on the
    current loop instead (the CLI does this to serve everything from one loop).
    """

    _thread_name = "simulator-service"

    def __init__(self) -> None:
        """Prepare an unstarted service."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _start(self) -> None:
        """Open sockets and begin serving (implemented by subclasses)."""
        raise NotImplementedError

    async def _stop(self) -> None:
        """Close sockets and cancel work in progress (implemented by subclasses)."""
        raise NotImplementedError

    async def start_async(self) -> Self:
        """Start serving on the running event loop and return self."""
        await self._start()
        self._loop = asyncio.get_running_loop()
        return self

    async def stop_async(self) -> None:
        """Stop serving on the running event loop."""
        await self._stop()

    def start(self) -> Self:
        """Start serving in a daemon thread with its own event loop and return self."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(None)
            try:
                loop.run_forever()
                loop.run_until_complete(self.stop_async())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=self._thread_name, daemon=True)
        self._thread.start()
        try:
            started.result(timeout=10)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        """Stop a service started with `start()` and wait for its thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        self._thread = None
        self._loop = None

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the serving loop (thread-safe state access) and return its result."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or threading.current_thread() is thread:
            return function()

        async def invoke() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result(timeout=10)

    def __enter__(self) -> Self:
        """Start in a background thread."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the background thread."""
        self.stop()

"""kmock's Kubernetes emulator on loopback, served from a thread so the (synchronous) official
client can talk to it over real HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kmock


class ApplyingEmulator(kmock.KubernetesEmulator):
    """kmock's emulator, plus what server-side apply does and kmock leaves out: an apply of an
    object that does not exist yet creates it (kmock answers 404, as for a merge patch)."""

    async def _handle(self, request: Any) -> Any:
        if (
            request.resource is not None
            and str(request.method).upper().endswith("PATCH")
            and request.headers.get("Content-Type") == "application/apply-patch+yaml"
            and request.name is not None
        ):
            key = (request.resource, request.namespace, request.name)
            if key not in self.objects or self.objects[key].deleted:
                self.objects[key] = {"metadata": {"name": request.name}}
        return await super()._handle(request)


@contextmanager
def serve(handler: kmock.KubernetesEmulator | None = None) -> Iterator[tuple[Any, str]]:
    """(the emulator, its URL), running until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emulator = handler if handler is not None else ApplyingEmulator()
    server = kmock.Server(emulator)

    async def start() -> str:
        await emulator.__aenter__()
        await server.__aenter__()
        return str(server.url).rstrip("/")

    async def stop() -> None:
        await server.__aexit__(None, None, None)
        await emulator.__aexit__(None, None, None)

    url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield emulator, url
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

"""A tiny Bybit public websocket on 127.0.0.1 replaying a recording (tests only).

On ``subscribe`` it acknowledges like Bybit (``{"success": true, "op": "subscribe"}``) and
then sends every recorded line whose topic was subscribed, in file order; it answers
``ping`` with Bybit's public pong.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve


class FakeBybitPublic:
    def __init__(self, recording: Path) -> None:
        opener = gzip.open if recording.suffix == ".gz" else open
        with opener(recording, "rt") as fh:
            self.lines = [line.strip() for line in fh if line.strip()]
        self.port = 0
        self.subscriptions: list[str] = []
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/public/linear"

    def __enter__(self) -> FakeBybitPublic:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("fake Bybit websocket did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("op") == "ping":
                await ws.send(json.dumps({"success": True, "ret_msg": "pong", "op": "ping"}))
            elif msg.get("op") == "subscribe":
                topics = set(msg.get("args", []))
                self.subscriptions += sorted(topics)
                await ws.send(
                    json.dumps(
                        {
                            "success": True,
                            "ret_msg": "",
                            "op": "subscribe",
                            "req_id": msg.get("req_id"),
                        }
                    )
                )
                for line in self.lines:
                    if json.loads(line).get("topic") in topics:
                        await ws.send(line)

"""How the stream delivers (api/app.py, api/stream.py) with a real run behind it: no
per-message deflate, the relay moment on each metrics message, and a client that leaves is
forgotten at once while the others go on to the completion."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import WSMsgType

from lunge_mp.api import keys
from tests.integration.api_support import client, open_config, until, wait_final

pytestmark = pytest.mark.timeout(120)


def test_uncompressed_messages_carry_when_relayed_and_a_leaver_is_forgotten(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            r = await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=20, duration="30s"))
            tid = (await r.json())["id"]
            channel = c.server.app[keys.REGISTRY].get(tid).channel
            # the client offers permessage-deflate; the server declines it
            ws = await c.ws_connect(f"/api/v1/load-test/stream/{tid}", compress=15)
            assert "permessage-deflate" not in ws._response.headers.get("Sec-WebSocket-Extensions", "")
            assert ws.compress == 0
            leaver = await c.ws_connect(f"/api/v1/load-test/stream/{tid}")
            await until(lambda: len(channel.clients) == 2, 10, "both clients joined")
            metrics = []
            while len(metrics) < 2:
                m = json.loads((await ws.receive(timeout=15)).data)
                if m["type"] == "metrics_update":
                    metrics.append(m)
            for m in metrics:     # the server has it after the second was complete, and before now
                assert m["completeAt"] <= m["relayedAt"] <= time.time() + 0.01, m
            await leaver.close()
            await until(lambda: len(channel.clients) == 1, 10, "the closed client forgotten")
            await c.post(f"/api/v1/tests/{tid}/stop")
            kinds = []
            while True:
                msg = await ws.receive(timeout=30)
                if msg.type != WSMsgType.TEXT:
                    break
                kinds.append(json.loads(msg.data)["type"])
            assert kinds[-1] == "completion" and msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
            await wait_final(c, tid)
    asyncio.run(main())

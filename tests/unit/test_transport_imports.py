"""A worker on the fast transport never loads aiohttp (its import alone costs start-up time
and memory in every worker process)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import asyncio, sys
import lunge_mp.worker.main
from lunge_mp.worker import transports
from lunge_mp.worker.fast_transport import FastTransport
from lunge_mp.worker.transport import Prepared, classify

async def main():
    t = FastTransport(1)
    out = await t.send(Prepared("GET", "http://127.0.0.1:9/", {}, None, 1.0))   # refused
    assert out.error_class in ("connect", "timeout"), out
    assert classify(TimeoutError()) == "timeout" and classify(ConnectionResetError()) == "reset"
    await t.close()

asyncio.run(main())
loaded = sorted(m for m in ("aiohttp", "yarl", "multidict") if m in sys.modules)
print(",".join(loaded) or "none")
"""


def test_a_fast_transport_worker_never_imports_aiohttp():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_the_aiohttp_transport_loads_it_when_made():
    code = ("import asyncio, sys\n"
            "from lunge_mp.worker.transport import AiohttpTransport\n"
            "assert 'aiohttp' not in sys.modules\n"
            "async def main():\n"
            "    t = AiohttpTransport(1)\n"
            "    await t.close()\n"
            "asyncio.run(main())\n"
            "print('aiohttp' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"

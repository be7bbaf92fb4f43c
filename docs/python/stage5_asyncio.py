"""Stage 5 in Python: asyncio, the library that grew out of stages 2-4.

The twin of stage5-async-await/src/http.rs and src/bin/stage5-client.rs. `async def` is the
generator of stage 4 written by the language; `await` is its `yield from`; the event loop is
stage 4's scheduler with timers, and `asyncio.run` is `block_on`. `create_task` wraps a
coroutine in a Task (stage 4's Task) and schedules its first step; `gather` waits for them all.

    python3 docs/python/stage5_asyncio.py [--count N] [--delay MS] [--addr HOST:PORT]
"""

import asyncio

from stage1_blocking import MAX_RESPONSE, parse_response, request_bytes
from workshop import run_crawler_demo


# ANCHOR: get
async def get(addr, path):
    reader, writer = await asyncio.open_connection(*addr)  # a non-blocking connect, awaited
    try:
        writer.write(request_bytes(addr[0], path))
        await writer.drain()  # waits while the socket's send buffer is full
        data = bytearray()
        while chunk := await reader.read(64 * 1024):  # b"" at EOF: the server closed
            data += chunk
            if len(data) > MAX_RESPONSE:
                raise ValueError(f"the response is larger than {MAX_RESPONSE} bytes")
    finally:
        writer.close()
        await writer.wait_closed()
    return parse_response(bytes(data))
# ANCHOR_END: get


# ANCHOR: crawl
async def fetch(addr, path, report):
    try:
        result = await asyncio.wait_for(get(addr, path), timeout=30)
    except (OSError, ValueError, asyncio.TimeoutError) as e:
        result = e
    report.response(path, result)


async def crawl_all(addr, paths, report):
    tasks = [asyncio.create_task(fetch(addr, path, report)) for path in paths]
    await asyncio.gather(*tasks)


def crawl(addr, paths, report):
    asyncio.run(crawl_all(addr, paths, report))  # a new loop, run until the coroutine is done
    return 1
# ANCHOR_END: crawl


if __name__ == "__main__":
    run_crawler_demo("stage5.py", "Fetch /1 .. /N concurrently with asyncio: tasks and gather.", crawl)

"""How fast the emulator serves: list pages per second, and concurrency held under latency.

Starts the emulator in a child process (so it has a core of its own), then drives it from this
process with many concurrent aiohttp clients:

1. zero latency: clients walk `/v1/<model>?limit=100` with `starting_after`, starting over at the
   end; prints pages and objects per second;
2. with `--latency-ms` (300) and `--latency-clients` (200) clients each making one request after
   another; prints how many requests were in flight at once and the latency they saw.

    python pipelines/benchmark_emulator.py [--objects 10000] [--seconds 5] [--url http://…]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from stripe_source.emulator.keys import account_keys


@dataclass
class Tally:
    pages: int = 0
    objects: int = 0
    errors: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    latencies: list[float] = field(default_factory=list)


def _serve(objects: int, seed: int, ready: Any, stop: Any) -> None:
    """The child process: serve a seeded emulator until told to stop."""
    from stripe_source.emulator.runner import start_emulator

    with start_emulator(seed=seed, objects=objects) as emulator:
        ready.put(emulator.url)
        stop.wait()


async def _largest_model_path(session: aiohttp.ClientSession, url: str) -> tuple[str, int]:
    """The list path of the top-level model with the most objects in account 1."""
    from stripe_source.catalog import MODELS_BY_NAME

    async with session.get(f"{url}/_emulator/state") as response:
        state = orjson.loads(await response.read())
    first_account = next(iter(state["accounts"].values()))
    counts = {
        name: len(objects)
        for name, objects in first_account.items()
        if not MODELS_BY_NAME[name].is_child and name != "Subscription"
    }
    name = max(counts, key=counts.__getitem__)
    return MODELS_BY_NAME[name].path, counts[name]


async def _walk_pages(
    session: aiohttp.ClientSession, url: str, path: str, until: float, tally: Tally
) -> None:
    cursor: str | None = None
    while time.monotonic() < until:
        params = {"limit": "100"}
        if cursor:
            params["starting_after"] = cursor
        async with session.get(f"{url}{path}", params=params) as response:
            body = orjson.loads(await response.read())
        if response.status != 200:
            tally.errors += 1
            continue
        tally.pages += 1
        tally.objects += len(body["data"])
        cursor = body["data"][-1]["id"] if body["has_more"] else None


async def _hold(
    session: aiohttp.ClientSession, url: str, path: str, until: float, tally: Tally
) -> None:
    while time.monotonic() < until:
        tally.in_flight += 1
        tally.most_in_flight = max(tally.most_in_flight, tally.in_flight)
        started = time.monotonic()
        async with session.get(f"{url}{path}", params={"limit": "10"}) as response:
            await response.read()
        tally.in_flight -= 1
        tally.latencies.append(time.monotonic() - started)
        if response.status != 200:
            tally.errors += 1


async def _configure(session: aiohttp.ClientSession, url: str, **settings: Any) -> None:
    async with session.post(f"{url}/_emulator/config", json=settings) as response:
        response.raise_for_status()


async def benchmark(
    url: str, seconds: float, clients: int, latency_clients: int, latency_ms: float
) -> None:
    headers = {"Authorization": f"Bearer {account_keys('', 1).secret}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        path, count = await _largest_model_path(session, url)
        await _configure(session, url, latency_ms=0)

        throughput = Tally()
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(_walk_pages(session, url, path, until, throughput) for _ in range(clients))
        )
        print(f"zero latency, {clients} clients walking {path} ({count} objects), limit=100:")
        print(
            f"  {throughput.pages / seconds:,.0f} pages/s, "
            f"{throughput.objects / seconds:,.0f} objects/s, {throughput.errors} errors"
        )

        await _configure(session, url, latency_ms=latency_ms)
        held = Tally()
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(_hold(session, url, path, until, held) for _ in range(latency_clients))
        )
        await _configure(session, url, latency_ms=0)
        latencies = sorted(held.latencies)
        print(f"{latency_ms:g} ms latency, {latency_clients} clients:")
        print(
            f"  {held.most_in_flight} requests in flight at once, "
            f"{len(latencies) / seconds:,.0f} requests/s, "
            f"median {statistics.median(latencies) * 1000:,.0f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:,.0f} ms, {held.errors} errors"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="benchmark an emulator already running at this address")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency-clients", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    args = parser.parse_args()

    if args.url:
        asyncio.run(
            benchmark(args.url, args.seconds, args.clients, args.latency_clients, args.latency_ms)
        )
        return

    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(args.objects, args.seed, ready, stop))
    server.start()
    try:
        url = ready.get(timeout=300)
        print(f"emulator with {args.objects} objects at {url}")
        asyncio.run(
            benchmark(url, args.seconds, args.clients, args.latency_clients, args.latency_ms)
        )
    finally:
        stop.set()
        server.join(timeout=30)


if __name__ == "__main__":
    main()

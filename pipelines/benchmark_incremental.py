"""Incremental-run benchmark: the cost of keeping a big account current after some changes.

Starts the emulator (own process, Stripe's 300 ms latency and 25 requests/s), runs a full sync of
every model, makes changes through the official SDK (new customers, changed customers, new and
archived prices, new products, canceled subscriptions), then runs an incremental sync and prints
requests and wall time of both runs. Target: the incremental run makes under 5% of the full
sync's requests.

    python pipelines/benchmark_incremental.py --objects 100000 --changes 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import requests
import stripe
from benchmark import EMULATOR_KEY, scratch_pipeline, start_emulator

from stripe_source.keys import ApiKey
from stripe_source.runner import run_sync


def make_changes(url: str, count: int) -> None:
    """`count` writes of several kinds, spread over the account."""
    client = stripe.StripeClient(EMULATOR_KEY, base_addresses={"api": url})
    customers = client.v1.customers.list(params={"limit": 100}).data
    subscriptions = client.v1.subscriptions.list(params={"limit": 100}).data
    product = client.v1.products.create(params={"name": "Benchmark plan"})
    for index in range(count):
        kind = index % 5
        if kind == 0:
            client.v1.customers.create(params={"email": f"new{index}@example.com"})
        elif kind == 1:
            customer = customers[index % len(customers)]
            client.v1.customers.update(customer.id, params={"metadata": {"touched": str(index)}})
        elif kind == 2:
            client.v1.prices.create(
                params={"product": product.id, "unit_amount": 100 + index, "currency": "usd"}
            )
        elif kind == 3:
            client.v1.products.create(params={"name": f"Product {index}"})
        elif subscriptions and subscriptions[0].status != "canceled":
            client.v1.subscriptions.cancel(subscriptions.pop(0).id)
        else:
            client.v1.customers.create(params={"email": f"extra{index}@example.com"})


def timed_sync(pipeline, url: str, rate_limit: float):
    started = time.monotonic()
    result = run_sync(
        pipeline,
        [ApiKey(EMULATOR_KEY)],
        api_base=url,
        rate_limit=rate_limit,
        incremental=True,
        show_progress=False,
    )
    seconds = time.monotonic() - started
    return result, seconds, sum(e.requests for e in result.report.rows()) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--rate-limit", type=float, default=25.0)
    parser.add_argument("--port", type=int, default=12195)
    args = parser.parse_args()

    emulator, url = start_emulator(args.objects, args.latency_ms, args.rate_limit, args.port)
    try:
        with tempfile.TemporaryDirectory() as folder:
            pipeline = scratch_pipeline(folder, "benchmark_incremental")
            full, full_seconds, full_requests = timed_sync(pipeline, url, args.rate_limit)

            # writes are the user's app, not the sync: let them through without the simulation
            requests.post(f"{url}/_emulator/config", json={"latency_ms": 0, "rate_limit": None})
            make_changes(url, args.changes)
            requests.post(
                f"{url}/_emulator/config",
                json={"latency_ms": args.latency_ms, "rate_limit": args.rate_limit},
            )
            incremental, seconds, incremental_requests = timed_sync(pipeline, url, args.rate_limit)
    finally:
        emulator.terminate()
        emulator.wait()

    share = 100 * incremental_requests / full_requests
    print(f"account               {args.objects:,} objects, {args.changes:,} changes")
    print(f"full sync             {full_requests:,} requests, {full_seconds:.1f}s")
    print(f"incremental run       {incremental_requests:,} requests, {seconds:.1f}s")
    print(f"requests vs full      {share:.2f}% (target under 5%)")
    print(f"exit codes            {full.exit_code}, {incremental.exit_code}")
    busiest = sorted(incremental.report.rows(), key=lambda entry: -entry.requests)[:5]
    print("incremental requests  " + ", ".join(f"{e.model} {e.requests}" for e in busiest))
    return max(full.exit_code, incremental.exit_code)


if __name__ == "__main__":
    sys.exit(main())

"""Full-sync benchmark against the emulator with Stripe's latency and rate limit.

Starts `stripe-sync emulator` in its own process (so it does not share this process's CPU time or
memory), runs a full sync of every model into a fresh DuckDB file, and prints:

- requests made, and requests/s during extraction against the rate limit;
- objects/s over the whole run;
- wall time against the lower bound: the fewest pages any client needs, divided by the limit;
- time spent extracting versus normalizing and loading;
- peak memory of the syncing process.

    python pipelines/benchmark.py --objects 100000
    python pipelines/benchmark.py --objects 400000   # memory must not grow with account size
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stripe_source.catalog import MODELS, MODELS_BY_NAME
from stripe_source.keys import ApiKey
from stripe_source.runner import make_pipeline, run_sync

EMULATOR_KEY = "sk_test_emulator000000000000000000000001"


def start_emulator(objects: int, latency_ms: int, rate_limit: float, port: int):
    command = [
        sys.executable,
        "-m",
        "stripe_source.cli",
        "emulator",
        "--objects",
        str(objects),
        "--latency-ms",
        str(latency_ms),
        "--rate-limit",
        str(rate_limit),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "http://" in line:
            return process, f"http://127.0.0.1:{port}"
    raise RuntimeError("the emulator did not start")


class MemorySampler:
    """Resident memory of this process, sampled every 100 ms with the time of each sample.

    Lets the benchmark tell the peak while extracting (what the connector itself holds) from the
    peak while normalizing and loading (dlt's files and DuckDB's in-process merge).
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.1):
            with open("/proc/self/statm") as statm:
                resident = int(statm.read().split()[1]) * page / 2**20
            self.samples.append((time.time(), resident))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> float:
        return max((mb for at, mb in self.samples if start <= at <= end), default=0.0)


def scratch_pipeline(folder: str, name: str):
    """A DuckDB pipeline whose state and database live in a throwaway folder.

    dlt's warnings about columns that stayed null are kept out of the figures, as the CLI does.
    """
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    return make_pipeline(
        "duckdb",
        "stripe",
        pipeline_name=name,
        duckdb_file=Path(folder) / "benchmark.duckdb",
        pipelines_dir=Path(folder),
    )


def minimum_pages(pipeline) -> int:
    """Fewest requests any client needs for what was loaded: full pages, one per parent list."""
    pages = 1  # GET /v1/account
    with pipeline.sql_client() as client:

        def scalar(sql: str) -> int:
            with client.execute_query(sql) as cursor:
                return int(cursor.fetchone()[0] or 0)

        tables = set(pipeline.default_schema.data_table_names())
        for model in MODELS:
            if model.table not in tables:
                continue
            table = client.make_qualified_table_name(model.table)
            if not model.is_child:
                pages += max(1, math.ceil(scalar(f"select count(*) from {table}") / 100))
                continue
            parent = MODELS_BY_NAME[model.parent]
            if model.embedded:
                # children past the first 10 embedded ones, in pages of 100, per parent
                pages += scalar(
                    f"select sum(ceil(greatest(n - 10, 0) / 100.0)) from "
                    f"(select count(*) as n from {table} group by _parent_id) as per_parent"
                )
            else:
                parent_table = client.make_qualified_table_name(parent.table)
                pages += scalar(f"select count(*) from {parent_table}")
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--rate-limit", type=float, default=25.0)
    parser.add_argument("--port", type=int, default=12199)
    args = parser.parse_args()

    seeding = time.monotonic()
    emulator, url = start_emulator(args.objects, args.latency_ms, args.rate_limit, args.port)
    print(f"emulator: {args.objects:,} objects seeded in {time.monotonic() - seeding:.0f}s")
    try:
        with tempfile.TemporaryDirectory() as folder:
            pipeline = scratch_pipeline(folder, "benchmark")
            started = time.monotonic()
            with MemorySampler() as memory:
                result = run_sync(
                    pipeline,
                    [ApiKey(EMULATOR_KEY)],
                    api_base=url,
                    rate_limit=args.rate_limit,
                    show_progress=False,
                )
            wall = time.monotonic() - started
            steps = {step.step: step for step in pipeline.last_trace.steps}
            extract_start = steps["extract"].started_at.timestamp()
            extract_end = steps["extract"].finished_at.timestamp()
            extract = extract_end - extract_start
            peaks = {
                name: memory.peak(
                    steps[name].started_at.timestamp(), steps[name].finished_at.timestamp()
                )
                for name in ("extract", "normalize", "load")
            }
            after = wall - extract
            bound_pages = minimum_pages(pipeline)
    finally:
        emulator.terminate()
        emulator.wait()

    entries = result.report.rows()
    requests = sum(e.requests for e in entries) + 1
    retries = sum(e.retries for e in entries)
    rows = sum(e.rows for e in entries)
    lower_bound = bound_pages / args.rate_limit
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"exit code             {result.exit_code}")
    print(f"objects loaded        {rows:,}")
    print(f"requests              {requests:,} ({retries:,} retries), minimum {bound_pages:,}")
    print(
        f"requests/s extracting {requests / extract:.1f} of {args.rate_limit:g} "
        f"({100 * requests / extract / args.rate_limit:.0f}%)"
    )
    print(f"objects/s             {rows / wall:,.0f}")
    print(
        f"wall time             {wall:.1f}s; lower bound {lower_bound:.1f}s "
        f"({wall / lower_bound:.2f}x)"
    )
    print(f"extract               {extract:.1f}s; normalize + load {after:.1f}s")
    print(
        f"peak memory           {peak_mb:,.0f} MB; extracting {peaks['extract']:,.0f} MB, "
        f"normalizing {peaks['normalize']:,.0f} MB, loading {peaks['load']:,.0f} MB"
    )
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())

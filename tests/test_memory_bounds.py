"""What keeps a sync's memory from growing with the account: a bounded task queue per model,
bounded dlt write buffers, and a cap on DuckDB's memory."""

import threading
from concurrent.futures import ThreadPoolExecutor

import duckdb
from dlt.common.data_writers.buffered import BufferedDataWriter

from stripe_source.catalog import MODELS_BY_NAME
from stripe_source.emulator.runner import start_emulator
from stripe_source.fetch import ModelTask, TaskGroup
from stripe_source.keys import ApiKey
from stripe_source.runner import WRITE_BUFFER_ROWS, make_pipeline, run_sync


def test_tasks_past_the_queue_bound_run_on_the_submitting_thread():
    group = TaskGroup(max_queued=2)
    model = MODELS_BY_NAME["CustomerBalanceTransaction"]
    started, release = threading.Event(), threading.Event()
    ran_on: dict[str, int] = {}

    def task(name: str, wait: bool = False) -> ModelTask:
        def run() -> None:
            ran_on[name] = threading.get_ident()
            if wait:
                started.set()
                release.wait()

        return ModelTask(model, "acct_1", run)

    with ThreadPoolExecutor(1) as pool:
        group.submit(pool, task("blocker", wait=True))
        started.wait()
        group.submit(pool, task("queued 1"), may_run_here=True)
        group.submit(pool, task("queued 2"), may_run_here=True)
        group.submit(pool, task("over the bound"), may_run_here=True)
        release.set()
        assert list(group.results()) == []

    worker = ran_on["blocker"]
    assert ran_on["queued 1"] == ran_on["queued 2"] == worker
    assert ran_on["over the bound"] == threading.get_ident() != worker


def test_dlts_writers_buffer_a_bounded_number_of_rows_in_every_step(tmp_path, monkeypatch):
    """Watches the writers dlt builds during a real sync (their behaviour is left unchanged)."""
    built: set[tuple[str, int]] = set()
    build = BufferedDataWriter.__init__

    def watch(writer, *args, **kwargs):
        build(writer, *args, **kwargs)
        built.add((writer.writer_spec.file_format, writer.buffer_max_items))

    monkeypatch.setattr(BufferedDataWriter, "__init__", watch)
    pipeline = make_pipeline(
        "duckdb", "stripe", duckdb_file=tmp_path / "s.duckdb", pipelines_dir=tmp_path / "p"
    )
    with start_emulator(objects=200) as emulator:
        run_sync(
            pipeline, [ApiKey(emulator.secret_key)], api_base=emulator.url, show_progress=False
        )

    formats = {file_format for file_format, _ in built}
    assert {"typed-jsonl", "parquet"} <= formats  # extracted files, then normalized ones
    assert {rows for _, rows in built} == {WRITE_BUFFER_ROWS}


def test_duckdb_gets_the_configured_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__STRIPE_SOURCE__DUCKDB_MEMORY_LIMIT", "300MB")
    pipeline = make_pipeline(
        "duckdb",
        "stripe",
        duckdb_file=tmp_path / "stripe_sync.duckdb",
        pipelines_dir=tmp_path / "pipelines",
    )

    with pipeline.sql_client() as client:
        [(limit,)] = client.execute_sql("select current_setting('memory_limit')")
    with duckdb.connect() as reference:
        reference.execute("set memory_limit = '300MB'")
        [(expected,)] = reference.execute("select current_setting('memory_limit')").fetchall()
    assert limit == expected

"""Fixtures shared by the end-to-end tests: emulators, destinations and isolated pipelines.

Every pipeline gets its own folder and database (DuckDB file or PostgreSQL schema), so tests never
see each other's state. PostgreSQL is found through STRIPE_SOURCE_TEST_POSTGRES; without a server
those tests skip, except under CI=true where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dlt
import psycopg2
import pytest

from stripe_source.emulator.runner import RunningEmulator, start_emulator
from stripe_source.runner import make_pipeline

POSTGRES_URL = os.environ.get(
    "STRIPE_SOURCE_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/test"
)
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def _postgres_available() -> str | None:
    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        return str(error).strip().splitlines()[0]
    return None


@pytest.fixture(autouse=True)
def _isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test runs in its own folder with no keys from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("SOURCES__STRIPE_SOURCE__API_KEYS", raising=False)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    yield


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def destination(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        problem = _postgres_available()
        if problem:
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL is required under CI and unreachable: {problem}")
            pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {problem}")
    return request.param


PipelineFactory = Callable[..., dlt.Pipeline]


@pytest.fixture
def make_test_pipeline(destination: str, tmp_path: Path) -> Iterator[PipelineFactory]:
    """Pipelines on the parametrized destination, each with its own dataset, dropped afterwards."""
    datasets: list[str] = []

    def factory(name: str = "stripe_test") -> dlt.Pipeline:
        dataset = f"stripe_{uuid.uuid4().hex[:10]}"
        datasets.append(dataset)
        return make_pipeline(
            destination,
            dataset,
            pipeline_name=name,
            duckdb_file=tmp_path / "stripe.duckdb",
            postgres_credentials=POSTGRES_URL,
            pipelines_dir=tmp_path / "pipelines",
        )

    yield factory

    if destination == "postgres":
        with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
            for dataset in datasets:
                cursor.execute(f"drop schema if exists {dataset}, {dataset}_staging cascade")


@pytest.fixture(scope="session")
def seeded_accounts() -> Iterator[RunningEmulator]:
    """Two seeded accounts, read-only for the tests that share them."""
    with start_emulator(seed=42, objects=3_000, accounts=2, now=NOW) as emulator:
        yield emulator


@pytest.fixture
def seeded_accounts_writable() -> Iterator[RunningEmulator]:
    """Two small accounts of their own, for tests that write to more than one account."""
    with start_emulator(seed=11, objects=800, accounts=2, now=NOW) as emulator:
        yield emulator


@pytest.fixture
def fresh_emulator() -> Iterator[RunningEmulator]:
    """A small account of its own, for tests that write to it or change its simulation."""
    with start_emulator(seed=7, objects=1_500, accounts=1, now=NOW) as emulator:
        yield emulator

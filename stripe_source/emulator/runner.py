"""Start the emulator inside the current process: a seeded store served from a background thread.

The server gets its own thread and event loop so a synchronous caller (a test, the CLI, a
benchmark) can talk to it with the blocking `stripe` SDK. The listening socket is bound before
seeding, so a port already in use fails at once instead of after the seed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Any

import stripe
from aiohttp import web

from stripe_source.emulator import billing
from stripe_source.emulator.keys import AccountKeys, account_keys
from stripe_source.emulator.limits import Simulation, SimulationConfig
from stripe_source.emulator.server import create_app
from stripe_source.emulator.store import Clock, Store

DEFAULT_OBJECTS = 10_000
# Requests still in flight (held by simulated latency, say) get this long to finish on stop.
STOP_TIMEOUT = 2.0


class RunningEmulator:
    """A started emulator: its address, its store (the ground truth) and its controls."""

    def __init__(
        self,
        store: Store,
        simulation: Simulation,
        sock: socket.socket,
    ) -> None:
        self.store = store
        self.simulation = simulation
        host, port = sock.getsockname()[:2]
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self._sock = sock
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="stripe-emulator", daemon=True)

    def start(self) -> RunningEmulator:
        self._thread.start()
        self._started.wait()
        if self._failure is not None:
            raise self._failure
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_site())
        except BaseException as error:  # handed to the starting thread, which re-raises it
            self._failure = error
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start_site(self) -> None:
        app = create_app(self.store, self.simulation)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=STOP_TIMEOUT
        )
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock, backlog=1024).start()

    def keys(self, account_number: int = 1) -> AccountKeys:
        """The keys of the account with this number (1 is the first platform account)."""
        for account in self.store.accounts.values():
            if account.number == account_number:
                return account_keys(account.id, account.number)
        numbers = sorted(a.number for a in self.store.accounts.values())
        raise KeyError(f"no account number {account_number}; the emulator has {numbers}")

    @property
    def secret_key(self) -> str:
        return self.keys(1).secret

    def client(self, api_key: str | None = None, **options: Any) -> stripe.StripeClient:
        """A `StripeClient` talking to this emulator (default: account 1's test secret key)."""
        return stripe.StripeClient(
            api_key or self.secret_key, base_addresses={"api": self.url}, **options
        )

    def config(self, **changes: Any) -> SimulationConfig:
        """Change latency, rate limits or the fault rate while serving; returns the settings."""
        return self.simulation.configure(**changes)

    def advance_clock(self, seconds: int, *, bill_renewals: bool = False) -> int:
        """Move the emulator's clock forward; with `bill_renewals`, every subscription period
        that ends on the way is billed as Stripe would (on the server's thread, like a write)."""
        if not bill_renewals:
            return self.store.clock.advance(seconds)

        async def bill() -> int:
            return billing.advance_clock(self.store, seconds)

        return asyncio.run_coroutine_threadsafe(bill(), self._loop).result(timeout=60)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; raises OSError (errno EADDRINUSE) when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def start_emulator(
    *,
    seed: int = 42,
    objects: int = DEFAULT_OBJECTS,
    accounts: int = 1,
    latency_ms: float = 0.0,
    rate_limit: float | None = None,
    per_endpoint_rate_limit: float | None = None,
    fault_rate: float = 0.0,
    now: int | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    store: Store | None = None,
) -> RunningEmulator:
    """Seed a store (unless one is given) and serve it on `host:port` (0: a free port).

    Raises:
        ConfigError: a simulation setting is out of range.
        OSError: the port cannot be bound (for example, it is in use).
    """
    config = SimulationConfig(
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        per_endpoint_rate_limit=per_endpoint_rate_limit,
        fault_rate=fault_rate,
    )
    sock = bind(host, port)
    try:
        if store is None:
            # Imported here so the HTTP layer can be used with hand-built stores on its own.
            from stripe_source.emulator.seed import seed_store

            store = Store(Clock(now))
            seed_store(store, seed=seed, objects=objects, accounts=accounts, now=now)
        emulator = RunningEmulator(store, Simulation(config, seed=seed), sock)
        return emulator.start()
    except BaseException:
        sock.close()
        raise

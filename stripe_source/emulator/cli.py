"""`stripe-sync emulator`: serve a seeded Stripe API emulator until Ctrl-C.

Exit codes: 0 after Ctrl-C; 2 for a setting out of range; 3 when the port is already taken.
"""

from __future__ import annotations

import argparse
import errno
import sys
import threading
from typing import Any

from stripe_source.emulator.keys import account_keys
from stripe_source.emulator.limits import ConfigError
from stripe_source.emulator.runner import DEFAULT_OBJECTS, RunningEmulator, start_emulator

DEFAULT_PORT = 12111
EXIT_OK, EXIT_BAD_INPUT, EXIT_PORT_TAKEN = 0, 2, 3
PROG = "stripe-sync emulator"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `emulator` command to a `stripe-sync` subparsers object."""
    parser = subparsers.add_parser(
        "emulator",
        help="serve a seeded local Stripe API emulator",
        description=(
            "Serve seeded Stripe accounts over Stripe's v1 API on a local port, for tests and "
            "demos. Point the stripe SDK at the printed address with the printed keys."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument(
        "--objects", type=int, default=DEFAULT_OBJECTS, help="objects to generate per account"
    )
    parser.add_argument("--accounts", type=int, default=1, help="platform accounts to generate")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every answer (±20%% jitter)"
    )
    parser.add_argument(
        "--rate-limit", type=float, metavar="RPS", help="requests per second per key"
    )
    parser.add_argument(
        "--per-endpoint-rate-limit",
        type=float,
        metavar="RPS",
        help="requests per second per key and endpoint",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="fraction of requests answered with a 500, a 503 or a dropped connection",
    )
    parser.set_defaults(handler=run)
    return parser


def bad_setting(args: argparse.Namespace) -> str | None:
    """The first setting out of range, described with its valid range and a fix."""
    if args.objects < 0:
        return f"--objects {args.objects} is negative; give 0 or more (e.g. --objects 10000)"
    if args.accounts < 1:
        return f"--accounts {args.accounts} is below 1; give 1 or more (e.g. --accounts 2)"
    if not 0 <= args.port <= 65535:
        return f"--port {args.port} is outside 0..65535; pick a free port (e.g. --port 12111)"
    if args.latency_ms < 0:
        return f"--latency-ms {args.latency_ms:g} is negative; give 0 or more (e.g. 300)"
    if not 0.0 <= args.fault_rate <= 1.0:
        return f"--fault-rate {args.fault_rate:g} is outside 0..1; give a fraction (e.g. 0.05)"
    for flag, value in (
        ("--rate-limit", args.rate_limit),
        ("--per-endpoint-rate-limit", args.per_endpoint_rate_limit),
    ):
        if value is not None and value <= 0:
            return f"{flag} {value:g} must be above 0 requests per second; e.g. {flag} 25"
    return None


def run(args: argparse.Namespace) -> int:
    problem = bad_setting(args)
    if problem is not None:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        emulator = start_emulator(
            seed=args.seed,
            objects=args.objects,
            accounts=args.accounts,
            latency_ms=args.latency_ms,
            rate_limit=args.rate_limit,
            per_endpoint_rate_limit=args.per_endpoint_rate_limit,
            fault_rate=args.fault_rate,
            host=args.host,
            port=args.port,
        )
    except ConfigError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(
                f"{PROG}: error: port {args.port} on {args.host} is already in use; stop what "
                "holds it or pick another with --port (0 picks a free one)",
                file=sys.stderr,
            )
            return EXIT_PORT_TAKEN
        print(
            f"{PROG}: error: cannot listen on {args.host}:{args.port} ({error.strerror}); "
            "check --host and --port",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("Stopped before serving.")
        return EXIT_OK

    with emulator:
        _announce(emulator, args)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopped.")
    return EXIT_OK


def _announce(emulator: RunningEmulator, args: argparse.Namespace) -> None:
    """Print where the emulator listens and the keys it accepts (its own test keys)."""
    print(
        f"Stripe API emulator listening on {emulator.url} "
        f"(seed {args.seed}, about {args.objects} objects per platform account)"
    )
    print(f"  use it with: stripe.StripeClient(key, base_addresses={{'api': '{emulator.url}'}})")
    for account in emulator.store.accounts.values():
        keys = account_keys(account.id, account.number)
        if account.platform is not None:
            print(f"  {account.id}: connected to {account.platform}; read it with its")
            print(f"    platform's key and Stripe-Account: {account.id}, or with {keys.secret}")
            continue
        print(f"  {account.id}:")
        print(f"    secret key      {keys.secret}")
        print(f"    live key        {keys.live}")
        print(f"    restricted key  {keys.restricted} (no payouts, issuing, identity; read-only)")
    print(f"  control: {emulator.url}/_emulator/state, /_emulator/metrics, /_emulator/config")
    print("Press Ctrl-C to stop.", flush=True)

"""Simulated rate limits, faults and latency as the SDK sees them, and the control endpoints."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import stripe

from stripe_source.emulator.runner import RunningEmulator

PLATFORM = "acct_1Platform0000001"


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def metrics(emulator: RunningEmulator) -> dict[str, Any]:
    return requests.get(f"{emulator.url}/_emulator/metrics", timeout=5).json()


def test_over_the_key_rate_limit_the_sdk_raises_rate_limit_error_with_stripes_body(
    small_emulator: RunningEmulator,
):
    # The SDK does not retry Stripe's rate-limit 429s, even with retries switched on.
    client = small_emulator.client(max_network_retries=2)
    small_emulator.config(rate_limit=2)
    client.v1.customers.list()
    client.v1.customers.list()

    error = error_of(lambda: client.v1.customers.list())

    assert isinstance(error, stripe.RateLimitError)
    assert error.http_status == 429
    assert error.json_body == {
        "error": {
            "code": "rate_limit",
            "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
            "message": (
                "Testmode request rate limit exceeded, the rate limits in testmode are lower "
                "than livemode. You can learn more about rate limits here "
                "https://stripe.com/docs/rate-limits."
            ),
            "type": "invalid_request_error",
        }
    }
    assert error.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
    assert "Stripe-Should-Retry" not in error.headers
    assert metrics(small_emulator)["rate_limited"] == 1


def test_a_live_key_is_told_about_the_live_rate_limit(small_emulator: RunningEmulator):
    client = small_emulator.client(small_emulator.keys(1).live, max_network_retries=0)
    small_emulator.config(rate_limit=1)
    client.v1.customers.list()

    error = error_of(lambda: client.v1.customers.list())

    assert error.user_message == (
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits."
    )


def test_the_rate_limit_refills_with_time(small_emulator: RunningEmulator):
    client = small_emulator.client(max_network_retries=0)
    small_emulator.config(rate_limit=20)
    for _ in range(20):
        client.v1.customers.list(params={"limit": 1})

    time.sleep(0.15)

    assert len(client.v1.customers.list(params={"limit": 1}).data) == 1


def test_the_per_endpoint_limit_counts_each_route_separately(small_emulator: RunningEmulator):
    client = small_emulator.client(max_network_retries=0)
    small_emulator.config(per_endpoint_rate_limit=1)
    client.v1.customers.list()
    client.v1.customers.retrieve("cus_small001")

    error = error_of(lambda: client.v1.customers.retrieve("cus_small002"))

    assert isinstance(error, stripe.RateLimitError)
    assert error.headers["Stripe-Rate-Limited-Reason"] == "endpoint-rate"
    assert len(client.v1.prices.list().data) == 3


def test_sdk_retries_survive_injected_faults(
    small_emulator: RunningEmulator, retrying_client: stripe.StripeClient
):
    small_emulator.config(fault_rate=0.4)

    pages = [retrying_client.v1.customers.list(params={"limit": 5}) for _ in range(25)]

    counts = metrics(small_emulator)
    assert all(len(page.data) == 5 for page in pages)
    assert counts["faults"] > 0
    assert set(counts["faults_by_kind"]) <= {"api_error", "unavailable", "dropped_connection"}
    assert counts["by_endpoint"]["GET /v1/customers"]["200"] == 25


def test_every_kind_of_fault_reaches_a_client_without_retries(small_emulator: RunningEmulator):
    client = small_emulator.client(max_network_retries=0)
    small_emulator.config(fault_rate=1.0)

    errors = [error_of(lambda: client.v1.customers.list()) for _ in range(30)]

    statuses = {getattr(e, "http_status", None) for e in errors}
    assert statuses == {500, 503, None}
    assert any(isinstance(e, stripe.APIConnectionError) for e in errors)
    server_error = next(e for e in errors if e.http_status == 500)
    assert server_error.json_body["error"]["type"] == "api_error"


def test_latency_holds_many_requests_at_once_instead_of_queueing_them(
    small_emulator: RunningEmulator,
):
    small_emulator.config(latency_ms=300)
    url = f"{small_emulator.url}/v1/customers/cus_small001"
    headers = {"Authorization": f"Bearer {small_emulator.secret_key}"}

    def fetch(_: int) -> float:
        start = time.monotonic()
        assert requests.get(url, headers=headers, timeout=10).status_code == 200
        return time.monotonic() - start

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        durations = list(pool.map(fetch, range(40)))
    elapsed = time.monotonic() - started

    assert min(durations) >= 0.3 * 0.8 - 0.01
    assert elapsed < 2.0


def test_metrics_count_requests_by_route_and_status_and_can_be_reset(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    client.v1.customers.list()
    client.v1.customers.retrieve("cus_small001")
    error_of(lambda: client.v1.customers.retrieve("cus_nobody"))

    counts = metrics(small_emulator)
    reset = requests.post(f"{small_emulator.url}/_emulator/metrics/reset", timeout=5).json()

    assert counts["requests"] == 3
    assert counts["by_endpoint"] == {
        "GET /v1/customers": {"200": 1},
        "GET /v1/customers/{id}": {"200": 1, "404": 1},
    }
    assert reset["requests"] == 0


def test_the_state_endpoint_is_the_stores_ground_truth(small_emulator: RunningEmulator):
    store = small_emulator.store

    every = requests.get(f"{small_emulator.url}/_emulator/state", timeout=5).json()
    narrowed = requests.get(
        f"{small_emulator.url}/_emulator/state",
        params={"account": PLATFORM, "model": "Price"},
        timeout=5,
    ).json()

    assert set(every["accounts"]) == set(store.accounts)
    assert every["accounts"][PLATFORM] == store.state(store.accounts[PLATFORM])
    assert narrowed == {
        "accounts": {PLATFORM: {"Price": store.state(store.accounts[PLATFORM])["Price"]}}
    }


def test_the_keys_endpoint_lists_every_account_with_its_keys(small_emulator: RunningEmulator):
    answer = requests.get(f"{small_emulator.url}/_emulator/keys", timeout=5).json()

    first = answer["accounts"][0]
    assert len(answer["accounts"]) == len(small_emulator.store.accounts)
    assert first == {
        "id": PLATFORM,
        "number": 1,
        "platform": None,
        "secret_key": small_emulator.keys(1).secret,
        "live_key": small_emulator.keys(1).live,
        "restricted_key": small_emulator.keys(1).restricted,
    }


def test_the_clock_advances_by_the_seconds_given_as_json_or_form(small_emulator: RunningEmulator):
    before = small_emulator.store.clock.now()

    by_json = requests.post(
        f"{small_emulator.url}/_emulator/clock/advance", json={"seconds": 3600}, timeout=5
    ).json()
    by_form = requests.post(
        f"{small_emulator.url}/_emulator/clock/advance", data={"seconds": "60"}, timeout=5
    ).json()

    assert before + 3600 <= by_json["now"] <= before + 3602
    assert by_form["now"] - by_json["now"] in (60, 61)


def test_the_config_endpoint_changes_settings_and_refuses_bad_values(
    small_emulator: RunningEmulator,
):
    url = f"{small_emulator.url}/_emulator/config"

    changed = requests.post(url, json={"latency_ms": 5, "rate_limit": 50}, timeout=5)
    refused = requests.post(url, json={"fault_rate": 2}, timeout=5)

    assert changed.json() == {
        "latency_ms": 5,
        "rate_limit": 50,
        "per_endpoint_rate_limit": None,
        "fault_rate": 0.0,
    }
    assert refused.status_code == 400
    assert "fault_rate 2 is outside 0..1" in refused.json()["error"]["message"]
    assert small_emulator.simulation.config.fault_rate == 0.0

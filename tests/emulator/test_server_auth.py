"""Keys, modes, restricted permissions and Connect's `Stripe-Account`, answered as Stripe does."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from stripe_source.emulator.runner import RunningEmulator
from stripe_source.emulator.store import API_VERSION

PLATFORM = "acct_1Platform0000001"
CONNECTED = "acct_1Connected000002"
STRANGER = "acct_1Stranger0000003"


def error_of(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as raised:
        call()
    return raised.value


def test_each_account_has_deterministic_keys_from_its_number(small_emulator: RunningEmulator):
    keys = small_emulator.keys(1)

    assert keys.account_id == PLATFORM
    assert keys.secret == "sk_test_emulator000000000000000000000001"
    assert keys.live == "sk_live_emulator000000000000000000000001"
    assert keys.restricted == "rk_test_emulator000000000000000000000001"


def test_an_unknown_key_is_a_401_showing_only_its_masked_tail(small_emulator: RunningEmulator):
    client = small_emulator.client("sk_test_notakey0000abcd", max_network_retries=0)

    error = error_of(lambda: client.v1.customers.list())

    assert isinstance(error, stripe.AuthenticationError)
    assert error.http_status == 401
    assert error.json_body == {
        "error": {
            "message": "Invalid API Key provided: sk_test_***********abcd",
            "type": "invalid_request_error",
        }
    }


def test_a_request_without_a_key_is_a_401(small_emulator: RunningEmulator):
    response = requests.get(f"{small_emulator.url}/v1/customers", timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You did not provide an API key.")


def test_http_basic_auth_with_the_key_as_username_is_accepted(small_emulator: RunningEmulator):
    response = requests.get(
        f"{small_emulator.url}/v1/customers", auth=(small_emulator.secret_key, ""), timeout=5
    )

    assert response.status_code == 200
    assert response.headers["Request-Id"].startswith("req_")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Stripe-Version"] == API_VERSION


def test_any_stripe_version_is_accepted_and_answered_in_the_pinned_shape(
    small_emulator: RunningEmulator,
):
    response = requests.get(
        f"{small_emulator.url}/v1/customers/cus_small001",
        headers={
            "Authorization": f"Bearer {small_emulator.secret_key}",
            "Stripe-Version": "2019-02-19",
        },
        timeout=5,
    )

    assert response.status_code == 200
    assert response.headers["Stripe-Version"] == API_VERSION


def test_test_keys_see_livemode_false_and_live_keys_livemode_true(small_emulator: RunningEmulator):
    test_client = small_emulator.client(max_network_retries=0)
    live_client = small_emulator.client(small_emulator.keys(1).live, max_network_retries=0)

    test_page = test_client.v1.customers.list(params={"limit": 100})
    live_page = live_client.v1.customers.list(params={"limit": 100})
    live_invoice = live_client.v1.invoices.retrieve("in_small")

    assert {c.livemode for c in test_page.data} == {False}
    assert {c.livemode for c in live_page.data} == {True}
    assert live_invoice.livemode is True
    assert {line.livemode for line in live_invoice.lines.data} == {True}


def test_a_restricted_key_reads_what_it_is_granted(small_emulator: RunningEmulator):
    client = small_emulator.client(small_emulator.keys(1).restricted, max_network_retries=0)

    assert len(client.v1.customers.list().data) == 10


def test_a_restricted_key_gets_stripes_403_for_a_resource_it_lacks(
    small_emulator: RunningEmulator,
):
    client = small_emulator.client(small_emulator.keys(1).restricted, max_network_retries=0)

    error = error_of(lambda: client.v1.payouts.list())

    assert isinstance(error, stripe.PermissionError)
    assert error.http_status == 403
    assert error.json_body == {
        "error": {
            "message": (
                "The provided key 'rk_test_**************************000001' does not have the "
                f"required permissions for this endpoint on account '{PLATFORM}'. Having the "
                "'rak_payout_read' permission would allow this request to continue."
            ),
            "type": "invalid_request_error",
        }
    }


def test_a_restricted_key_cannot_write(small_emulator: RunningEmulator):
    client = small_emulator.client(small_emulator.keys(1).restricted, max_network_retries=0)

    error = error_of(lambda: client.v1.customers.create(params={"email": "x@example.com"}))

    assert error.http_status == 403
    assert "'rak_customer_write'" in error.user_message


def test_the_own_account_is_answered_with_sdk_account_fields(
    small_emulator: RunningEmulator, client: stripe.StripeClient
):
    account = client.v1.accounts.retrieve_current()

    assert account.id == PLATFORM
    assert account.object == "account"
    assert set(account.to_dict()) <= set(stripe.Account.__annotations__)


def test_connected_accounts_are_listed_for_the_platform(client: stripe.StripeClient):
    accounts = client.v1.accounts.list()

    assert [a.id for a in accounts.data] == [CONNECTED]
    assert accounts.data[0].external_accounts.url == f"/v1/accounts/{CONNECTED}/external_accounts"


def test_the_stripe_account_header_reads_a_connected_accounts_own_data(
    small_emulator: RunningEmulator,
):
    connected = small_emulator.client(stripe_account=CONNECTED, max_network_retries=0)

    customers = connected.v1.customers.list()
    account = connected.v1.accounts.retrieve_current()

    assert [c.id for c in customers.data] == ["cus_connected0", "cus_connected1", "cus_connected2"]
    assert account.id == CONNECTED
    assert account.country == "FR"


def test_naming_the_keys_own_account_in_stripe_account_is_accepted(
    small_emulator: RunningEmulator,
):
    own = small_emulator.client(stripe_account=PLATFORM, max_network_retries=0)

    assert own.v1.customers.retrieve("cus_small001").id == "cus_small001"


def test_an_account_that_is_not_connected_to_the_key_is_a_403_account_invalid(
    small_emulator: RunningEmulator,
):
    stranger = small_emulator.client(stripe_account=STRANGER, max_network_retries=0)

    error = error_of(lambda: stranger.v1.customers.list())

    assert isinstance(error, stripe.PermissionError)
    assert error.http_status == 403
    assert error.json_body["error"]["code"] == "account_invalid"
    assert STRANGER in error.user_message


def test_an_unrecognized_url_is_stripes_404(client: stripe.StripeClient):
    error = error_of(lambda: client.raw_request("get", "/v1/nowhere"))

    assert error.http_status == 404
    assert error.user_message == (
        "Unrecognized request URL (GET: /v1/nowhere). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/."
    )

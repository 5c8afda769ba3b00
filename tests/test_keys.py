"""Keys are shown masked everywhere and classified by mode."""

import pytest

from stripe_source.config import BadInputError, choose_keys
from stripe_source.keys import ApiKey, BadKeyError, mask_key, parse_key

TEST_KEY = "sk_test_emulator000000000000000000000001"
LIVE_KEY = "sk_live_emulator000000000000000000000002"


def test_a_masked_key_keeps_only_its_prefix_and_last_four_characters():
    assert mask_key(TEST_KEY) == "sk_test_…0001"
    assert mask_key("rk_live_abcdefghijklmnopqrstuvwx") == "rk_live_…uvwx"


def test_an_api_key_never_shows_its_secret_in_repr_or_str():
    key = ApiKey(TEST_KEY)
    assert TEST_KEY not in repr(key)
    assert str(key) == "sk_test_…0001"


def test_live_keys_get_stripes_live_mode_budget_and_test_keys_the_test_budget():
    assert parse_key(LIVE_KEY).default_rate == 100
    assert parse_key(TEST_KEY).default_rate == 25


def test_a_value_that_is_not_a_stripe_key_is_rejected_without_echoing_it():
    with pytest.raises(BadKeyError) as raised:
        parse_key("pk_test_notasecretkeyatall1234")
    assert "pk_test_notasecretkeyatall1234" not in str(raised.value)


def test_choosing_an_unconfigured_key_names_it_masked_and_lists_the_configured_ones():
    configured = [ApiKey(TEST_KEY)]
    with pytest.raises(BadInputError) as raised:
        choose_keys(configured, [LIVE_KEY])
    message = str(raised.value)
    assert "sk_live_…0002" in message and "sk_test_…0001" in message
    assert LIVE_KEY not in message and TEST_KEY not in message


def test_choosing_keys_by_full_key_keeps_only_those():
    configured = [ApiKey(TEST_KEY), ApiKey(LIVE_KEY)]
    assert choose_keys(configured, [LIVE_KEY]) == [ApiKey(LIVE_KEY)]

"""API keys: which account and mode each belongs to, and how to show one without leaking it."""

from __future__ import annotations

from dataclasses import dataclass, field

KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
TEST_MODE_RATE = 25.0
LIVE_MODE_RATE = 100.0


def mask_key(key: str) -> str:
    """`sk_test_…abcd`: enough to tell keys apart in logs, useless to an attacker."""
    prefix = next((p for p in KEY_PREFIXES if key.startswith(p)), "")
    return f"{prefix}…{key[-4:]}" if len(key) > len(prefix) + 4 else f"{prefix}…"


@dataclass(frozen=True)
class ApiKey:
    """A secret key whose repr never shows the secret, so it cannot leak through a traceback."""

    secret: str = field(repr=False)

    @property
    def masked(self) -> str:
        return mask_key(self.secret)

    @property
    def livemode(self) -> bool:
        return "_live_" in self.secret[:8]

    @property
    def default_rate(self) -> float:
        """Stripe's documented budget: 100 requests/s in live mode, 25/s in test mode."""
        return LIVE_MODE_RATE if self.livemode else TEST_MODE_RATE

    def __str__(self) -> str:
        return self.masked


class BadKeyError(ValueError):
    """A key that does not have Stripe's shape, or was not configured."""


def parse_key(text: str) -> ApiKey:
    key = text.strip()
    if not key.startswith(KEY_PREFIXES) or len(key) < 20:
        raise BadKeyError(
            f"API key {mask_key(key)!s} is not a Stripe secret or restricted key; "
            f"expected one starting with {', '.join(KEY_PREFIXES)}"
        )
    return ApiKey(key)

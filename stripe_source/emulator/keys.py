"""API keys of the emulated accounts and what each key may read.

Every account gets three deterministic keys derived from its number, so tests and the CLI can
print them without a lookup: a test secret key, a live secret key and a restricted test key.
Stripe answers live keys with `livemode: true` on every object and restricted keys with a 403
for resources their permissions leave out; the emulator does the same.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from stripe_source.catalog import Model
from stripe_source.emulator.store import Store

KEY_DIGITS = 24
KEY_INFIX = "emulator"

# Resource groups a restricted key cannot read: enough to exercise a sync's handling of 403s
# while leaving the common models (customers, invoices, charges, ...) readable.
RESTRICTED_KEY_DENIES = frozenset({"payouts", "issuing", "identity"})


@dataclass(frozen=True)
class AccountKeys:
    """The keys one emulated account accepts."""

    account_id: str
    number: int
    secret: str
    live: str
    restricted: str


@dataclass(frozen=True)
class ApiKey:
    """One accepted key: whose it is, which mode it speaks and what it may do.

    Restricted keys are read-only, like a restricted key created with "Read" on every resource,
    and cannot read the groups in `RESTRICTED_KEY_DENIES` at all.
    """

    secret: str
    account_id: str
    livemode: bool
    restricted: bool

    def can_read(self, permission: str) -> bool:
        return not (self.restricted and permission in RESTRICTED_KEY_DENIES)

    def can_write(self, permission: str) -> bool:
        return not self.restricted


def account_keys(account_id: str, number: int) -> AccountKeys:
    tail = f"{KEY_INFIX}{number:0{KEY_DIGITS}d}"
    return AccountKeys(
        account_id=account_id,
        number=number,
        secret=f"sk_test_{tail}",
        live=f"sk_live_{tail}",
        restricted=f"rk_test_{tail}",
    )


class KeyRing:
    """Looks up the key a request presents among the keys of every account in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._keys: dict[str, ApiKey] = {}
        self._known_accounts = -1

    def find(self, secret: str) -> ApiKey | None:
        if len(self._store.accounts) != self._known_accounts:
            self._rebuild()
        return self._keys.get(secret)

    def all_keys(self) -> list[AccountKeys]:
        return [account_keys(a.id, a.number) for a in self._store.accounts.values()]

    def _rebuild(self) -> None:
        keys: dict[str, ApiKey] = {}
        for account in list(self._store.accounts.values()):
            tail = account_keys(account.id, account.number)
            keys[tail.secret] = ApiKey(tail.secret, account.id, livemode=False, restricted=False)
            keys[tail.live] = ApiKey(tail.live, account.id, livemode=True, restricted=False)
            keys[tail.restricted] = ApiKey(
                tail.restricted, account.id, livemode=False, restricted=True
            )
        self._keys = keys
        self._known_accounts = len(self._store.accounts)


def secret_from_authorization(header: str | None) -> str | None:
    """The key of an `Authorization` header: Bearer, or HTTP basic with the key as username."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def mask_key(secret: str, visible: int = 4) -> str:
    """Stripe's rendering of a key in error messages: its prefix, stars, and the last characters."""
    prefix_end = secret.find("_", secret.find("_") + 1) + 1
    if prefix_end <= 0 or len(secret) <= prefix_end + visible:
        prefix_end = 0
    hidden = max(0, len(secret) - prefix_end - visible)
    return secret[:prefix_end] + "*" * hidden + secret[prefix_end + hidden :]


def permission_name(model: Model, write: bool = False) -> str:
    """The restricted-key permission Stripe names in a 403, such as `rak_payout_read`."""
    resource = model.object.replace(".", "_")
    return f"rak_{resource}_{'write' if write else 'read'}"

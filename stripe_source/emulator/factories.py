"""Builders of Stripe objects for the emulator: one `build_<model>` per catalog model.

Each builder returns a new dict shaped like the object Stripe returns at API version
`2026-10-28.endive`: every top-level key is a field the pinned SDK annotates on the class for the
object's `object` type, so the emulator cannot drift from the real schema unnoticed
(`tests/emulator/test_seed.py` checks this against the SDK). Builders take what a caller decides
(references, amounts, statuses, times) as keyword arguments and draw only incidental values
(fingerprints, last4, secrets) from the account's random generator, so the seeder and the HTTP
write endpoints build objects the same way.

Builders leave out a parent's embedded sub-lists (invoice `lines`, subscription `items`, ...):
they hold stored children, so `Store.refresh_embedded` fills them once the parent and its children
are stored. Sub-dicts of constants are shared between objects to keep a large seeded account
small; like every stored object they must never be mutated.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from typing import Any

from stripe_source.emulator.store import API_VERSION

Obj = dict[str, Any]

ALPHANUMERIC = string.ascii_letters + string.digits
UPPERCASE = string.ascii_uppercase + string.digits
DIGITS = string.digits


def _byte_table(alphabet: str) -> bytes:
    """Maps every byte to a character of `alphabet`, so random bytes become a random string.

    Seeding draws hundreds of thousands of ids; translating `randbytes` is several times faster
    than choosing characters one by one. The slight bias toward the first characters is harmless.
    """
    return bytes(ord(alphabet[byte % len(alphabet)]) for byte in range(256))


ALPHANUMERIC_BYTES = _byte_table(ALPHANUMERIC)
UPPERCASE_BYTES = _byte_table(UPPERCASE)
DIGIT_BYTES = _byte_table(DIGITS)
CURRENCY = "usd"
DAY = 24 * 3600

CARD_BRANDS = ("visa", "visa", "visa", "visa", "mastercard", "mastercard", "amex", "discover")
CARD_COUNTRIES = ("US", "US", "US", "US", "GB", "CA", "DE", "FR")
CARD_FUNDING = ("credit", "credit", "debit", "debit", "prepaid")
DECLINES = (
    ("card_declined", "generic_decline", "Your card was declined."),
    ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "expired_card", "Your card has expired."),
    ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
)


def stripe_fee(amount: int) -> int:
    """Stripe's standard US card pricing: 2.9% + 30 cents, in minor units."""
    return round(amount * 0.029) + 30 if amount > 0 else 0


def with_changes(obj: Obj, **changes: Any) -> tuple[Obj, Obj]:
    """A new version of `obj` and the `previous_attributes` an `*.updated` event carries.

    Only keys whose value really changes appear in `previous_attributes`, as on Stripe.
    """
    previous = {key: obj.get(key) for key, value in changes.items() if obj.get(key) != value}
    return {**obj, **changes}, previous


class Ids:
    """Stripe-shaped ids and other random strings for one account.

    A Stripe id is a type prefix and an opaque tail. The tail here carries the account number, so
    two accounts never share an id, and the factory remembers what it issued, so one account never
    repeats one. Code that creates objects after seeding passes `taken` (for example "is this id
    stored or deleted in the account") so its ids avoid the seeded ones as well.
    """

    def __init__(
        self,
        account_id: str,
        account_number: int,
        rng: random.Random,
        taken: Callable[[str], bool] | None = None,
    ) -> None:
        self.account = account_id
        self.rng = rng
        self._tag = "E" + _base62(account_number).rjust(4, "0")
        self._taken = taken
        self._issued: set[str] = set()

    def new(self, prefix: str) -> str:
        while True:
            random_part = self.token(18)
            candidate = f"{prefix}_1{random_part[:3]}{self._tag}{random_part[3:]}"
            if candidate not in self._issued and not (self._taken and self._taken(candidate)):
                self._issued.add(candidate)
                return candidate

    def code(self, length: int = 8) -> str:
        """An uppercase code, unique in the account (coupon ids, promotion codes)."""
        while True:
            candidate = self.rng.randbytes(length).translate(UPPERCASE_BYTES).decode()
            if candidate not in self._issued and not (self._taken and self._taken(candidate)):
                self._issued.add(candidate)
                return candidate

    def token(self, length: int) -> str:
        return self.rng.randbytes(length).translate(ALPHANUMERIC_BYTES).decode()

    def digits(self, length: int) -> str:
        return self.rng.randbytes(length).translate(DIGIT_BYTES).decode()

    def secret(self, obj_id: str) -> str:
        """A `client_secret`: the object id, `_secret_`, and a random tail, as Stripe forms it."""
        return f"{obj_id}_secret_{self.token(24)}"


def _base62(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 62)
        text = ALPHANUMERIC[digit] + text
        if number == 0:
            return text


# Shared constant sub-objects (never mutated).

NO_ADDRESS: Obj = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}
ISSUER_SELF: Obj = {"account": None, "type": "self"}
AUTOMATIC_TAX_OFF: Obj = {
    "disabled_reason": None,
    "enabled": False,
    "liability": None,
    "provider": None,
    "status": None,
}
QUOTE_AUTOMATIC_TAX_OFF: Obj = {
    "enabled": False,
    "liability": None,
    "provider": None,
    "status": None,
}
SUBSCRIPTION_AUTOMATIC_TAX_OFF: Obj = {"disabled_reason": None, "enabled": False, "liability": None}
LINK_AUTOMATIC_TAX_OFF: Obj = {"enabled": False, "liability": None}
INVOICE_PAYMENT_SETTINGS: Obj = {
    "default_mandate": None,
    "payment_method_options": None,
    "payment_method_types": None,
}
SUBSCRIPTION_PAYMENT_SETTINGS: Obj = {
    "payment_method_options": None,
    "payment_method_types": None,
    "save_default_payment_method": "off",
}
INVOICE_RENDERING: Obj = {
    "amount_tax_display": None,
    "pdf": {"page_size": "letter"},
    "template": None,
    "template_version": None,
}
SUBSCRIPTION_INVOICE_SETTINGS: Obj = {
    "account_tax_ids": None,
    "custom_fields": None,
    "description": None,
    "footer": None,
    "issuer": ISSUER_SELF,
}
CUSTOMER_INVOICE_SETTINGS: Obj = {
    "custom_fields": None,
    "default_payment_method": None,
    "footer": None,
    "rendering_options": None,
}
CANCELLATION_NONE: Obj = {"comment": None, "feedback": None, "reason": None}
BILLING_MODE_CLASSIC: Obj = {"flexible": None, "type": "classic", "updated_at": None}
TOTAL_DETAILS_NONE: Obj = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
CARD_CHECKS_PASS: Obj = {
    "address_line1_check": "pass",
    "address_postal_code_check": "pass",
    "cvc_check": "pass",
}
ACCOUNT_CAPABILITIES_ACTIVE: Obj = {"card_payments": "active", "transfers": "active"}
ACCOUNT_REQUIREMENTS_NONE: Obj = {
    "alternatives": [],
    "current_deadline": None,
    "currently_due": [],
    "disabled_reason": None,
    "errors": [],
    "eventually_due": [],
    "past_due": [],
    "pending_verification": [],
}
NO_FRAUD_DETAILS: Obj = {}
SPENDING_CONTROLS_NONE: Obj = {
    "allowed_categories": None,
    "blocked_categories": None,
    "spending_limits": [],
    "spending_limits_currency": None,
}


CITIES = (
    ("San Francisco", "CA", "941"),
    ("New York", "NY", "100"),
    ("Austin", "TX", "787"),
    ("Seattle", "WA", "981"),
    ("Chicago", "IL", "606"),
    ("Denver", "CO", "802"),
    ("Boston", "MA", "021"),
    ("Miami", "FL", "331"),
    ("Portland", "OR", "972"),
    ("Atlanta", "GA", "303"),
)
STREETS = (
    "Market St",
    "Main St",
    "Oak Ave",
    "Pine St",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "2nd Ave",
    "Broadway",
    "Mission St",
)


def random_address(rng: random.Random) -> Obj:
    city, state, zip_prefix = rng.choice(CITIES)
    return {
        "city": city,
        "country": "US",
        "line1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "line2": None,
        "postal_code": f"{zip_prefix}{rng.randint(0, 99):02d}",
        "state": state,
    }


# Connect and balance


def build_account(
    ids: Ids,
    *,
    created: int,
    email: str,
    business_name: str,
    account_id: str | None = None,
    country: str = "US",
    type: str = "custom",
    charges_enabled: bool = True,
    payouts_enabled: bool = True,
) -> Obj:
    """A connected account as its platform sees it; `external_accounts` comes from the store."""
    return {
        "id": account_id or ids.new("acct"),
        "object": "account",
        "business_profile": {
            "mcc": "5734",
            "name": business_name,
            "product_description": None,
            "support_email": email,
            "support_phone": None,
            "support_url": None,
            "url": f"https://{business_name.lower().replace(' ', '')}.example.com",
        },
        "business_type": "company",
        "capabilities": ACCOUNT_CAPABILITIES_ACTIVE,
        "charges_enabled": charges_enabled,
        "country": country,
        "created": created,
        "default_currency": CURRENCY,
        "details_submitted": charges_enabled,
        "email": email,
        "metadata": {},
        "payouts_enabled": payouts_enabled,
        "requirements": ACCOUNT_REQUIREMENTS_NONE,
        "tos_acceptance": {"date": created, "ip": "203.0.113.7", "user_agent": None},
        "type": type,
    }


def build_person(
    ids: Ids,
    *,
    account: str,
    created: int,
    first_name: str,
    last_name: str,
    email: str,
    title: str,
    representative: bool = False,
    owner: bool = False,
    percent_ownership: float | None = None,
) -> Obj:
    return {
        "id": ids.new("person"),
        "object": "person",
        "account": account,
        "created": created,
        "dob": {"day": ids.rng.randint(1, 28), "month": ids.rng.randint(1, 12), "year": 1970},
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "metadata": {},
        "relationship": {
            "director": False,
            "executive": representative,
            "owner": owner,
            "percent_ownership": percent_ownership,
            "representative": representative,
            "title": title,
        },
        "ssn_last_4_provided": True,
        "verification": {
            "additional_document": None,
            "details": None,
            "details_code": None,
            "document": None,
            "status": "verified",
        },
    }


def build_external_account(
    ids: Ids,
    *,
    account: str,
    account_holder_name: str,
    bank_name: str,
    default_for_currency: bool,
    currency: str = CURRENCY,
) -> Obj:
    """A connected account's bank account (`ba_`); Stripe gives it no `created` field."""
    return {
        "id": ids.new("ba"),
        "object": "bank_account",
        "account": account,
        "account_holder_name": account_holder_name,
        "account_holder_type": "company",
        "account_type": "checking",
        "available_payout_methods": ["standard", "instant"],
        "bank_name": bank_name,
        "country": "US",
        "currency": currency,
        "default_for_currency": default_for_currency,
        "fingerprint": ids.token(16),
        "last4": ids.digits(4),
        "metadata": {},
        "routing_number": "110000000",
        "status": "new",
    }


def build_capability(*, account: str, name: str, requested_at: int, status: str = "active") -> Obj:
    """A capability of a connected account.

    Stripe's capability id is the bare name (`card_payments`), unique only within one account.
    The emulator stores a platform's objects in one table keyed by id, so the id here carries the
    connected account's id after the name to keep two accounts' capabilities apart.
    """
    return {
        "id": f"{name}_{account.removeprefix('acct_')}",
        "object": "capability",
        "account": account,
        "requested": True,
        "requested_at": requested_at,
        "requirements": ACCOUNT_REQUIREMENTS_NONE,
        "status": status,
    }


def build_application_fee(
    ids: Ids,
    *,
    account: str,
    charge: str,
    amount: int,
    balance_transaction: str,
    created: int,
    application: str,
    currency: str = CURRENCY,
) -> Obj:
    """A platform's fee on a connected account's charge; `refunds` comes from the store."""
    return {
        "id": ids.new("fee"),
        "object": "application_fee",
        "account": account,
        "amount": amount,
        "amount_refunded": 0,
        "application": application,
        "balance_transaction": balance_transaction,
        "charge": charge,
        "created": created,
        "currency": currency,
        "fee_source": {"charge": charge, "payout": None, "type": "charge"},
        "livemode": False,
        "originating_transaction": None,
        "refunded": False,
    }


def build_application_fee_refund(
    ids: Ids,
    *,
    fee: str,
    amount: int,
    balance_transaction: str,
    created: int,
    currency: str = CURRENCY,
) -> Obj:
    return {
        "id": ids.new("fr"),
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "fee": fee,
        "metadata": {},
    }


def build_transfer(
    ids: Ids,
    *,
    destination: str,
    amount: int,
    balance_transaction: str,
    created: int,
    destination_payment: str | None,
    description: str | None = None,
    transfer_group: str | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A transfer to a connected account; `reversals` comes from the store."""
    return {
        "id": ids.new("tr"),
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": destination_payment,
        "livemode": False,
        "metadata": {},
        "reversed": False,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": transfer_group,
    }


def build_transfer_reversal(
    ids: Ids,
    *,
    transfer: str,
    amount: int,
    balance_transaction: str,
    created: int,
    currency: str = CURRENCY,
) -> Obj:
    return {
        "id": ids.new("trr"),
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "destination_payment_refund": None,
        "metadata": {},
        "source_refund": None,
        "transfer": transfer,
    }


def build_balance_transaction(
    ids: Ids,
    *,
    source: str,
    amount: int,
    created: int,
    type: str,
    reporting_category: str,
    fee: int = 0,
    description: str | None = None,
    available_on: int | None = None,
    status: str = "available",
    currency: str = CURRENCY,
) -> Obj:
    """A movement of the account's balance.

    Card funds become available two days after the charge (`available_on`); until then the
    caller passes `status="pending"`.
    """
    available = created + 2 * DAY if available_on is None else available_on
    fee_details = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    return {
        "id": ids.new("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": status,
        "type": type,
    }


def build_payout(
    ids: Ids,
    *,
    amount: int,
    created: int,
    arrival_date: int,
    balance_transaction: str,
    destination: str | None,
    status: str = "pending",
    automatic: bool = True,
    method: str = "standard",
    currency: str = CURRENCY,
) -> Obj:
    return {
        "id": ids.new("po"),
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival_date,
        "automatic": automatic,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": destination,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": method,
        "original_payout": None,
        "reconciliation_status": "completed" if automatic else "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "type": "bank_account",
    }


def build_topup(
    ids: Ids,
    *,
    amount: int,
    created: int,
    balance_transaction: str | None,
    expected_availability_date: int,
    description: str | None = None,
    status: str = "pending",
    currency: str = CURRENCY,
) -> Obj:
    return {
        "id": ids.new("tu"),
        "object": "topup",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": description,
        "expected_availability_date": expected_availability_date,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "source": None,
        "statement_descriptor": None,
        "status": status,
        "transfer_group": None,
    }


# Customers and payment methods


def build_customer(
    ids: Ids,
    *,
    created: int,
    email: str | None,
    name: str | None,
    address: Obj | None = None,
    phone: str | None = None,
    description: str | None = None,
    default_payment_method: str | None = None,
    default_source: str | None = None,
    balance: int = 0,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """A customer; `sources`, `tax_ids` and `subscriptions` only appear when expanded."""
    invoice_settings = (
        {**CUSTOMER_INVOICE_SETTINGS, "default_payment_method": default_payment_method}
        if default_payment_method
        else CUSTOMER_INVOICE_SETTINGS
    )
    return {
        "id": ids.new("cus"),
        "object": "customer",
        "address": address,
        "balance": balance,
        "created": created,
        "currency": CURRENCY if balance else None,
        "default_source": default_source,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": ids.code(8),
        "invoice_settings": invoice_settings,
        "livemode": False,
        "metadata": metadata or {},
        "name": name,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def build_tax_id(
    ids: Ids, *, customer: str, created: int, type: str, value: str, country: str
) -> Obj:
    return {
        "id": ids.new("txi"),
        "object": "tax_id",
        "country": country,
        "created": created,
        "customer": customer,
        "livemode": False,
        "owner": {"account": None, "application": None, "customer": customer, "type": "customer"},
        "type": type,
        "value": value,
        "verification": {"status": "verified", "verified_address": None, "verified_name": None},
    }


def build_customer_balance_transaction(
    ids: Ids,
    *,
    customer: str,
    amount: int,
    ending_balance: int,
    created: int,
    type: str = "adjustment",
    description: str | None = None,
    invoice: str | None = None,
    credit_note: str | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A change of a customer's credit balance; negative amounts are credit to the customer."""
    return {
        "id": ids.new("cbtxn"),
        "object": "customer_balance_transaction",
        "amount": amount,
        "created": created,
        "credit_note": credit_note,
        "currency": currency,
        "customer": customer,
        "description": description,
        "ending_balance": ending_balance,
        "invoice": invoice,
        "livemode": False,
        "metadata": {},
        "type": type,
    }


def build_card(
    ids: Ids,
    *,
    customer: str,
    name: str | None,
    brand: str = "visa",
    exp_month: int = 12,
    exp_year: int = 2030,
    address: Obj | None = None,
) -> Obj:
    """A legacy card source saved on a customer; Stripe gives sources no `created` field."""
    address = address or NO_ADDRESS
    return {
        "id": ids.new("card"),
        "object": "card",
        "address_city": address["city"],
        "address_country": address["country"],
        "address_line1": address["line1"],
        "address_line1_check": "pass" if address["line1"] else None,
        "address_line2": address["line2"],
        "address_state": address["state"],
        "address_zip": address["postal_code"],
        "address_zip_check": "pass" if address["postal_code"] else None,
        "brand": _CARD_BRAND_NAMES[brand],
        "country": "US",
        "customer": customer,
        "cvc_check": "pass",
        "dynamic_last4": None,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": ids.token(16),
        "funding": ids.rng.choice(CARD_FUNDING),
        "last4": ids.digits(4),
        "metadata": {},
        "name": name,
        "tokenization_method": None,
    }


_CARD_BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "MasterCard",
    "amex": "American Express",
    "discover": "Discover",
}


def build_payment_method(
    ids: Ids,
    *,
    customer: str | None,
    created: int,
    name: str | None,
    email: str | None,
    address: Obj | None = None,
    brand: str = "visa",
    exp_month: int = 12,
    exp_year: int = 2030,
) -> Obj:
    rng = ids.rng
    return {
        "id": ids.new("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": address or NO_ADDRESS,
            "email": email,
            "name": name,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": brand,
            "checks": CARD_CHECKS_PASS,
            "country": rng.choice(CARD_COUNTRIES),
            "display_brand": brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": ids.token(16),
            "funding": rng.choice(CARD_FUNDING),
            "generated_from": None,
            "last4": ids.digits(4),
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def build_charge_card_details(payment_method: Obj) -> Obj:
    """`payment_method_details` of a charge made with a card payment method.

    Every charge on the same card shows the same details, so callers may build this once per
    payment method and share it between its charges.
    """
    card = payment_method["card"]
    return {
        "card": {
            "amount_authorized": None,
            "authorization_code": None,
            "brand": card["brand"],
            "checks": card["checks"],
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "installments": None,
            "last4": card["last4"],
            "mandate": None,
            "network": card["brand"],
            "three_d_secure": None,
            "wallet": None,
        },
        "type": "card",
    }


def build_setup_intent(
    ids: Ids,
    *,
    customer: str | None,
    created: int,
    payment_method: str | None,
    status: str = "requires_payment_method",
    latest_attempt: str | None = None,
    usage: str = "off_session",
    description: str | None = None,
) -> Obj:
    setup_intent_id = ids.new("seti")
    return {
        "id": setup_intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "cancellation_reason": None,
        "client_secret": ids.secret(setup_intent_id),
        "created": created,
        "customer": customer,
        "description": description,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": latest_attempt,
        "livemode": False,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": status,
        "usage": usage,
    }


def build_setup_attempt(
    ids: Ids,
    *,
    setup_intent: str,
    customer: str | None,
    payment_method: Obj,
    created: int,
    status: str = "succeeded",
    usage: str = "off_session",
) -> Obj:
    card = payment_method["card"]
    return {
        "id": ids.new("setatt"),
        "object": "setup_attempt",
        "application": None,
        "attach_to_self": False,
        "created": created,
        "customer": customer,
        "flow_directions": None,
        "livemode": False,
        "on_behalf_of": None,
        "payment_method": payment_method["id"],
        "payment_method_details": {
            "card": {
                "brand": card["brand"],
                "checks": card["checks"],
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "last4": card["last4"],
                "network": card["brand"],
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "setup_error": None,
        "setup_intent": setup_intent,
        "status": status,
        "usage": usage,
    }


# Catalog of things sold


def build_product(
    ids: Ids,
    *,
    created: int,
    name: str,
    description: str | None = None,
    tax_code: str | None = None,
    default_price: str | None = None,
    active: bool = True,
    unit_label: str | None = None,
    marketing_features: Sequence[str] = (),
) -> Obj:
    """A product. Products are among the few objects that carry `updated`."""
    return {
        "id": ids.new("prod"),
        "object": "product",
        "active": active,
        "created": created,
        "default_price": default_price,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [{"name": feature} for feature in marketing_features],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": tax_code,
        "type": "service",
        "unit_label": unit_label,
        "updated": created,
        "url": None,
    }


def build_product_feature(ids: Ids, *, feature: Obj) -> Obj:
    """A feature attached to a product; Stripe embeds the whole entitlement feature."""
    return {
        "id": ids.new("prodft"),
        "object": "product_feature",
        "entitlement_feature": feature,
        "livemode": False,
    }


def build_price(
    ids: Ids,
    *,
    product: str,
    created: int,
    unit_amount: int,
    interval: str | None = None,
    interval_count: int = 1,
    nickname: str | None = None,
    lookup_key: str | None = None,
    active: bool = True,
    trial_period_days: int | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A price; `interval=None` makes a one-time price, anything else a recurring one."""
    recurring = (
        {
            "interval": interval,
            "interval_count": interval_count,
            "meter": None,
            "trial_period_days": trial_period_days,
            "usage_type": "licensed",
        }
        if interval
        else None
    )
    return {
        "id": ids.new("price"),
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": {},
        "nickname": nickname,
        "product": product,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if interval else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def build_plan(
    ids: Ids,
    *,
    product: str,
    created: int,
    amount: int,
    interval: str,
    interval_count: int = 1,
    nickname: str | None = None,
    active: bool = True,
    trial_period_days: int | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A legacy plan made through `/v1/plans`; like prices, plans get `price_` ids."""
    return {
        "id": ids.new("price"),
        "object": "plan",
        "active": active,
        "amount": amount,
        "amount_decimal": str(amount),
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "interval": interval,
        "interval_count": interval_count,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": nickname,
        "product": product,
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": trial_period_days,
        "usage_type": "licensed",
    }


def plan_of_price(price: Obj) -> Obj:
    """The `plan` Stripe shows beside a recurring price on subscription items: the same id."""
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": recurring["trial_period_days"],
        "usage_type": recurring["usage_type"],
    }


def build_coupon(
    ids: Ids,
    *,
    created: int,
    name: str,
    percent_off: float | None = None,
    amount_off: int | None = None,
    duration: str = "once",
    duration_in_months: int | None = None,
    max_redemptions: int | None = None,
    redeem_by: int | None = None,
    times_redeemed: int = 0,
    currency: str = CURRENCY,
) -> Obj:
    """A coupon: either `percent_off` or `amount_off` (in `currency`)."""
    return {
        "id": ids.code(8),
        "object": "coupon",
        "amount_off": amount_off,
        "created": created,
        "currency": currency if amount_off is not None else None,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": {},
        "name": name,
        "percent_off": percent_off,
        "redeem_by": redeem_by,
        "times_redeemed": times_redeemed,
        "valid": True,
    }


def build_promotion_code(
    ids: Ids,
    *,
    coupon: str,
    code: str,
    created: int,
    active: bool = True,
    customer: str | None = None,
    expires_at: int | None = None,
    max_redemptions: int | None = None,
    times_redeemed: int = 0,
    first_time_transaction: bool = False,
) -> Obj:
    return {
        "id": ids.new("promo"),
        "object": "promotion_code",
        "active": active,
        "code": code,
        "created": created,
        "customer": customer,
        "expires_at": expires_at,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": {},
        "promotion": {"coupon": coupon, "type": "coupon"},
        "restrictions": {
            "first_time_transaction": first_time_transaction,
            "minimum_amount": None,
            "minimum_amount_currency": None,
        },
        "times_redeemed": times_redeemed,
    }


def build_tax_rate(
    ids: Ids,
    *,
    created: int,
    display_name: str,
    percentage: float,
    inclusive: bool = False,
    country: str | None = "US",
    state: str | None = None,
    jurisdiction: str | None = None,
    tax_type: str | None = "sales_tax",
    active: bool = True,
) -> Obj:
    return {
        "id": ids.new("txr"),
        "object": "tax_rate",
        "active": active,
        "country": country,
        "created": created,
        "description": None,
        "display_name": display_name,
        "effective_percentage": percentage,
        "flat_amount": None,
        "inclusive": inclusive,
        "jurisdiction": jurisdiction,
        "jurisdiction_level": "state" if state else None,
        "livemode": False,
        "metadata": {},
        "percentage": percentage,
        "rate_type": "percentage",
        "state": state,
        "tax_type": tax_type,
    }


def build_tax_code(*, code: str, name: str, description: str) -> Obj:
    """A Stripe Tax product category. Stripe defines these; they carry no `created` field."""
    return {
        "id": code,
        "object": "tax_code",
        "description": description,
        "name": name,
    }


def build_shipping_rate(
    ids: Ids,
    *,
    created: int,
    display_name: str,
    amount: int,
    minimum_days: int,
    maximum_days: int,
    tax_code: str | None = None,
    active: bool = True,
    currency: str = CURRENCY,
) -> Obj:
    return {
        "id": ids.new("shr"),
        "object": "shipping_rate",
        "active": active,
        "created": created,
        "delivery_estimate": {
            "maximum": {"unit": "business_day", "value": maximum_days},
            "minimum": {"unit": "business_day", "value": minimum_days},
        },
        "display_name": display_name,
        "fixed_amount": {"amount": amount, "currency": currency},
        "livemode": False,
        "metadata": {},
        "tax_behavior": "exclusive",
        "tax_code": tax_code,
        "type": "fixed_amount",
    }


def build_feature(ids: Ids, *, name: str, lookup_key: str, active: bool = True) -> Obj:
    """An entitlement feature; Stripe gives features no `created` field."""
    return {
        "id": ids.new("feat"),
        "object": "entitlements.feature",
        "active": active,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": {},
        "name": name,
    }


# Billing


def build_subscription(
    ids: Ids,
    *,
    customer: str,
    created: int,
    status: str,
    billing_cycle_anchor: int,
    default_payment_method: str | None,
    latest_invoice: str | None = None,
    collection_method: str = "charge_automatically",
    days_until_due: int | None = None,
    trial_start: int | None = None,
    trial_end: int | None = None,
    schedule: str | None = None,
    description: str | None = None,
    currency: str = CURRENCY,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """A subscription; `items` comes from the store.

    Since API version 2025-03-31 the billing period lives on each subscription item
    (`current_period_start`/`current_period_end`), not on the subscription.
    """
    return {
        "id": ids.new("sub"),
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": SUBSCRIPTION_AUTOMATIC_TAX_OFF,
        "billing_cycle_anchor": billing_cycle_anchor,
        "billing_mode": BILLING_MODE_CLASSIC,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": CANCELLATION_NONE,
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "customer": customer,
        "days_until_due": days_until_due,
        "default_payment_method": default_payment_method,
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": SUBSCRIPTION_INVOICE_SETTINGS,
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": metadata or {},
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": SUBSCRIPTION_PAYMENT_SETTINGS,
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": schedule,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": trial_start,
    }


def build_subscription_item(
    ids: Ids,
    *,
    subscription: str,
    price: Obj,
    quantity: int,
    created: int,
    current_period_start: int,
    current_period_end: int,
    plan: Obj | None = None,
) -> Obj:
    """A subscription item. Stripe embeds the whole price, and the price as a legacy plan.

    Pass the same `plan` (from `plan_of_price`) for every item of one price to share it.
    """
    return {
        "id": ids.new("si"),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": current_period_end,
        "current_period_start": current_period_start,
        "discounts": [],
        "metadata": {},
        "plan": plan or plan_of_price(price),
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": [],
    }


def build_subscription_schedule(
    ids: Ids,
    *,
    customer: str,
    created: int,
    status: str,
    phases: Sequence[tuple[int, int, Sequence[tuple[Obj, int]]]],
    subscription: str | None = None,
    end_behavior: str = "release",
    canceled_at: int | None = None,
    completed_at: int | None = None,
    released_at: int | None = None,
    released_subscription: str | None = None,
) -> Obj:
    """A schedule of subscription phases: each phase is (start, end, [(price, quantity)])."""
    current = next(((start, end) for start, end, _ in phases if status == "active"), None)
    return {
        "id": ids.new("sub_sched"),
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": BILLING_MODE_CLASSIC,
        "canceled_at": canceled_at,
        "completed_at": completed_at,
        "created": created,
        "current_phase": {"end_date": current[1], "start_date": current[0]} if current else None,
        "customer": customer,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": SUBSCRIPTION_AUTOMATIC_TAX_OFF,
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {"account_tax_ids": None, "days_until_due": None},
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": end_behavior,
        "livemode": False,
        "metadata": {},
        "phases": [_schedule_phase(start, end, items) for start, end, items in phases],
        "released_at": released_at,
        "released_subscription": released_subscription,
        "status": status,
        "subscription": subscription,
        "test_clock": None,
    }


def _schedule_phase(start: int, end: int, items: Sequence[tuple[Obj, int]]) -> Obj:
    return {
        "add_invoice_items": [],
        "application_fee_percent": None,
        "billing_cycle_anchor": None,
        "collection_method": None,
        "currency": CURRENCY,
        "default_payment_method": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "end_date": end,
        "invoice_settings": None,
        "items": [
            {
                "billing_thresholds": None,
                "discounts": [],
                "metadata": {},
                "plan": price["id"],
                "price": price["id"],
                "quantity": quantity,
                "tax_rates": [],
            }
            for price, quantity in items
        ],
        "metadata": {},
        "on_behalf_of": None,
        "proration_behavior": "create_prorations",
        "start_date": start,
        "transfer_data": None,
        "trial_end": None,
    }


def build_invoice(
    ids: Ids,
    *,
    customer: Obj,
    created: int,
    subtotal: int,
    period_start: int,
    period_end: int,
    billing_reason: str,
    subscription: str | None = None,
    quote: str | None = None,
    collection_method: str = "charge_automatically",
    due_date: int | None = None,
    description: str | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A draft invoice; `lines` comes from the store.

    Stripe copies the customer's email, name and address onto the invoice when it is created,
    so the whole customer is passed. Since API version 2025-03-31 the subscription is found under
    `parent.subscription_details`, and the payments that settled it under `payments`.
    """
    return {
        "id": ids.new("in"),
        "object": "invoice",
        "account_country": "US",
        "account_name": "Emulated Inc.",
        "amount_due": subtotal,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": subtotal,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": AUTOMATIC_TAX_OFF,
        "automatically_finalizes_at": created + 3600,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": None,
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discounts": [],
        "due_date": due_date,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": ISSUER_SELF,
        "last_finalization_error": None,
        "latest_revision": None,
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": _invoice_parent(subscription, quote),
        "payment_settings": INVOICE_PAYMENT_SETTINGS,
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": INVOICE_RENDERING,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "test_clock": None,
        "total": subtotal,
        "total_discount_amounts": [],
        "total_excluding_tax": subtotal,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
    }


def _invoice_parent(subscription: str | None, quote: str | None) -> Obj | None:
    if subscription:
        return {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription},
            "type": "subscription_details",
        }
    if quote:
        return {
            "quote_details": {"quote": quote},
            "subscription_details": None,
            "type": "quote_details",
        }
    return None


def finalized_invoice_fields(ids: Ids, invoice: Obj, *, at: int, number: str) -> Obj:
    """Fields that change when a draft invoice is finalized: it gets a number and its URLs."""
    token = ids.token(40)
    next_attempt = at + 3600 if invoice["collection_method"] == "charge_automatically" else None
    return {
        "status": "open",
        "number": number,
        "effective_at": at,
        "ending_balance": 0,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{ids.account}/test_{token}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/{ids.account}/test_{token}/pdf",
        "next_payment_attempt": next_attempt,
        "status_transitions": {**invoice["status_transitions"], "finalized_at": at},
    }


def paid_invoice_fields(invoice: Obj, *, at: int, payments: Obj | None) -> Obj:
    """Fields that change when an open invoice is paid (`payments` is its payment list)."""
    return {
        "status": "paid",
        "amount_paid": invoice["amount_due"],
        "amount_remaining": 0,
        "attempted": True,
        "attempt_count": invoice["attempt_count"] + (1 if payments else 0),
        "next_payment_attempt": None,
        "payments": payments,
        "status_transitions": {**invoice["status_transitions"], "paid_at": at},
    }


def build_invoice_payment(
    ids: Ids,
    *,
    invoice: str,
    payment_intent: str,
    amount: int,
    created: int,
    status: str,
    paid_at: int | None,
    currency: str = CURRENCY,
) -> Obj:
    """The link between an invoice and the payment intent that pays it (`inpay_`)."""
    return {
        "id": ids.new("inpay"),
        "object": "invoice_payment",
        "amount_paid": amount if status == "paid" else None,
        "amount_requested": amount,
        "created": created,
        "currency": currency,
        "invoice": invoice,
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": payment_intent, "type": "payment_intent"},
        "status": status,
        "status_transitions": {"canceled_at": None, "paid_at": paid_at},
    }


def build_invoice_payments_list(invoice: str, payments: Sequence[Obj]) -> Obj:
    return {
        "object": "list",
        "data": list(payments),
        "has_more": False,
        "url": f"/v1/invoices/{invoice}/payments",
    }


def build_invoice_line_item(
    ids: Ids,
    *,
    invoice: str,
    price: Obj,
    quantity: int,
    period_start: int,
    period_end: int,
    description: str,
    subscription: str | None = None,
    subscription_item: str | None = None,
    invoice_item: str | None = None,
    proration: bool = False,
    amount: int | None = None,
) -> Obj:
    """An invoice line: from a subscription item, or from an invoice item when one is given."""
    amount = price["unit_amount"] * quantity if amount is None else amount
    if invoice_item:
        parent = {
            "invoice_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": None,
                "subscription": subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    else:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": None,
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
            "type": "subscription_item_details",
        }
    return {
        "id": ids.new("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": [],
        "pricing": _price_details(price),
        "quantity": quantity,
        "subscription": subscription,
        "subtotal": amount,
        "taxes": [],
    }


def _price_details(price: Obj) -> Obj:
    return {
        "price_details": {"price": price["id"], "product": price["product"]},
        "type": "price_details",
        "unit_amount_decimal": price["unit_amount_decimal"],
    }


def build_invoice_item(
    ids: Ids,
    *,
    customer: str,
    price: Obj,
    quantity: int,
    date: int,
    description: str,
    invoice: str | None = None,
    subscription: str | None = None,
    period_start: int | None = None,
    period_end: int | None = None,
) -> Obj:
    """An invoice item: pending until `invoice` is set, then a line of that invoice."""
    amount = price["unit_amount"] * quantity
    return {
        "id": ids.new("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": price["currency"],
        "customer": customer,
        "date": date,
        "description": description,
        "discountable": True,
        "discounts": [],
        "invoice": invoice,
        "livemode": False,
        "metadata": {},
        "net_amount": amount,
        "parent": (
            {
                "subscription_details": {"subscription": subscription, "subscription_item": None},
                "type": "subscription_details",
            }
            if subscription
            else None
        ),
        "period": {"end": period_end or date, "start": period_start or date},
        "pricing": _price_details(price),
        "proration": False,
        "quantity": quantity,
        "tax_rates": [],
        "test_clock": None,
    }


def build_credit_note(
    ids: Ids,
    *,
    invoice: Obj,
    created: int,
    amount: int,
    number: str,
    reason: str | None,
    refund: str | None = None,
    memo: str | None = None,
) -> Obj:
    """A credit note on a paid invoice, refunded to the card when `refund` is given.

    Without a refund the credit is settled outside Stripe (`out_of_band_amount`). `lines` comes
    from the store.
    """
    return {
        "id": ids.new("cn"),
        "object": "credit_note",
        "amount": amount,
        "amount_shipping": 0,
        "created": created,
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "customer_balance_transaction": None,
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": created,
        "invoice": invoice["id"],
        "livemode": False,
        "memo": memo,
        "metadata": {},
        "number": number,
        "out_of_band_amount": None if refund else amount,
        "pdf": f"https://pay.stripe.com/credit_notes/{ids.account}/test_{ids.token(32)}/pdf",
        "post_payment_amount": amount,
        "pre_payment_amount": 0,
        "pretax_credit_amounts": [],
        "reason": reason,
        "refunds": (
            [
                {
                    "amount_refunded": amount,
                    "payment_record_refund": None,
                    "refund": refund,
                    "type": "refund",
                }
            ]
            if refund
            else []
        ),
        "shipping_cost": None,
        "status": "issued",
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "total": amount,
        "total_excluding_tax": amount,
        "total_taxes": [],
        "type": "post_payment",
        "voided_at": None,
    }


def build_credit_note_line_item(
    ids: Ids, *, invoice_line: Obj, amount: int, quantity: int, description: str
) -> Obj:
    unit_amount = amount // quantity if quantity else amount
    return {
        "id": ids.new("cnli"),
        "object": "credit_note_line_item",
        "amount": amount,
        "description": description,
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice_line_item": invoice_line["id"],
        "livemode": False,
        "metadata": {},
        "pretax_credit_amounts": [],
        "quantity": quantity,
        "tax_rates": [],
        "taxes": [],
        "type": "invoice_line_item",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def build_quote(
    ids: Ids,
    *,
    customer: str,
    created: int,
    amount_total: int,
    expires_at: int,
    status: str = "draft",
    number: str | None = None,
    invoice: str | None = None,
    finalized_at: int | None = None,
    accepted_at: int | None = None,
    canceled_at: int | None = None,
    header: str | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A quote; `line_items` is only present when expanded."""
    return {
        "id": ids.new("qt"),
        "object": "quote",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "application": None,
        "application_fee_amount": None,
        "application_fee_percent": None,
        "automatic_tax": QUOTE_AUTOMATIC_TAX_OFF,
        "collection_method": "charge_automatically",
        "computed": {
            "recurring": None,
            "upfront": {
                "amount_subtotal": amount_total,
                "amount_total": amount_total,
                "total_details": TOTAL_DETAILS_NONE,
            },
        },
        "created": created,
        "currency": currency,
        "customer": customer,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "expires_at": expires_at,
        "footer": None,
        "from_quote": None,
        "header": header,
        "invoice": invoice,
        "invoice_settings": {"days_until_due": None, "issuer": ISSUER_SELF},
        "livemode": False,
        "metadata": {},
        "number": number,
        "on_behalf_of": None,
        "status": status,
        "status_transitions": {
            "accepted_at": accepted_at,
            "canceled_at": canceled_at,
            "finalized_at": finalized_at,
        },
        "subscription": None,
        "subscription_data": {"description": None, "effective_date": None, "metadata": None},
        "subscription_schedule": None,
        "test_clock": None,
        "total_details": TOTAL_DETAILS_NONE,
        "transfer_data": None,
    }


def _item(ids: Ids, price: Obj, quantity: int, description: str) -> Obj:
    amount = price["unit_amount"] * quantity
    return {
        "id": ids.new("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price["currency"],
        "description": description,
        "price": price,
        "quantity": quantity,
    }


def build_quote_line_item(ids: Ids, *, price: Obj, quantity: int, description: str) -> Obj:
    """A quote line; like every `item`, it embeds the whole price."""
    return {**_item(ids, price, quantity, description), "discounts": [], "taxes": []}


def build_checkout_session_line_item(
    ids: Ids, *, price: Obj, quantity: int, description: str
) -> Obj:
    return _item(ids, price, quantity, description)


def build_payment_link_line_item(
    ids: Ids, *, price: Obj, quantity: int, description: str, adjustable: bool = False
) -> Obj:
    item = _item(ids, price, quantity, description)
    if adjustable:
        item["adjustable_quantity"] = {"enabled": True, "maximum": 99, "minimum": 1}
    return item


def build_meter(
    ids: Ids,
    *,
    created: int,
    display_name: str,
    event_name: str,
    status: str = "active",
    deactivated_at: int | None = None,
) -> Obj:
    """A billing meter. Meters carry `updated`, which Stripe moves on every change."""
    return {
        "id": ids.new("mtr"),
        "object": "billing.meter",
        "created": created,
        "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
        "default_aggregation": {"formula": "sum"},
        "display_name": display_name,
        "event_name": event_name,
        "event_time_window": None,
        "livemode": False,
        "status": status,
        "status_transitions": {"deactivated_at": deactivated_at},
        "updated": created,
        "value_settings": {"event_payload_key": "value"},
    }


def build_credit_grant(
    ids: Ids,
    *,
    customer: str,
    created: int,
    amount: int,
    name: str,
    category: str = "promotional",
    effective_at: int | None = None,
    expires_at: int | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """Billing credit for a customer's metered usage. Credit grants carry `updated`."""
    return {
        "id": ids.new("credgr"),
        "object": "billing.credit_grant",
        "amount": {"monetary": {"currency": currency, "value": amount}, "type": "monetary"},
        "applicability_config": {"scope": {"price_type": "metered", "prices": None}},
        "category": category,
        "created": created,
        "customer": customer,
        "effective_at": effective_at or created,
        "expires_at": expires_at,
        "livemode": False,
        "metadata": {},
        "name": name,
        "priority": 50,
        "test_clock": None,
        "updated": created,
        "voided_at": None,
    }


def build_billing_portal_configuration(
    ids: Ids,
    *,
    created: int,
    headline: str | None,
    default_return_url: str | None,
    is_default: bool = False,
    active: bool = True,
) -> Obj:
    return {
        "id": ids.new("bpc"),
        "object": "billing_portal.configuration",
        "active": active,
        "application": None,
        "business_profile": {
            "headline": headline,
            "privacy_policy_url": "https://example.com/privacy",
            "terms_of_service_url": "https://example.com/terms",
        },
        "created": created,
        "default_return_url": default_return_url,
        "features": _PORTAL_FEATURES,
        "is_default": is_default,
        "livemode": False,
        "login_page": {"enabled": False, "url": None},
        "metadata": {},
        "name": None,
        "updated": created,
    }


_PORTAL_FEATURES: Obj = {
    "customer_update": {"allowed_updates": ["email", "address"], "enabled": True},
    "invoice_history": {"enabled": True},
    "payment_method_update": {"enabled": True, "payment_method_configuration": None},
    "subscription_cancel": {
        "cancellation_reason": {"enabled": False, "options": []},
        "enabled": True,
        "mode": "at_period_end",
        "proration_behavior": "none",
    },
    "subscription_update": {
        "default_allowed_updates": ["price"],
        "enabled": False,
        "proration_behavior": "create_prorations",
    },
}


# Payments


def build_payment_intent(
    ids: Ids,
    *,
    customer: str | None,
    amount: int,
    created: int,
    payment_method: str | None,
    description: str | None = None,
    status: str = "requires_payment_method",
    receipt_email: str | None = None,
    setup_future_usage: str | None = None,
    application_fee_amount: int | None = None,
    metadata: dict[str, str] | None = None,
    currency: str = CURRENCY,
) -> Obj:
    """A payment intent as created; later states are versions built with `with_changes`."""
    payment_intent_id = ids.new("pi")
    return {
        "id": payment_intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "application": None,
        "application_fee_amount": application_fee_amount,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": ids.secret(payment_intent_id),
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": setup_future_usage,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def payment_error(*, charge: str, payment_method: Obj, decline: int = 0) -> Obj:
    """`last_payment_error` of a payment intent whose card was declined; it embeds the card."""
    code, decline_code, message = DECLINES[decline % len(DECLINES)]
    return {
        "advice_code": None,
        "charge": charge,
        "code": code,
        "decline_code": decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_method": payment_method,
        "type": "card_error",
    }


def build_charge(
    ids: Ids,
    *,
    customer: str | None,
    amount: int,
    created: int,
    payment_intent: str | None,
    payment_method: str | None,
    payment_method_details: Obj,
    billing_details: Obj,
    balance_transaction: str | None,
    status: str = "succeeded",
    decline: int | None = None,
    description: str | None = None,
    receipt_email: str | None = None,
    review: str | None = None,
    application_fee: str | None = None,
    application_fee_amount: int | None = None,
    source_transfer: str | None = None,
    prefix: str = "ch",
    currency: str = CURRENCY,
) -> Obj:
    """A charge. A failed one (`decline` set) has no balance transaction.

    Payments that a platform's transfer creates on a connected account use `prefix="py"`.
    """
    failed = decline is not None
    code: str | None = None
    message: str | None = None
    if decline is not None:
        code, decline_code, message = DECLINES[decline % len(DECLINES)]
        outcome = _declined_outcome(decline_code)
    else:
        outcome = _authorized_outcome(ids.rng.randint(0, 99))
    return {
        "id": ids.new(prefix),
        "object": "charge",
        "amount": amount,
        "amount_captured": 0 if failed else amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": application_fee,
        "application_fee_amount": application_fee_amount,
        "balance_transaction": balance_transaction,
        "billing_details": billing_details,
        "calculated_statement_descriptor": "EMULATED INC",
        "captured": not failed,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": code,
        "failure_message": message,
        "fraud_details": NO_FRAUD_DETAILS,
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": not failed,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "payment_method_details": payment_method_details,
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{ids.token(48)}",
        "refunded": False,
        "review": review,
        "shipping": None,
        "source_transfer": source_transfer,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "failed" if failed else status,
        "transfer_data": None,
        "transfer_group": None,
    }


_OUTCOMES: dict[object, Obj] = {}


def _authorized_outcome(risk_score: int) -> Obj:
    """The Radar outcome of an approved card payment, shared by all charges with that score."""
    outcome = _OUTCOMES.get(risk_score)
    if outcome is None:
        outcome = _OUTCOMES[risk_score] = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal" if risk_score < 65 else "elevated",
            "risk_score": risk_score,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return outcome


def _declined_outcome(decline_code: str) -> Obj:
    outcome = _OUTCOMES.get(decline_code)
    if outcome is None:
        outcome = _OUTCOMES[decline_code] = {
            "advice_code": "try_again_later",
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": decline_code,
            "risk_level": "normal",
            "risk_score": 30,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    return outcome


def build_refund(
    ids: Ids,
    *,
    charge: Obj,
    amount: int,
    created: int,
    balance_transaction: str,
    reason: str | None = "requested_by_customer",
    status: str = "succeeded",
) -> Obj:
    return {
        "id": ids.new("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "destination_details": {
            "card": {
                "reference": ids.digits(23),
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


EVIDENCE_TEXT = "The customer used the service for the whole billing period."


def build_dispute(
    ids: Ids,
    *,
    charge: Obj,
    created: int,
    reason: str,
    status: str,
    balance_transactions: Sequence[Obj],
    evidence_due_by: int,
    evidence_file: str | None = None,
) -> Obj:
    """A card dispute. Stripe embeds its balance transactions (withdrawal, reinstatement) whole."""
    submitted = evidence_file is not None
    return {
        "id": ids.new("dp"),
        "object": "dispute",
        "amount": charge["amount"],
        "balance_transactions": list(balance_transactions),
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "evidence": {
            "customer_email_address": charge["billing_details"]["email"],
            "customer_name": charge["billing_details"]["name"],
            "product_description": charge["description"],
            "uncategorized_file": evidence_file,
            "uncategorized_text": EVIDENCE_TEXT if submitted else None,
        },
        "evidence_details": {
            "due_by": evidence_due_by,
            "has_evidence": submitted,
            "past_due": False,
            "submission_count": 1 if submitted else 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": status,
    }


def build_review(
    ids: Ids,
    *,
    charge: Obj,
    created: int,
    opened_reason: str = "rule",
    billing_zip: str | None = None,
) -> Obj:
    """An open Radar review of a charge; closing it is a later version."""
    rng = ids.rng
    return {
        "id": ids.new("prv"),
        "object": "review",
        "billing_zip": billing_zip,
        "charge": charge["id"],
        "closed_reason": None,
        "created": created,
        "ip_address": f"198.51.100.{rng.randint(1, 254)}",
        "ip_address_location": {
            "city": "San Francisco",
            "country": "US",
            "latitude": 37.7749,
            "longitude": -122.4194,
            "region": "CA",
        },
        "livemode": False,
        "open": True,
        "opened_reason": opened_reason,
        "payment_intent": charge["payment_intent"],
        "reason": opened_reason,
        "session": None,
    }


def build_early_fraud_warning(
    ids: Ids, *, charge: Obj, created: int, fraud_type: str, actionable: bool = True
) -> Obj:
    return {
        "id": ids.new("issfr"),
        "object": "radar.early_fraud_warning",
        "actionable": actionable,
        "charge": charge["id"],
        "created": created,
        "fraud_type": fraud_type,
        "livemode": False,
        "payment_intent": charge["payment_intent"],
    }


def build_value_list(
    ids: Ids,
    *,
    created: int,
    alias: str,
    name: str,
    item_type: str,
    values: Sequence[str],
    created_by: str = "risk@example.com",
) -> Obj:
    """A Radar list. Stripe embeds its items as a sub-list; items are not a model of their own."""
    value_list_id = ids.new("rsl")
    items = [
        {
            "id": ids.new("rsli"),
            "object": "radar.value_list_item",
            "created": created,
            "created_by": created_by,
            "livemode": False,
            "value": value,
            "value_list": value_list_id,
        }
        for value in values
    ]
    return {
        "id": value_list_id,
        "object": "radar.value_list",
        "alias": alias,
        "created": created,
        "created_by": created_by,
        "item_type": item_type,
        "list_items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/radar/value_list_items?value_list={value_list_id}",
        },
        "livemode": False,
        "metadata": {},
        "name": name,
    }


def build_checkout_session(
    ids: Ids,
    *,
    customer: Obj | None,
    created: int,
    mode: str,
    status: str,
    amount_total: int | None,
    payment_intent: str | None = None,
    setup_intent: str | None = None,
    payment_link: str | None = None,
    success_url: str = "https://example.com/success",
    currency: str = CURRENCY,
) -> Obj:
    """A Checkout Session; `line_items` is only present when expanded."""
    session_id = ids.new("cs")
    complete = status == "complete"
    payment_status = "paid" if complete and mode == "payment" else "unpaid"
    if mode == "setup":
        payment_status = "no_payment_required"
    details = (
        {
            "address": customer["address"],
            "email": customer["email"],
            "name": customer["name"],
            "phone": customer["phone"],
            "tax_exempt": "none",
            "tax_ids": [],
        }
        if customer and complete
        else None
    )
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": QUOTE_AUTOMATIC_TAX_OFF,
        "billing_address_collection": None,
        "cancel_url": None,
        "client_reference_id": None,
        "client_secret": None,
        "created": created,
        "currency": currency if mode != "setup" else None,
        "customer": customer["id"] if customer else None,
        "customer_creation": "if_required",
        "customer_details": details,
        "customer_email": None,
        "expires_at": created + DAY,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": None,
        "metadata": {},
        "mode": mode,
        "payment_intent": payment_intent,
        "payment_link": payment_link,
        "payment_method_collection": "if_required",
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "phone_number_collection": {"enabled": False},
        "setup_intent": setup_intent,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": status,
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "total_details": TOTAL_DETAILS_NONE if amount_total is not None else None,
        "ui_mode": "hosted",
        "url": f"https://checkout.stripe.com/c/pay/{session_id}" if status == "open" else None,
    }


def build_payment_link(
    ids: Ids,
    *,
    active: bool = True,
    confirmation_message: str | None = None,
    allow_promotion_codes: bool = False,
    currency: str = CURRENCY,
) -> Obj:
    """A payment link; Stripe gives it no `created` field and shows `line_items` when expanded."""
    return {
        "id": ids.new("plink"),
        "object": "payment_link",
        "active": active,
        "after_completion": {
            "hosted_confirmation": {"custom_message": confirmation_message},
            "type": "hosted_confirmation",
        },
        "allow_promotion_codes": allow_promotion_codes,
        "application": None,
        "application_fee_amount": None,
        "application_fee_percent": None,
        "automatic_tax": LINK_AUTOMATIC_TAX_OFF,
        "billing_address_collection": "auto",
        "currency": currency,
        "custom_fields": [],
        "customer_creation": "if_required",
        "inactive_message": None,
        "invoice_creation": None,
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "payment_intent_data": None,
        "payment_method_collection": "always",
        "payment_method_types": None,
        "phone_number_collection": {"enabled": False},
        "shipping_address_collection": None,
        "shipping_options": [],
        "submit_type": "auto",
        "subscription_data": None,
        "transfer_data": None,
        "url": f"https://buy.stripe.com/test_{ids.token(14)}",
    }


# Files and developer objects


def build_file(
    ids: Ids,
    *,
    created: int,
    purpose: str,
    filename: str,
    size: int,
    type: str,
    expires_at: int | None = None,
) -> Obj:
    file_id = ids.new("file")
    return {
        "id": file_id,
        "object": "file",
        "created": created,
        "expires_at": expires_at,
        "filename": filename,
        "purpose": purpose,
        "size": size,
        "title": None,
        "type": type,
        "url": f"https://files.stripe.com/v1/files/{file_id}/contents",
    }


def build_file_link(
    ids: Ids, *, file: str, created: int, expires_at: int | None = None, expired: bool = False
) -> Obj:
    return {
        "id": ids.new("link"),
        "object": "file_link",
        "created": created,
        "expired": expired,
        "expires_at": expires_at,
        "file": file,
        "livemode": False,
        "metadata": {},
        "url": f"https://files.stripe.com/links/{ids.token(64)}",
    }


def build_webhook_endpoint(
    ids: Ids,
    *,
    created: int,
    url: str,
    enabled_events: Sequence[str],
    status: str = "enabled",
    description: str | None = None,
    api_version: str | None = API_VERSION,
) -> Obj:
    """A webhook endpoint; its signing `secret` is only returned when it is created."""
    return {
        "id": ids.new("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": created,
        "description": description,
        "enabled_events": list(enabled_events),
        "livemode": False,
        "metadata": {},
        "status": status,
        "url": url,
    }


# Issuing


def build_issuing_cardholder(
    ids: Ids,
    *,
    created: int,
    first_name: str,
    last_name: str,
    email: str,
    phone_number: str | None,
    address: Obj,
    status: str = "active",
) -> Obj:
    return {
        "id": ids.new("ich"),
        "object": "issuing.cardholder",
        "billing": {"address": address},
        "company": None,
        "created": created,
        "email": email,
        "individual": {
            "card_issuing": None,
            "dob": None,
            "first_name": first_name,
            "last_name": last_name,
            "verification": None,
        },
        "livemode": False,
        "metadata": {},
        "name": f"{first_name} {last_name}",
        "phone_number": phone_number,
        "preferred_locales": ["en"],
        "requirements": {"disabled_reason": None, "past_due": []},
        "spending_controls": SPENDING_CONTROLS_NONE,
        "status": status,
        "type": "individual",
    }


def build_issuing_card(
    ids: Ids,
    *,
    cardholder: Obj,
    created: int,
    type: str = "virtual",
    status: str = "active",
    exp_month: int = 12,
    exp_year: int = 2030,
    currency: str = CURRENCY,
) -> Obj:
    """An issued card. Stripe embeds the whole cardholder."""
    return {
        "id": ids.new("ic"),
        "object": "issuing.card",
        "brand": "Visa",
        "cancellation_reason": None,
        "cardholder": cardholder,
        "created": created,
        "currency": currency,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "last4": ids.digits(4),
        "livemode": False,
        "metadata": {},
        "replaced_by": None,
        "replacement_for": None,
        "replacement_reason": None,
        "shipping": None,
        "spending_controls": SPENDING_CONTROLS_NONE,
        "status": status,
        "type": type,
        "wallets": {
            "apple_pay": {"eligible": True, "ineligible_reason": None},
            "google_pay": {"eligible": True, "ineligible_reason": None},
            "primary_account_identifier": None,
        },
    }


MERCHANTS = (
    ("Blue Bottle Coffee", "eating_places_restaurants", "5814", "Oakland", "CA"),
    ("Delta Air Lines", "airlines_air_carriers", "4511", "Atlanta", "GA"),
    ("Staples", "stationery_stores_office_and_school_supply_stores", "5943", "Austin", "TX"),
    ("AWS", "computer_network_services", "4816", "Seattle", "WA"),
    ("Hilton Hotels", "hotels_motels_and_resorts", "7011", "Chicago", "IL"),
    ("Uber", "taxicabs_limousines", "4121", "San Francisco", "CA"),
)
_MERCHANT_DATA: dict[int, Obj] = {}


def merchant_data(index: int) -> Obj:
    """Card network data about a merchant, shared by every issuing object at that merchant."""
    index %= len(MERCHANTS)
    data = _MERCHANT_DATA.get(index)
    if data is None:
        name, category, code, city, state = MERCHANTS[index]
        data = _MERCHANT_DATA[index] = {
            "category": category,
            "category_code": code,
            "city": city,
            "country": "US",
            "name": name,
            "network_id": f"{1000000 + index * 7919}",
            "postal_code": None,
            "state": state,
            "tax_id": None,
            "terminal_id": None,
            "url": None,
        }
    return data


def build_issuing_authorization(
    ids: Ids,
    *,
    card: Obj,
    created: int,
    amount: int,
    merchant: Obj,
    approved: bool = True,
    status: str = "pending",
    currency: str = CURRENCY,
) -> Obj:
    """A card authorization as it arrives. Stripe embeds the whole card; `transactions` fill in
    as the authorization is captured."""
    return {
        "id": ids.new("iauth"),
        "object": "issuing.authorization",
        "amount": amount if approved else 0,
        "amount_details": {"atm_fee": None, "cashback_amount": None},
        "approved": approved,
        "authorization_method": "online",
        "balance_transactions": [],
        "card": card,
        "cardholder": card["cardholder"]["id"],
        "created": created,
        "currency": currency,
        "livemode": False,
        "merchant_amount": amount,
        "merchant_currency": currency,
        "merchant_data": merchant,
        "metadata": {},
        "pending_request": None,
        "request_history": [
            {
                "amount": amount,
                "amount_details": {"atm_fee": None, "cashback_amount": None},
                "approved": approved,
                "authorization_code": ids.digits(6) if approved else None,
                "created": created,
                "currency": currency,
                "merchant_amount": amount,
                "merchant_currency": currency,
                "reason": "webhook_approved" if approved else "spending_controls",
                "reason_message": None,
                "requested_at": created,
            }
        ],
        "status": status,
        "transactions": [],
        "verification_data": {
            "address_line1_check": "not_provided",
            "address_postal_code_check": "match",
            "cvc_check": "match",
            "expiry_check": "match",
            "postal_code": None,
            "three_d_secure": None,
        },
        "wallet": None,
    }


def build_issuing_transaction(
    ids: Ids,
    *,
    authorization: str,
    card: str,
    cardholder: str,
    amount: int,
    created: int,
    balance_transaction: str,
    merchant: Obj,
    currency: str = CURRENCY,
) -> Obj:
    """A capture of an issuing authorization; amounts are negative, money leaving the balance."""
    return {
        "id": ids.new("ipi"),
        "object": "issuing.transaction",
        "amount": -amount,
        "amount_details": {"atm_fee": None, "cashback_amount": None},
        "authorization": authorization,
        "balance_transaction": balance_transaction,
        "card": card,
        "cardholder": cardholder,
        "created": created,
        "currency": currency,
        "dispute": None,
        "livemode": False,
        "merchant_amount": -amount,
        "merchant_currency": currency,
        "merchant_data": merchant,
        "metadata": {},
        "type": "capture",
        "wallet": None,
    }


def build_issuing_dispute(
    ids: Ids,
    *,
    transaction: Obj,
    created: int,
    status: str = "submitted",
    explanation: str = "The cardholder does not recognize this purchase.",
) -> Obj:
    return {
        "id": ids.new("idp"),
        "object": "issuing.dispute",
        "amount": -transaction["amount"],
        "balance_transactions": None,
        "created": created,
        "currency": transaction["currency"],
        "evidence": {
            "fraudulent": {"additional_documentation": None, "explanation": explanation},
            "reason": "fraudulent",
        },
        "livemode": False,
        "loss_reason": None,
        "metadata": {},
        "status": status,
        "transaction": transaction["id"],
    }


# Identity


def build_verification_session(
    ids: Ids,
    *,
    created: int,
    status: str = "requires_input",
    type: str = "document",
    client_reference_id: str | None = None,
    related_customer: str | None = None,
) -> Obj:
    """An identity verification; the report and verified outputs come when it is verified."""
    session_id = ids.new("vs")
    open_session = status in ("requires_input", "processing")
    return {
        "id": session_id,
        "object": "identity.verification_session",
        "client_reference_id": client_reference_id,
        "client_secret": ids.secret(session_id) if open_session else None,
        "created": created,
        "last_error": None,
        "last_verification_report": None,
        "livemode": False,
        "metadata": {},
        "options": {"document": {"require_matching_selfie": False}},
        "redaction": None,
        "related_customer": related_customer,
        "status": status,
        "type": type,
        "url": f"https://verify.stripe.com/start/test_{ids.token(32)}" if open_session else None,
        "verified_outputs": None,
    }


def build_verification_report(
    ids: Ids,
    *,
    verification_session: str,
    created: int,
    first_name: str,
    last_name: str,
    document_file: str | None,
    type: str = "document",
) -> Obj:
    return {
        "id": ids.new("vr"),
        "object": "identity.verification_report",
        "client_reference_id": None,
        "created": created,
        "document": {
            "address": None,
            "dob": None,
            "error": None,
            "expiration_date": None,
            "files": [document_file] if document_file else [],
            "first_name": first_name,
            "issued_date": None,
            "issuing_country": "US",
            "last_name": last_name,
            "status": "verified",
            "type": "driving_license",
        },
        "livemode": False,
        "options": {"document": {}},
        "type": type,
        "verification_session": verification_session,
    }


# The builder of each catalog model, by model name.
BUILDERS: dict[str, Callable[..., Obj]] = {
    "Account": build_account,
    "Person": build_person,
    "ExternalAccount": build_external_account,
    "Capability": build_capability,
    "ApplicationFee": build_application_fee,
    "ApplicationFeeRefund": build_application_fee_refund,
    "Transfer": build_transfer,
    "TransferReversal": build_transfer_reversal,
    "BalanceTransaction": build_balance_transaction,
    "Payout": build_payout,
    "Topup": build_topup,
    "Customer": build_customer,
    "TaxId": build_tax_id,
    "CustomerBalanceTransaction": build_customer_balance_transaction,
    "Card": build_card,
    "PaymentMethod": build_payment_method,
    "SetupIntent": build_setup_intent,
    "SetupAttempt": build_setup_attempt,
    "Product": build_product,
    "ProductFeature": build_product_feature,
    "Price": build_price,
    "Plan": build_plan,
    "Coupon": build_coupon,
    "PromotionCode": build_promotion_code,
    "TaxRate": build_tax_rate,
    "TaxCode": build_tax_code,
    "ShippingRate": build_shipping_rate,
    "Feature": build_feature,
    "Subscription": build_subscription,
    "SubscriptionItem": build_subscription_item,
    "SubscriptionSchedule": build_subscription_schedule,
    "Invoice": build_invoice,
    "InvoiceLineItem": build_invoice_line_item,
    "InvoiceItem": build_invoice_item,
    "CreditNote": build_credit_note,
    "CreditNoteLineItem": build_credit_note_line_item,
    "Quote": build_quote,
    "QuoteLineItem": build_quote_line_item,
    "Meter": build_meter,
    "CreditGrant": build_credit_grant,
    "BillingPortalConfiguration": build_billing_portal_configuration,
    "PaymentIntent": build_payment_intent,
    "Charge": build_charge,
    "Refund": build_refund,
    "Dispute": build_dispute,
    "Review": build_review,
    "EarlyFraudWarning": build_early_fraud_warning,
    "ValueList": build_value_list,
    "Session": build_checkout_session,
    "CheckoutSessionLineItem": build_checkout_session_line_item,
    "PaymentLink": build_payment_link,
    "PaymentLinkLineItem": build_payment_link_line_item,
    "File": build_file,
    "FileLink": build_file_link,
    "WebhookEndpoint": build_webhook_endpoint,
    "IssuingCardholder": build_issuing_cardholder,
    "IssuingCard": build_issuing_card,
    "IssuingAuthorization": build_issuing_authorization,
    "IssuingTransaction": build_issuing_transaction,
    "IssuingDispute": build_issuing_dispute,
    "VerificationSession": build_verification_session,
    "VerificationReport": build_verification_report,
}


# Invoice items given as a plain amount, and the invoice lines invoice items become. The HTTP
# writes build these; they sit beside the per-model builders above.


def build_amount_invoice_item(
    ids: Ids,
    *,
    customer: str,
    amount: int,
    currency: str,
    date: int,
    description: str | None,
    invoice: str | None = None,
    period_start: int | None = None,
    period_end: int | None = None,
) -> Obj:
    """An invoice item created with `amount` rather than a price: one unit and no `pricing`.

    Amounts may be negative (a credit on the next invoice), as Stripe allows.
    """
    return {
        "id": ids.new("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "date": date,
        "description": description,
        "discountable": amount > 0,
        "discounts": [],
        "invoice": invoice,
        "livemode": False,
        "metadata": {},
        "net_amount": amount,
        "parent": None,
        "period": {"end": period_end or date, "start": period_start or date},
        "pricing": None,
        "proration": False,
        "quantity": 1,
        "tax_rates": [],
        "test_clock": None,
    }


def build_invoice_item_line(ids: Ids, *, item: Obj) -> Obj:
    """The line an invoice item becomes on its invoice: same amount, period, pricing and text."""
    subscription = None
    if item["parent"] and item["parent"].get("subscription_details"):
        subscription = item["parent"]["subscription_details"]["subscription"]
    return {
        "id": ids.new("il"),
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discount_amounts": [],
        "discountable": item["discountable"],
        "discounts": [],
        "invoice": item["invoice"],
        "livemode": False,
        "metadata": item["metadata"],
        "parent": {
            "invoice_item_details": {
                "invoice_item": item["id"],
                "proration": item["proration"],
                "proration_details": None,
                "subscription": subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        },
        "period": item["period"],
        "pretax_credit_amounts": [],
        "pricing": item["pricing"],
        "quantity": item["quantity"],
        "subscription": subscription,
        "subtotal": item["amount"],
        "taxes": [],
    }

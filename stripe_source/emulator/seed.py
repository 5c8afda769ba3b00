"""Fill the emulator with realistic, deterministic Stripe accounts.

`seed_store` gives each platform account about `objects` objects spread over every catalog model
(payment intents, charges, balance transactions, invoices and their lines, and customers dominate,
as in a real SaaS account), two connected accounts with data of their own, and the history of
events that led to the final state. Everything is drawn from one `random.Random` per account, so
the same arguments always give the same store, with timestamps relative to `now`.

The history is told as stories, each in time order: a subscription starts, renews every period,
fails to pay, is canceled. Every change Stripe announces emits an event whose `data.object` is
the object as it was at that moment, and the stored object is the version of its last event, as a
sync that replays events expects. Objects are never mutated: each change stores a new dict.
"""

from __future__ import annotations

import calendar
import gc
import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stripe_source.catalog import MODELS, MODELS_BY_NAME
from stripe_source.emulator import factories
from stripe_source.emulator.factories import DAY, Ids, Obj
from stripe_source.emulator.store import API_VERSION, Account, Clock, Store

HOUR = 3600
SPAN_DAYS = 540
GROWTH = 2.0
MAX_PAYMENT_ATTEMPTS = 4
FAILED_DELIVERY_SHARE = 0.02
OLD_API_VERSIONS = ((365, "2024-06-20"), (120, "2025-03-31.basil"))

# Objects set aside before the weighted budget is shared out: the floor of three objects per model
# on small accounts; from 1000 objects the showcase parents with more than 10 children (sub-lists
# that need paging); from 2000 objects one invoice of 250 lines with its 250 invoice items.
MINIMUMS_RESERVE = 150
SHOWCASE_MIN_OBJECTS = 1000
SHOWCASE_RESERVE = 450
HUGE_INVOICE_MIN_OBJECTS = 2000
HUGE_INVOICE_LINES = 250
HUGE_INVOICE_RESERVE = 2 * HUGE_INVOICE_LINES + 4
SUBSCRIPTION_INVOICE_SHARE = 0.85
CONNECTED_ACCOUNTS_WITH_DATA = 2

# Share of the per-account object budget each model starts from. Models missing here follow from
# others (charges and balance transactions from payment intents, lines from invoices, ...), and
# whatever the budget has left after every story becomes customers who never bought anything.
FILL_WITH_CUSTOMERS_BELOW = 8
WEIGHTS: dict[str, float] = {
    "Customer": 0.05,
    "PaymentMethod": 0.04,
    "Card": 0.004,
    "TaxId": 0.005,
    "CustomerBalanceTransaction": 0.004,
    "SetupIntent": 0.008,
    "Product": 0.003,
    "ProductFeature": 0.003,
    "Price": 0.007,
    "Plan": 0.001,
    "Coupon": 0.002,
    "PromotionCode": 0.002,
    "TaxRate": 0.0006,
    "TaxCode": 0.0006,
    "ShippingRate": 0.0005,
    "Feature": 0.0008,
    "Meter": 0.0004,
    "BillingPortalConfiguration": 0.0002,
    "WebhookEndpoint": 0.0002,
    "ValueList": 0.0003,
    "File": 0.001,
    "FileLink": 0.0005,
    "Invoice": 0.082,
    "InvoiceItem": 0.008,
    "SubscriptionSchedule": 0.002,
    "CreditNote": 0.003,
    "Quote": 0.002,
    "CreditGrant": 0.0008,
    "PaymentIntent": 0.115,
    "Refund": 0.007,
    "Dispute": 0.002,
    "Review": 0.002,
    "EarlyFraudWarning": 0.0015,
    "Session": 0.008,
    "PaymentLink": 0.0008,
    "Payout": 0.003,
    "Topup": 0.0005,
    "Account": 0.00005,
    "Transfer": 0.003,
    "TransferReversal": 0.0008,
    "ApplicationFee": 0.003,
    "ApplicationFeeRefund": 0.0008,
    "IssuingCardholder": 0.0008,
    "IssuingCard": 0.0015,
    "IssuingAuthorization": 0.004,
    "IssuingDispute": 0.0004,
    "VerificationSession": 0.0015,
}

CUSTOMER_EXTRAS = ("SetupIntent", "TaxId", "Card", "CustomerBalanceTransaction")
CREATED_EVENTS = {
    model.name: f"{prefix}.created"
    for model in MODELS
    for prefix in model.event_prefixes
    if f"{prefix}.created" in model.event_types
}
SUBSCRIPTION_ENDINGS = (
    ("active",) * 55
    + ("canceled",) * 18
    + ("canceled_unpaid",) * 4
    + ("past_due",) * 8
    + ("unpaid",) * 3
    + ("trialing",) * 6
    + ("ending",) * 6
)
PARENTS_WITH_SUB_LISTS = {
    model.parent for model in MODELS if model.embedded and not model.embedded_on_expand
}
DELETED_EVENTS = {model.name: model.delete_events[0] for model in MODELS if model.delete_events}

FIRST_NAMES = (
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Mia", "Lucas", "Sofia", "Ethan", "Amara", "Mateo",
    "Chloe", "Yuki", "Priya", "Omar", "Elena", "Jonas", "Hana", "Diego", "Zara", "Leo", "Nina",
    "Kai", "Ines", "Felix", "Maya", "Arjun", "Lena",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Chen", "Patel", "Nguyen", "Johnson", "Kim", "Rossi", "Silva", "Okafor",
    "Novak", "Larsen", "Haddad", "Tanaka", "Dubois", "Kowalski", "Moreau", "Ibrahim", "Schmidt",
    "Lopez", "Walker", "Brown", "Park", "Costa",
)  # fmt: skip
COMPANY_NAMES = (
    "Northwind Traders", "Bluebird Analytics", "Cobalt Robotics", "Juniper Health",
    "Lumen Studio", "Orchard Logistics", "Pinecone Labs", "Quarry Outdoor",
)  # fmt: skip
PRODUCT_NAMES = (
    "Starter", "Growth", "Pro", "Team", "Business", "Enterprise", "Analytics add-on",
    "Priority support", "Extra storage", "API access", "Data export", "Single sign-on",
    "Audit log", "Custom domain", "Onboarding package", "Training session", "Consulting hour",
    "Hardware kit",
)  # fmt: skip
TAX_CODES = (
    ("txcd_10000000", "General - Electronically Supplied Services"),
    ("txcd_10103000", "Software as a service (SaaS) - business use"),
    ("txcd_10103001", "Software as a service (SaaS) - personal use"),
    ("txcd_10201000", "Video games - downloaded"),
    ("txcd_10401000", "Digital books - downloaded"),
    ("txcd_20030000", "General - Services"),
    ("txcd_20060000", "Training services"),
    ("txcd_30011000", "Clothing and footwear"),
    ("txcd_35010000", "Books - printed"),
    ("txcd_99999999", "General - Tangible Goods"),
)
PAYOUT_CURRENCIES = ("usd", "eur", "gbp", "cad")
BANK_NAMES = ("STRIPE TEST BANK", "WELLS FARGO BANK", "CHASE", "BANK OF AMERICA")
DISPUTE_REASONS = ("fraudulent", "product_not_received", "subscription_canceled", "duplicate")


def seed_store(
    store: Store,
    *,
    seed: int = 42,
    objects: int = 10_000,
    accounts: int = 1,
    now: int | None = None,
) -> None:
    """Fill `store` with `accounts` platform accounts of about `objects` objects each.

    `objects` counts every stored object of a platform account, children included, events not;
    the live total equals it exactly from about 600 objects, and below that every model still
    gets one object (three from 500). Each platform also gets connected accounts (Connect): they
    are listed as `Account` objects by the platform, with their persons, external accounts and
    capabilities as children there, and are accounts of their own reached with `Stripe-Account`.
    Two of them hold a small business (customers, payments, the payments transfers land as,
    balance transactions, payouts); the rest are still onboarding and hold nothing.

    Events reach back over the whole history, although the store serves only the last 30 days
    of them, as Stripe does.

    The cyclic garbage collector is paused while seeding: the new objects hold no cycles, and
    collections that walk hundreds of thousands of fresh dicts would double the time.
    """
    if now is None:
        now = store.clock.now()
    else:
        store.clock = Clock(now)
    numbers = itertools.count(accounts + 1)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for number in range(1, accounts + 1):
            account = store.add_account(account_id(number), number)
            AccountSeeder(store, account, seed=seed, now=now).seed_platform(objects, numbers)
    finally:
        if collecting:
            gc.enable()


def story_days(steps: int) -> int:
    """How long ago a story of `steps` follow-ups a few days apart must start to finish by now."""
    return 1 + 6 * steps


def account_id(number: int) -> str:
    return f"acct_1Emulator{number:07d}"


def add_interval(timestamp: int, interval: str, count: int = 1) -> int:
    """Add calendar months or years the way Stripe moves a billing period (day clamped)."""
    months = count * (12 if interval == "year" else 1)
    moment = datetime.fromtimestamp(timestamp, UTC)
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return int(moment.replace(year=year, month=month + 1, day=day).timestamp())


class EventLog:
    """Events of one account, recorded as stories run and stored newest first at the end.

    Stories run one object at a time, so events arrive out of time order; the store keeps events
    in a list sorted newest first, and handing them over in that order makes each insert an
    append. Events of the same second keep the order they were recorded in.
    """

    def __init__(self, ids: Ids, now: int) -> None:
        self._ids = ids
        self._now = now
        self._events: list[tuple[int, int, str, Obj, Obj | None, str, str | None, int]] = []

    def record(
        self,
        event_type: str,
        obj: Obj,
        at: int,
        previous: Obj | None = None,
        *,
        request: bool = False,
    ) -> None:
        rng = self._ids.rng
        pending = rng.randint(1, 3) if rng.random() < FAILED_DELIVERY_SHARE else 0
        request_id = self._ids.new("req") if request else None
        self._events.append(
            (
                at,
                len(self._events),
                event_type,
                obj,
                previous,
                self._ids.new("evt"),
                request_id,
                pending,
            )
        )

    def emit(self, store: Store, account: Account) -> None:
        self._events.sort(key=lambda event: (-event[0], event[1]))
        for at, _, event_type, obj, previous, event_id, request_id, pending in self._events:
            store.emit(
                account,
                event_type,
                obj,
                previous_attributes=previous,
                created=at,
                request_id=request_id,
                pending_webhooks=pending,
                api_version=self._api_version(at),
                event_id=event_id,
            )
        self._events.clear()

    def _api_version(self, at: int) -> str:
        """Older events keep the API version of their time, as Stripe renders each event once."""
        for days, version in OLD_API_VERSIONS:
            if self._now - at > days * DAY:
                return version
        return API_VERSION


@dataclass(frozen=True)
class Buyer:
    """Someone paying by card: a customer, or a guest whose card is saved to no customer."""

    customer: str | None
    payment_method: Obj
    created: int
    email: str | None


@dataclass(frozen=True)
class Payer(Buyer):
    """A customer with a saved card, the only kind of buyer that can be invoiced."""

    customer: str


class AccountSeeder:
    """Tells the stories of one account into the store."""

    def __init__(self, store: Store, account: Account, *, seed: int, now: int) -> None:
        self.store = store
        self.account = account
        self.rng = random.Random(f"{seed}:{account.number}")
        self.ids = Ids(account.id, account.number, self.rng)
        self.seed = seed
        self.now = now
        self.start = now - SPAN_DAYS * DAY
        self.events = EventLog(self.ids, now)
        self.counts: Counter[str] = Counter()
        self.objects = 0
        self.budget = 0
        self.minimum = 1
        self.payers: list[Payer] = []
        self.card_details: dict[str, Obj] = {}
        self.prices: dict[str, list[Obj]] = {"month": [], "year": [], "one_time": []}
        self.plans: dict[str, Obj] = {}
        self.addon_prices: list[Obj] = []
        self.products: list[Obj] = []
        self.tax_codes: list[Obj] = []
        self.coupons: list[Obj] = []
        self.files: list[Obj] = []
        self.payment_links: list[tuple[str, int]] = []
        self.succeeded_charges: list[str] = []
        self.paid_invoices: list[tuple[str, str]] = []
        self.showcase_invoice: tuple[str, str] | None = None
        self.touched: set[str] = set()
        self.invoice_numbers: Counter[str] = Counter()
        self.application = "ca_" + self.ids.token(24)
        self.bank_account = self.ids.new("ba")

    # storing and announcing

    def put(
        self,
        name: str,
        obj: Obj,
        *,
        parent: str | None = None,
        children: Sequence[tuple[str, Obj]] = (),
    ) -> Obj:
        """Store an object and its children; returns the parent with its sub-lists filled,
        empty ones included (a transfer without reversals still shows `reversals`)."""
        self.store.add(self.account, MODELS_BY_NAME[name], obj, parent_id=parent)
        self.counts[name] += 1
        for child_name, child in children:
            self.put(child_name, child, parent=obj["id"])
        if name in PARENTS_WITH_SUB_LISTS:
            return self.store.refresh_embedded(self.account, obj["id"])
        return obj

    def create(
        self,
        name: str,
        obj: Obj,
        *,
        event: str | None = None,
        at: int | None = None,
        request: bool = False,
        parent: str | None = None,
        children: Sequence[tuple[str, Obj]] = (),
    ) -> Obj:
        """Store an object and emit its `*.created` event (or `event`) at its creation time."""
        obj = self.put(name, obj, parent=parent, children=children)
        event_type = event or CREATED_EVENTS[name]
        self.events.record(event_type, obj, obj["created"] if at is None else at, request=request)
        return obj

    def update(
        self, obj: Obj, event_type: str, at: int, *, refresh: bool = False, **changes: Any
    ) -> Obj:
        """Store a new version of `obj` and announce it.

        Only `*.updated` events carry `previous_attributes`, as on Stripe. `refresh` rebuilds the
        embedded sub-lists after children changed, and reports their old value too.
        """
        new, previous = factories.with_changes(obj, **changes)
        self.store.replace(self.account, new)
        if refresh:
            new = self.store.refresh_embedded(self.account, new["id"])
            previous.update(
                (key, obj.get(key)) for key, value in new.items() if value is not obj.get(key)
            )
        self.events.record(
            event_type, new, at, previous if event_type.endswith(".updated") else None
        )
        return new

    def replace_child(self, child: Obj, **changes: Any) -> Obj:
        new = {**child, **changes}
        self.store.replace(self.account, new)
        return new

    def delete(self, name: str, obj: Obj, at: int) -> None:
        """Delete an object and announce it; Stripe's event still carries the whole object."""
        self.store.delete(self.account, obj["id"])
        self.counts[name] -= 1
        self.events.record(DELETED_EVENTS[name], obj, at, request=True)

    def current(self, obj_id: str) -> Obj:
        return self.account.objects[obj_id]

    # time, people and amounts

    def moment(self, after: int | None = None, before: int | None = None) -> int:
        """A time between `after` and `before`, more likely recent: the business grows.

        Activity rises linearly over the range, `1 + GROWTH` times busier at its end than at
        its start (the inverse of the ramp's distribution function).
        """
        low = self.start if after is None else after
        high = self.now if before is None else before
        if high <= low:
            return high
        share = self.rng.random() * (1 + GROWTH / 2)
        position = (math.sqrt(1 + 2 * GROWTH * share) - 1) / GROWTH
        return low + int((high - low) * position)

    def later(self, at: int, low: int = HOUR, high: int = 5 * DAY) -> int:
        """The next step of a story that repeats (refund after refund), a few days apart."""
        return at + self.rng.randint(low, high)

    def person(self) -> tuple[str, str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        email = f"{first}.{last}{self.rng.randint(1, 9999)}@example.com".lower()
        return first, last, email

    def payer(self, older_than: int | None = None) -> Payer:
        """A paying customer who signed up before `older_than` (a day ago by default)."""
        limit = self.now - DAY if older_than is None else older_than
        for _ in range(20):
            payer = self.rng.choice(self.payers)
            if payer.created < limit:
                return payer
        return min(self.payers, key=lambda payer: payer.created)

    def expiry_year(self) -> int:
        """A card expiry year still ahead of `now`, as cards on file are kept up to date."""
        return datetime.fromtimestamp(self.now, UTC).year + self.rng.randint(1, 6)

    def amount(self, low: int = 500, high: int = 50_000) -> int:
        """An amount in cents, log-uniform: many small payments, a few large ones."""
        return int(round(low * (high / low) ** self.rng.random(), -2)) or low

    def target(self, name: str) -> int:
        return max(self.minimum, round(self.budget * WEIGHTS[name]))

    def remaining(self, name: str) -> int:
        return max(0, self.target(name) - self.counts[name])

    # the platform account

    def seed_platform(self, objects: int, numbers: Iterator[int]) -> None:
        self.objects = objects
        self.minimum = 3 if objects >= 500 else 1
        showcase = objects >= SHOWCASE_MIN_OBJECTS
        self.budget = objects - (SHOWCASE_RESERVE if showcase else MINIMUMS_RESERVE)
        if objects >= HUGE_INVOICE_MIN_OBJECTS:
            self.budget -= HUGE_INVOICE_RESERVE

        self.catalog(showcase)
        self.developer_objects()
        self.customers(self.target("Customer"), showcase)
        self.subscriptions(showcase)
        self.subscription_schedules()
        self.manual_invoices(showcase)
        self.pending_invoice_items(self.remaining("InvoiceItem"))
        self.quotes(self.target("Quote"), showcase)
        self.payment_link_story(self.target("PaymentLink"), showcase)
        self.checkout_sessions(self.target("Session"), showcase)
        self.one_off_payments(self.remaining("PaymentIntent"))
        self.reviewed_payments(self.remaining("Review"))
        self.refunds(self.target("Refund"))
        self.disputes(self.target("Dispute"))
        self.early_fraud_warnings(self.target("EarlyFraudWarning"))
        self.credit_notes(self.target("CreditNote"))
        self.payouts(self.target("Payout"))
        self.topups(self.target("Topup"))
        self.issuing()
        self.identity(self.target("VerificationSession"))
        self.credit_grants(self.target("CreditGrant"))
        connected = self.connect(numbers, showcase)
        self.deletions(1 + objects // 4000)
        self.fill_customers(objects)

        self.events.emit(self.store, self.account)
        for seeder in connected:
            seeder.events.emit(seeder.store, seeder.account)

    # catalog

    def catalog(self, showcase: bool) -> None:
        """Products with monthly, yearly and one-time prices, and what hangs off them."""
        self.tax_codes = [
            self.put("TaxCode", factories.build_tax_code(code=code, name=name, description=name))
            for code, name in TAX_CODES[: self.target("TaxCode")]
        ]

        features = [
            self.put(
                "Feature",
                factories.build_feature(
                    self.ids, name=f"Feature {i + 1}", lookup_key=f"feature_{i + 1}"
                ),
            )
            for i in range(self.target("Feature"))
        ]

        product_count = self.target("Product")
        for i in range(product_count):
            self.product_with_prices(i)
        for index in range(min(self.target("ProductFeature"), product_count * len(features))):
            product = self.products[index % product_count]
            feature = features[index // product_count]
            attached = factories.build_product_feature(self.ids, feature=feature)
            self.put("ProductFeature", attached, parent=product["id"])
        if showcase:
            self.addon_product()

        for _ in range(self.target("Plan")):
            self.legacy_plan()
        for _ in range(self.target("Coupon")):
            self.coupon()
        for _ in range(self.target("PromotionCode")):
            self.promotion_code()
        for _ in range(self.target("TaxRate")):
            self.tax_rate()
        for i in range(self.target("ShippingRate")):
            rate = factories.build_shipping_rate(
                self.ids,
                created=self.moment(before=self.start + 60 * DAY),
                display_name=("Standard", "Express", "Overnight")[i % 3],
                amount=(500, 1500, 3500)[i % 3],
                minimum_days=(5, 2, 1)[i % 3],
                maximum_days=(7, 3, 1)[i % 3],
            )
            self.put("ShippingRate", rate)
        for i in range(self.target("Meter")):
            self.meter(i)

    def product_with_prices(self, index: int) -> None:
        """A product and its prices; the first price is the product's `default_price`."""
        rng = self.rng
        created = self.moment(before=self.start + 120 * DAY)
        name = PRODUCT_NAMES[index % len(PRODUCT_NAMES)]
        if index >= len(PRODUCT_NAMES):
            name = f"{name} {index // len(PRODUCT_NAMES) + 1}"
        product = factories.build_product(
            self.ids,
            created=created,
            name=name,
            description=f"{name} for growing teams",
            tax_code=self.tax_codes[index % len(self.tax_codes)]["id"],
            marketing_features=[f"Everything in {name}"],
        )
        base = rng.choice((900, 1900, 2900, 4900, 9900, 19900))
        plans: list[tuple[str | None, int]] = [("month", base)]
        if rng.random() < 0.6 or index == 0:
            plans.append(("year", base * 10))
        if rng.random() < 0.4 or index % 3 == 0:
            plans.append((None, base * 3))
        prices = [
            factories.build_price(
                self.ids,
                product=product["id"],
                created=created,
                unit_amount=amount,
                interval=interval,
                nickname=f"{name} {interval or 'one-time'}",
                lookup_key=f"{name.lower().replace(' ', '_')}_{interval or 'once'}",
            )
            for interval, amount in plans
        ]
        product = {**product, "default_price": prices[0]["id"]}

        product = self.create("Product", product, request=True)
        for price in prices:
            self.create("Price", price, request=True)
            self.prices[
                price["recurring"]["interval"] if price["recurring"] else "one_time"
            ].append(price)
            if price["recurring"]:
                self.plans[price["id"]] = factories.plan_of_price(price)
        if rng.random() < 0.25:
            updated = self.moment(after=created + DAY)
            product = self.update(
                product,
                "product.updated",
                updated,
                description=f"{name}, now with more",
                updated=updated,
            )
        self.products.append(product)

    def addon_product(self) -> None:
        """A product with 20 monthly add-on prices, so some subscriptions have > 10 items."""
        created = self.start + 10 * DAY
        product = self.create(
            "Product",
            factories.build_product(self.ids, created=created, name="Modules", unit_label="module"),
            request=True,
        )
        for i in range(20):
            price = factories.build_price(
                self.ids,
                product=product["id"],
                created=created,
                unit_amount=500 + 100 * i,
                interval="month",
                nickname=f"Module {i + 1}",
            )
            self.create("Price", price, request=True)
            self.plans[price["id"]] = factories.plan_of_price(price)
            self.addon_prices.append(price)

    def legacy_plan(self) -> Obj:
        product = self.rng.choice(self.products)
        plan = factories.build_plan(
            self.ids,
            product=product["id"],
            created=self.moment(after=product["created"], before=self.start + 200 * DAY),
            amount=self.rng.choice((1000, 2500, 5000)),
            interval=self.rng.choice(("month", "year")),
            nickname=f"{product['name']} (legacy)",
        )
        return self.create("Plan", plan, request=True)

    def coupon(self) -> Obj:
        rng = self.rng
        created = self.moment()
        if rng.random() < 0.6:
            percent = rng.choice((10, 15, 20, 25, 50))
            coupon = factories.build_coupon(
                self.ids,
                created=created,
                name=f"{percent}% off",
                percent_off=percent,
                duration=rng.choice(("once", "repeating", "forever")),
                times_redeemed=rng.randint(0, 40),
            )
            if coupon["duration"] == "repeating":
                coupon = {**coupon, "duration_in_months": 3}
        else:
            amount = rng.choice((500, 1000, 2500))
            coupon = factories.build_coupon(
                self.ids,
                created=created,
                name=f"${amount // 100} off",
                amount_off=amount,
                max_redemptions=100,
                times_redeemed=rng.randint(0, 40),
            )
        coupon = self.create("Coupon", coupon, request=True)
        if rng.random() < 0.2 and created < self.now - DAY:
            coupon = self.update(
                coupon, "coupon.updated", self.moment(after=created), name=f"{coupon['name']}!"
            )
        self.coupons.append(coupon)
        return coupon

    def promotion_code(self) -> None:
        coupon = self.rng.choice(self.coupons)
        created = self.moment(after=coupon["created"])
        code = factories.build_promotion_code(
            self.ids, coupon=coupon["id"], code=self.ids.code(10), created=created
        )
        code = self.create("PromotionCode", code, request=True)
        if self.rng.random() < 0.3 and created < self.now - DAY:
            self.update(code, "promotion_code.updated", self.moment(after=created), active=False)

    def tax_rate(self) -> None:
        state, percentage = self.rng.choice((("CA", 7.25), ("NY", 4.0), ("TX", 6.25), ("WA", 6.5)))
        rate = factories.build_tax_rate(
            self.ids,
            created=self.moment(before=self.start + 90 * DAY),
            display_name="Sales tax",
            percentage=percentage,
            state=state,
            jurisdiction=f"US - {state}",
        )
        rate = self.create("TaxRate", rate, request=True)
        if self.rng.random() < 0.3:
            self.update(rate, "tax_rate.updated", self.moment(after=rate["created"]), active=False)

    def meter(self, index: int) -> None:
        created = self.moment(before=self.now - 30 * DAY)
        name = ("API calls", "Tokens", "Storage GB-hours", "Emails sent")[index % 4]
        meter = factories.build_meter(
            self.ids,
            created=created,
            display_name=name,
            event_name=f"{name.lower().replace(' ', '_')}_{index}",
        )
        meter = self.create("Meter", meter, request=True)
        if index % 3 == 2:
            at = self.moment(after=created)
            self.update(
                meter,
                "billing.meter.deactivated",
                at,
                status="inactive",
                status_transitions={"deactivated_at": at},
                updated=at,
            )

    def developer_objects(self) -> None:
        """Files, file links, webhook endpoints, Radar lists and customer portal settings."""
        for i in range(self.target("File")):
            self.new_file(self.moment(), "business_logo" if i % 2 else "dispute_evidence")
        for _ in range(self.target("FileLink")):
            file = self.rng.choice(self.files)
            link = factories.build_file_link(
                self.ids, file=file["id"], created=self.moment(after=file["created"])
            )
            self.put("FileLink", link)

        for i in range(self.target("WebhookEndpoint")):
            endpoint = factories.build_webhook_endpoint(
                self.ids,
                created=self.moment(before=self.start + 30 * DAY),
                url=f"https://hooks.example.com/stripe/{i}",
                enabled_events=["*"]
                if i == 0
                else ["invoice.paid", "customer.subscription.updated"],
                api_version=OLD_API_VERSIONS[0][1] if i % 2 else factories.API_VERSION,
            )
            self.put("WebhookEndpoint", endpoint)

        for i in range(self.target("ValueList")):
            kind, values = (
                ("email", ["fraud@example.com", "chargeback@example.net"]),
                ("ip_address", ["203.0.113.9", "198.51.100.23", "192.0.2.77"]),
                ("card_fingerprint", [self.ids.token(16)]),
            )[i % 3]
            value_list = factories.build_value_list(
                self.ids,
                created=self.moment(),
                alias=f"blocked_{kind}_{i}",
                name=f"Blocked {kind.replace('_', ' ')}s",
                item_type=kind,
                values=values,
            )
            self.put("ValueList", value_list)

        for i in range(self.target("BillingPortalConfiguration")):
            created = self.moment()
            configuration = factories.build_billing_portal_configuration(
                self.ids,
                created=created,
                headline="Manage your subscription",
                default_return_url="https://example.com/account",
                is_default=i == 0,
            )
            configuration = self.create("BillingPortalConfiguration", configuration, request=True)
            if i % 2:
                at = self.moment(after=created)
                self.update(
                    configuration,
                    "billing_portal.configuration.updated",
                    at,
                    business_profile={
                        **configuration["business_profile"],
                        "headline": "Your plan, your way",
                    },
                    updated=at,
                )

    def new_file(self, created: int, purpose: str) -> Obj:
        extension = "pdf" if purpose == "dispute_evidence" else "png"
        file = factories.build_file(
            self.ids,
            created=created,
            purpose=purpose,
            filename=f"{purpose}_{self.ids.token(6)}.{extension}",
            size=self.rng.randint(8_000, 900_000),
            type=extension,
        )
        file = self.create("File", file)
        self.files.append(file)
        return file

    # customers

    def customers(self, count: int, showcase: bool) -> None:
        """Customers, most of them with a saved card, some with more on their profile."""
        payers = max(self.target("PaymentMethod"), 2 * self.minimum)
        for _ in range(payers):
            self.customer_life(*self.new_payer(self.moment()))
        for _ in range(count - payers):
            self.new_customer(self.moment())
        if showcase:
            _, payer = self.new_payer(self.start + 30 * DAY)
            self.cards_and_tax_ids(payer, cards=12, tax_ids=12)
        self.customer_with_everything()
        while max(self.remaining(name) for name in CUSTOMER_EXTRAS):
            self.customer_with_everything()

    def customer_with_everything(self) -> None:
        """A customer with one of each thing a profile can hold, so no model stays empty."""
        customer, payer = self.new_payer(self.moment(before=self.now - 10 * DAY))
        created = customer["created"]
        self.setup_intent(payer, created)
        self.cards_and_tax_ids(payer, cards=1, tax_ids=1)
        _, _, email = self.person()
        self.update(self.current(customer["id"]), "customer.updated", created + 120, email=email)
        self.balance_adjustments(customer["id"], 1, created + 180)

    def customer(self, created: int) -> Obj:
        rng = self.rng
        first, last, email = self.person()
        return factories.build_customer(
            self.ids,
            created=created,
            email=email,
            name=f"{first} {last}",
            address=factories.random_address(rng) if rng.random() < 0.7 else None,
            phone=f"+1415555{rng.randint(0, 9999):04d}" if rng.random() < 0.3 else None,
        )

    def new_customer(self, created: int) -> Obj:
        """A customer who signed up without saving a card."""
        return self.create("Customer", self.customer(created), request=True)

    def new_payer(self, created: int) -> tuple[Obj, Payer]:
        """A customer who saved a card, which becomes their default payment method."""
        rng = self.rng
        customer = self.customer(created)
        payment_method = factories.build_payment_method(
            self.ids,
            customer=customer["id"],
            created=created,
            name=customer["name"],
            email=customer["email"],
            address=customer["address"],
            brand=rng.choice(factories.CARD_BRANDS),
            exp_month=rng.randint(1, 12),
            exp_year=self.expiry_year(),
        )
        customer = {
            **customer,
            "invoice_settings": {
                **factories.CUSTOMER_INVOICE_SETTINGS,
                "default_payment_method": payment_method["id"],
            },
        }
        customer = self.create("Customer", customer, request=True)
        self.create("PaymentMethod", payment_method, event="payment_method.attached")
        self.card_details[payment_method["id"]] = factories.build_charge_card_details(
            payment_method
        )
        payer = Payer(customer["id"], payment_method, created, customer["email"])
        self.payers.append(payer)
        return customer, payer

    def customer_life(self, customer: Obj, payer: Payer) -> None:
        """What happens to a customer after sign-up, in time order.

        Each change is later than the one before, so the last event of the customer always
        carries the stored version.
        """
        rng = self.rng
        created = customer["created"]
        if self.remaining("SetupIntent") and rng.random() < 0.3:
            self.setup_intent(payer, created)
        if self.remaining("TaxId") and rng.random() < 0.1:
            self.cards_and_tax_ids(payer, cards=0, tax_ids=1)
        if self.remaining("Card") and rng.random() < 0.08:
            self.cards_and_tax_ids(payer, cards=1, tax_ids=0)
        last_change = created + 60
        if rng.random() < 0.1 and created < self.now - 2 * DAY:
            last_change = self.moment(after=created + DAY)
            _, _, email = self.person()
            self.update(self.current(customer["id"]), "customer.updated", last_change, email=email)
        if self.remaining("CustomerBalanceTransaction") and rng.random() < 0.08:
            self.balance_adjustments(customer["id"], rng.randint(1, 3), last_change)

    def setup_intent(self, payer: Payer, at: int) -> None:
        """A saved card goes through a setup intent that succeeds on its single attempt."""
        intent = factories.build_setup_intent(
            self.ids, customer=payer.customer, created=at, payment_method=None
        )
        attempt = factories.build_setup_attempt(
            self.ids,
            setup_intent=intent["id"],
            customer=payer.customer,
            payment_method=payer.payment_method,
            created=at,
        )
        intent = self.create("SetupIntent", intent, request=True)
        self.put("SetupAttempt", attempt, parent=intent["id"])
        self.update(
            intent,
            "setup_intent.succeeded",
            at,
            status="succeeded",
            payment_method=payer.payment_method["id"],
            latest_attempt=attempt["id"],
        )

    def cards_and_tax_ids(self, payer: Payer, *, cards: int, tax_ids: int) -> None:
        """Legacy card sources and tax ids; the first card becomes the default source."""
        customer = self.current(payer.customer)
        at = customer["created"] + 60
        for i in range(tax_ids):
            country = ("DE", "FR", "GB", "US", "AU")[i % 5]
            tax_id = factories.build_tax_id(
                self.ids,
                customer=customer["id"],
                created=at,
                type={"US": "us_ein", "GB": "gb_vat", "AU": "au_abn"}.get(country, "eu_vat"),
                value=f"{country}{self.ids.digits(9)}",
                country=country,
            )
            self.create("TaxId", tax_id, parent=customer["id"])
        for _ in range(cards):
            card = factories.build_card(
                self.ids,
                customer=customer["id"],
                name=customer["name"],
                brand=self.rng.choice(factories.CARD_BRANDS),
                exp_year=self.expiry_year(),
            )
            self.create("Card", card, at=at, parent=customer["id"])
            if customer["default_source"] is None:
                customer = self.update(customer, "customer.updated", at, default_source=card["id"])

    def balance_adjustments(self, customer_id: str, count: int, after: int) -> None:
        """Credits granted by support; each changes the customer's `balance`."""
        customer = self.current(customer_id)
        at = after
        for _ in range(count):
            at = self.later(at)
            if at > self.now:
                return
            amount = -self.rng.choice((500, 1000, 2500))
            balance = customer["balance"] + amount
            adjustment = factories.build_customer_balance_transaction(
                self.ids,
                customer=customer_id,
                amount=amount,
                ending_balance=balance,
                created=at,
                description="Goodwill credit",
            )
            self.put("CustomerBalanceTransaction", adjustment, parent=customer_id)
            customer = self.update(
                customer, "customer.updated", at, balance=balance, currency=factories.CURRENCY
            )

    def fill_customers(self, objects: int) -> None:
        """More one-off payments, then sign-ups who never bought anything, take the rest.

        Payments (an intent, a charge and a balance transaction each) fill most of it, so the
        account grows the way a busy one does rather than by piling up idle customers.
        """
        while objects - len(self.account.model_of) > FILL_WITH_CUSTOMERS_BELOW:
            self.one_off_payments(1)
        while len(self.account.model_of) < objects:
            self.new_customer(self.moment())

    # payments

    def card_payment(
        self,
        payer: Buyer,
        amount: int,
        at: int,
        description: str | None,
        *,
        decline: int | None = None,
        review: bool = False,
    ) -> tuple[Obj, Obj]:
        """A payment intent confirmed at once, and its first charge: (intent, charge)."""
        intent = factories.build_payment_intent(
            self.ids,
            customer=payer.customer,
            amount=amount,
            created=at,
            payment_method=payer.payment_method["id"],
            description=description,
            status="requires_confirmation",
            receipt_email=payer.email,
        )
        intent = self.create("PaymentIntent", intent)
        return self.charge_attempt(intent, payer, at + 1, decline=decline, review=review)

    def charge_attempt(
        self,
        intent: Obj,
        payer: Buyer,
        at: int,
        *,
        decline: int | None = None,
        review: bool = False,
        application_fee: str | None = None,
    ) -> tuple[Obj, Obj]:
        """One charge of a payment intent: a success settles it, a decline leaves it waiting."""
        charge = self.new_charge(
            payer, intent, at, decline=decline, review=review, application_fee=application_fee
        )
        if decline is None:
            intent = self.update(
                intent,
                "payment_intent.succeeded",
                at,
                status="succeeded",
                amount_received=intent["amount"],
                latest_charge=charge["id"],
                last_payment_error=None,
                review=charge["review"],
            )
        else:
            intent = self.update(
                intent,
                "payment_intent.payment_failed",
                at,
                status="requires_payment_method",
                latest_charge=charge["id"],
                last_payment_error=factories.payment_error(
                    charge=charge["id"], payment_method=payer.payment_method, decline=decline
                ),
            )
        return intent, charge

    def new_charge(
        self,
        payer: Buyer,
        intent: Obj,
        at: int,
        *,
        decline: int | None,
        review: bool,
        application_fee: str | None,
    ) -> Obj:
        """A charge, its balance transaction when it succeeds, and a Radar review if flagged."""
        amount = intent["amount"]
        charge = factories.build_charge(
            self.ids,
            customer=payer.customer,
            amount=amount,
            created=at,
            payment_intent=intent["id"],
            payment_method=payer.payment_method["id"],
            payment_method_details=self.card_details[payer.payment_method["id"]],
            billing_details=payer.payment_method["billing_details"],
            balance_transaction=None,
            decline=decline,
            description=intent["description"],
            receipt_email=payer.email,
            application_fee=application_fee,
            application_fee_amount=intent["application_fee_amount"],
        )
        if decline is not None:
            return self.create("Charge", charge, event="charge.failed")

        transaction = self.balance_transaction(
            charge["id"], amount, at, "charge", "charge", fee=factories.stripe_fee(amount)
        )
        charge = {**charge, "balance_transaction": transaction["id"]}
        opened = None
        if review:
            opened = factories.build_review(self.ids, charge=charge, created=at)
            charge = {**charge, "review": opened["id"]}
        charge = self.create("Charge", charge, event="charge.succeeded")
        self.succeeded_charges.append(charge["id"])
        if opened is not None:
            self.review_story(opened)
        return charge

    def balance_transaction(
        self,
        source: str,
        amount: int,
        at: int,
        type: str,
        category: str,
        *,
        fee: int = 0,
        description: str | None = None,
    ) -> Obj:
        available_on = at + 2 * DAY if type == "charge" else at
        transaction = factories.build_balance_transaction(
            self.ids,
            source=source,
            amount=amount,
            created=at,
            type=type,
            reporting_category=category,
            fee=fee,
            description=description,
            available_on=available_on,
            status="available" if available_on <= self.now else "pending",
        )
        return self.put("BalanceTransaction", transaction)

    def review_story(self, review: Obj) -> None:
        """Radar holds the payment for review; someone approves it a little later."""
        review = self.create("Review", review, event="review.opened")
        closed_at = review["created"] + self.rng.randint(HOUR, 2 * DAY)
        if closed_at <= self.now:
            self.update(review, "review.closed", closed_at, open=False, closed_reason="approved")

    def one_off_payments(self, count: int) -> None:
        """Payments outside billing: most succeed, some are declined, canceled or abandoned."""
        rng = self.rng
        for _ in range(count):
            payer = self.payer_or_guest()
            at = self.moment(after=payer.created, before=self.now - 60)
            amount = self.amount()
            roll = rng.random()
            if roll < 0.85:
                review = self.remaining("Review") > 0 and rng.random() < 0.05
                self.card_payment(payer, amount, at, "One-time purchase", review=review)
            elif roll < 0.93:
                self.card_payment(payer, amount, at, "One-time purchase", decline=rng.randint(0, 3))
            else:
                self.unfinished_payment(payer, amount, at, canceled=roll < 0.97)

    def reviewed_payments(self, count: int) -> None:
        """Payments Radar held for manual review before letting them through."""
        for _ in range(count):
            payer = self.payer()
            at = self.moment(after=payer.created, before=self.now - 60)
            self.card_payment(payer, self.amount(20_000, 200_000), at, "Large order", review=True)

    def payer_or_guest(self) -> Buyer:
        """Mostly a known customer; sometimes a guest whose card is not saved to a customer."""
        if self.rng.random() < 0.85:
            return self.payer(self.now - HOUR)
        created = self.moment(before=self.now - HOUR)
        first, last, email = self.person()
        payment_method = factories.build_payment_method(
            self.ids,
            customer=None,
            created=created,
            name=f"{first} {last}",
            email=email,
            brand=self.rng.choice(factories.CARD_BRANDS),
            exp_year=self.expiry_year(),
        )
        self.put("PaymentMethod", payment_method)
        self.card_details[payment_method["id"]] = factories.build_charge_card_details(
            payment_method
        )
        return Buyer(None, payment_method, created, email)

    def unfinished_payment(self, payer: Buyer, amount: int, at: int, *, canceled: bool) -> None:
        intent = factories.build_payment_intent(
            self.ids, customer=payer.customer, amount=amount, created=at, payment_method=None
        )
        intent = self.create("PaymentIntent", intent)
        canceled_at = at + self.rng.randint(HOUR, 2 * DAY)
        if canceled and canceled_at <= self.now:
            self.update(
                intent,
                "payment_intent.canceled",
                canceled_at,
                status="canceled",
                canceled_at=canceled_at,
                cancellation_reason="abandoned",
            )

    def take_charge(self, older_than: int) -> Obj | None:
        """A succeeded charge no later story has changed yet (stories change an object in time
        order only, so each charge joins at most one later story)."""
        for _ in range(50):
            charge = self.current(self.rng.choice(self.succeeded_charges))
            if charge["id"] not in self.touched and charge["created"] < older_than:
                self.touched.add(charge["id"])
                return charge
        return None

    def refunds(self, count: int) -> None:
        for _ in range(count):
            charge = self.take_charge(self.now - 2 * DAY)
            if charge is None:
                return
            full = self.rng.random() < 0.6
            amount = charge["amount"] if full else max(100, charge["amount"] // 2)
            self.refund(charge, amount, self.moment(after=charge["created"] + HOUR))

    def refund(self, charge: Obj, amount: int, at: int, reason: str | None = None) -> Obj:
        """A card refund: a refund, its balance transaction, and the charge's new totals."""
        refund = factories.build_refund(
            self.ids,
            charge=charge,
            amount=amount,
            created=at,
            balance_transaction="",
            reason=reason or self.rng.choice(("requested_by_customer", "duplicate", None)),
        )
        transaction = self.balance_transaction(refund["id"], -amount, at, "refund", "refund")
        refund = self.create("Refund", {**refund, "balance_transaction": transaction["id"]})
        refunded = charge["amount_refunded"] + amount
        self.update(
            charge,
            "charge.refunded",
            at,
            amount_refunded=refunded,
            refunded=refunded == charge["amount"],
        )
        return refund

    def disputes(self, count: int) -> None:
        for _ in range(count):
            charge = self.take_charge(self.now - 3 * DAY)
            if charge is None:
                return
            self.dispute_story(charge)

    def dispute_story(self, charge: Obj) -> None:
        """The cardholder disputes: funds are withdrawn, evidence is sent, the bank decides."""
        rng = self.rng
        opened = self.moment(after=charge["created"] + DAY)
        amount = charge["amount"]
        withdrawal = self.balance_transaction(
            charge["id"],
            -amount,
            opened,
            "adjustment",
            "dispute",
            fee=1500,
            description=f"Chargeback withdrawal for {charge['id']}",
        )
        dispute = factories.build_dispute(
            self.ids,
            charge=charge,
            created=opened,
            reason=rng.choice(DISPUTE_REASONS),
            status="needs_response",
            balance_transactions=[withdrawal],
            evidence_due_by=opened + 14 * DAY,
        )
        dispute = self.create("Dispute", dispute)
        self.events.record("charge.dispute.funds_withdrawn", dispute, opened)
        self.update(charge, "charge.updated", opened, disputed=True)

        submitted = opened + rng.randint(1, 10) * DAY
        if submitted > self.now:
            return
        evidence_file = self.new_file(submitted, "dispute_evidence")
        dispute = self.update(
            dispute,
            "charge.dispute.updated",
            submitted,
            status="under_review",
            evidence={**dispute["evidence"], "uncategorized_file": evidence_file["id"]},
            evidence_details={
                **dispute["evidence_details"],
                "has_evidence": True,
                "submission_count": 1,
            },
        )

        closed = submitted + rng.randint(20, 60) * DAY
        if closed > self.now:
            return
        if rng.random() < 0.5:
            reinstated = self.balance_transaction(
                dispute["id"],
                amount,
                closed,
                "adjustment",
                "dispute_reversal",
                description=f"Chargeback reversal for {charge['id']}",
            )
            dispute = self.update(
                dispute,
                "charge.dispute.closed",
                closed,
                status="won",
                balance_transactions=[withdrawal, reinstated],
            )
            self.events.record("charge.dispute.funds_reinstated", dispute, closed)
        else:
            self.update(dispute, "charge.dispute.closed", closed, status="lost")

    def early_fraud_warnings(self, count: int) -> None:
        """Card networks flag some payments as fraud; the charge itself does not change."""
        for _ in range(20 * count):
            if self.counts["EarlyFraudWarning"] >= count:
                return
            charge = self.current(self.rng.choice(self.succeeded_charges))
            if charge["created"] > self.now - DAY:
                continue
            warning = factories.build_early_fraud_warning(
                self.ids,
                charge=charge,
                created=self.moment(after=charge["created"] + HOUR),
                fraud_type=self.rng.choice(("made_with_stolen_card", "unauthorized_use_of_card")),
            )
            self.create("EarlyFraudWarning", warning)

    # billing

    def plan_items(self, prices: Sequence[Obj], subscription: str, start: int, end: int) -> list:
        return [
            factories.build_subscription_item(
                self.ids,
                subscription=subscription,
                price=price,
                quantity=self.rng.choice((1, 1, 1, 2, 3, 5)),
                created=start,
                current_period_start=start,
                current_period_end=end,
                plan=self.plans[price["id"]],
            )
            for price in prices
        ]

    def subscriptions(self, showcase: bool) -> None:
        """Subscriptions renew until the budget for subscription invoices is spent."""
        budget = max(self.minimum, round(self.target("Invoice") * SUBSCRIPTION_INVOICE_SHARE))
        made = 0
        if showcase:
            for size in (12, 18):
                start = self.now - self.rng.randint(20, 70) * DAY
                made += self.subscription_story("active", self.addon_prices[:size], start=start)
        months_ago = self.rng.randint(2, 12)
        last_renewal = self.now - self.rng.randint(3, 25) * DAY
        made += self.subscription_story("canceled", start=self.now - 60 * DAY)
        made += self.subscription_story(
            "past_due", start=add_interval(last_renewal, "month", -months_ago), interval="month"
        )
        made += self.subscription_story("trialing")
        while made < budget:
            made += self.subscription_story(self.rng.choice(SUBSCRIPTION_ENDINGS))

    def subscription_story(
        self,
        kind: str,
        prices: Sequence[Obj] | None = None,
        *,
        start: int | None = None,
        interval: str | None = None,
    ) -> int:
        """One subscription from sign-up to today; returns how many invoices it produced.

        `kind` is where it ends up: active, trialing, past_due (last renewal declined), unpaid
        (every retry declined), canceled (by the customer), canceled_unpaid (by Stripe after the
        retries) or ending (set to cancel at the end of the current period). A history too short
        for the intended ending makes an active subscription instead.
        """
        rng = self.rng
        payer = self.payer(start or self.now - 3 * HOUR)
        if interval is None:
            interval = "month" if prices or rng.random() < 0.8 else "year"
        if prices is None:
            choices = self.prices[interval] or self.prices["month"]
            interval = choices[0]["recurring"]["interval"]
            prices = rng.sample(choices, min(len(choices), 1 if rng.random() < 0.85 else 2))

        if kind == "trialing":
            start = max(payer.created + 60, self.now - rng.randint(1, 12) * DAY)
        elif start is None:
            start = self.moment(after=payer.created + 60, before=self.now - 2 * HOUR)
        trial_end = start + 14 * DAY if kind == "trialing" or rng.random() < 0.15 else None
        if trial_end and trial_end > self.now and kind != "trialing":
            trial_end = None
        periods = self.billing_periods(trial_end or start, interval)
        first_period_end = trial_end or periods.pop(0)[1]
        kind, ended_at = self.ending(kind, start, periods)
        if kind == "canceled" and ended_at is not None:
            periods = [(begin, end) for begin, end in periods if begin < ended_at]

        subscription = factories.build_subscription(
            self.ids,
            customer=payer.customer,
            created=start,
            status="trialing" if trial_end else "active",
            billing_cycle_anchor=trial_end or start,
            default_payment_method=payer.payment_method["id"],
            trial_start=start if trial_end else None,
            trial_end=trial_end,
        )
        schedule = self.attached_schedule(kind, subscription, payer, prices, start, interval)
        items = self.plan_items(prices, subscription["id"], start, first_period_end)
        invoice, lines = self.subscription_invoice(
            subscription, payer, items, start, start, start, trial=bool(trial_end)
        )
        subscription = {
            **subscription,
            "latest_invoice": invoice["id"],
            "schedule": schedule["id"] if schedule else None,
        }
        subscription = self.create(
            "Subscription",
            subscription,
            children=[("SubscriptionItem", item) for item in items],
        )
        if schedule:
            self.create("SubscriptionSchedule", schedule)
        if trial_end:
            self.bill(invoice, lines, payer, finalize_at=start)
        else:
            self.bill(
                invoice,
                lines,
                payer,
                finalize_at=start + HOUR,
                attempts=[(start + HOUR + 60, None)],
            )

        previous_begin = start
        for index, (begin, end) in enumerate(periods):
            items = [
                self.replace_child(item, current_period_start=begin, current_period_end=end)
                for item in items
            ]
            invoice, lines = self.subscription_invoice(
                subscription, payer, items, begin, previous_begin, begin, trial=False
            )
            changes: dict[str, Any] = {"latest_invoice": invoice["id"]}
            if subscription["status"] == "trialing":
                changes["status"] = "active"
            subscription = self.update(
                subscription, "customer.subscription.updated", begin, refresh=True, **changes
            )
            last = index == len(periods) - 1
            subscription = self.renewal(
                kind if last else "active", subscription, invoice, lines, payer
            )
            previous_begin = begin

        self.subscription_ending(kind, subscription, ended_at, periods)
        return 1 + len(periods)

    def billing_periods(self, anchor: int, interval: str) -> list[tuple[int, int]]:
        """Periods from the billing anchor that have started by now: (start, end) pairs."""
        periods = []
        begin = anchor
        while begin <= self.now:
            end = add_interval(begin, interval)
            periods.append((begin, end))
            begin = end
        return periods

    def ending(
        self, kind: str, start: int, periods: list[tuple[int, int]]
    ) -> tuple[str, int | None]:
        """Check the history allows `kind`; for a cancellation, pick when it ended."""
        last_renewal = periods[-1][0] if periods else None
        if kind == "past_due" and (last_renewal is None or last_renewal > self.now - DAY):
            return "active", None
        if kind in ("unpaid", "canceled_unpaid"):
            if last_renewal is None or last_renewal > self.now - 10 * DAY:
                return "active", None
        if kind == "ending" and start > self.now - 2 * DAY:
            return "active", None
        if kind != "canceled":
            return kind, None
        if periods and self.rng.random() < 0.5:
            return kind, periods[self.rng.randrange(len(periods))][0]
        earliest = (last_renewal or start) + 2 * HOUR
        if earliest >= self.now:
            return "active", None
        return kind, self.moment(after=earliest)

    def renewal(
        self, kind: str, subscription: Obj, invoice: Obj, lines: list[Obj], payer: Payer
    ) -> Obj:
        """Charge a renewal invoice; for unhappy endings the card keeps being declined."""
        finalize_at = invoice["created"] + HOUR
        attempts: list[tuple[int, int | None]]
        if kind == "past_due":
            attempts = [(finalize_at + 60, self.rng.randint(0, 3))]
        elif kind in ("unpaid", "canceled_unpaid"):
            attempts = [
                (finalize_at + 60 + days * DAY, self.rng.randint(0, 3)) for days in (0, 3, 5, 7)
            ]
        else:
            attempts = [(finalize_at + 60, None)]
            self.bill(invoice, lines, payer, finalize_at=finalize_at, attempts=attempts)
            return subscription

        finish = "uncollectible" if kind == "canceled_unpaid" else None
        self.bill(invoice, lines, payer, finalize_at=finalize_at, attempts=attempts, finish=finish)
        subscription = self.update(
            subscription, "customer.subscription.updated", attempts[0][0] + 2, status="past_due"
        )
        given_up = attempts[-1][0] + 2
        if kind == "unpaid":
            subscription = self.update(
                subscription, "customer.subscription.updated", given_up, status="unpaid"
            )
        if kind == "canceled_unpaid":
            subscription = self.update(
                subscription,
                "customer.subscription.deleted",
                given_up,
                status="canceled",
                canceled_at=given_up,
                ended_at=given_up,
                cancellation_details={**factories.CANCELLATION_NONE, "reason": "payment_failed"},
            )
        return subscription

    def subscription_ending(
        self,
        kind: str,
        subscription: Obj,
        ended_at: int | None,
        periods: list[tuple[int, int]],
    ) -> None:
        """Trial reminders and cancellations, after the last renewal."""
        trial_end = subscription["trial_end"]
        if kind == "trialing" and trial_end - 3 * DAY <= self.now:
            self.events.record(
                "customer.subscription.trial_will_end", subscription, trial_end - 3 * DAY
            )
        requested = {**factories.CANCELLATION_NONE, "reason": "cancellation_requested"}
        if kind == "ending":
            current_start = periods[-1][0] if periods else subscription["created"]
            at = self.moment(after=current_start + 2 * HOUR)
            period_end = self.current(subscription["items"]["data"][0]["id"])["current_period_end"]
            self.update(
                subscription,
                "customer.subscription.updated",
                at,
                cancel_at_period_end=True,
                cancel_at=period_end,
                canceled_at=at,
                cancellation_details=requested,
            )
        if kind == "canceled" and ended_at is not None:
            self.update(
                subscription,
                "customer.subscription.deleted",
                ended_at,
                status="canceled",
                canceled_at=ended_at,
                ended_at=ended_at,
                cancellation_details=requested,
            )

    def subscription_invoice(
        self,
        subscription: Obj,
        payer: Payer,
        items: list[Obj],
        created: int,
        period_start: int,
        period_end: int,
        *,
        trial: bool,
    ) -> tuple[Obj, list[Obj]]:
        """The invoice a subscription cuts at a period boundary: one line per item.

        Stripe's first invoice covers no time (`period_start == period_end == created`); a
        renewal's `period_*` is the period just ended, while its lines cover the one starting.
        """
        customer = self.current(payer.customer)
        invoice = factories.build_invoice(
            self.ids,
            customer=customer,
            created=created,
            subtotal=0,
            period_start=period_start,
            period_end=period_end,
            billing_reason="subscription_create"
            if created == subscription["created"]
            else "subscription_cycle",
            subscription=subscription["id"],
        )
        lines = [
            factories.build_invoice_line_item(
                self.ids,
                invoice=invoice["id"],
                price=item["price"],
                quantity=item["quantity"],
                period_start=item["current_period_start"],
                period_end=item["current_period_end"],
                description=(
                    f"Trial period for {item['price']['nickname']}"
                    if trial
                    else f"{item['quantity']} × {item['price']['nickname']}"
                ),
                subscription=subscription["id"],
                subscription_item=item["id"],
                amount=0 if trial else None,
            )
            for item in items
        ]
        total = sum(line["amount"] for line in lines)
        invoice = {
            **invoice,
            "amount_due": total,
            "amount_remaining": total,
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "total": total,
            "total_excluding_tax": total,
        }
        return invoice, lines

    def bill(
        self,
        invoice: Obj,
        lines: Sequence[Obj],
        payer: Payer,
        *,
        finalize_at: int | None,
        attempts: Sequence[tuple[int, int | None]] = (),
        finish: str | None = None,
        finish_at: int | None = None,
    ) -> Obj:
        """An invoice from draft to its end: finalized, charged once per attempt, then maybe
        paid, voided or marked uncollectible. An attempt is (time, decline or None).

        Steps planned after `now` have not happened yet: Stripe finalizes an automatic invoice
        an hour after creating it, so a recent one is still a draft or waiting for payment.
        """
        invoice = self.create(
            "Invoice", invoice, children=[("InvoiceLineItem", line) for line in lines]
        )
        if finalize_at is None or finalize_at > self.now:
            return invoice
        customer = self.current(invoice["customer"])
        self.invoice_numbers[customer["id"]] += 1
        number = f"{customer['invoice_prefix']}-{self.invoice_numbers[customer['id']]:04d}"
        invoice = self.update(
            invoice,
            "invoice.finalized",
            finalize_at,
            **factories.finalized_invoice_fields(self.ids, invoice, at=finalize_at, number=number),
        )
        if invoice["amount_due"] == 0:
            invoice = self.update(
                invoice,
                "invoice.paid",
                finalize_at,
                **factories.paid_invoice_fields(invoice, at=finalize_at, payments=None),
            )
            self.events.record("invoice.payment_succeeded", invoice, finalize_at)
            return invoice

        attempts = [attempt for attempt in attempts if attempt[0] + 2 <= self.now]
        invoice = self.pay_invoice(invoice, payer, attempts)
        if finish_at is None and attempts:
            finish_at = attempts[-1][0] + 3
        if finish is None or finish_at is None or finish_at > self.now:
            return invoice
        if finish == "void":
            return self.update(
                invoice,
                "invoice.voided",
                finish_at,
                status="void",
                amount_remaining=0,
                next_payment_attempt=None,
                status_transitions={**invoice["status_transitions"], "voided_at": finish_at},
            )
        return self.update(
            invoice,
            "invoice.marked_uncollectible",
            finish_at,
            status="uncollectible",
            next_payment_attempt=None,
            status_transitions={
                **invoice["status_transitions"],
                "marked_uncollectible_at": finish_at,
            },
        )

    def pay_invoice(
        self, invoice: Obj, payer: Payer, attempts: Sequence[tuple[int, int | None]]
    ) -> Obj:
        """Charge an open invoice once per attempt on one payment intent, as Stripe retries."""
        if not attempts:
            return invoice
        description = (
            "Subscription creation"
            if invoice["billing_reason"] == "subscription_create"
            else "Subscription update"
            if invoice["parent"] and invoice["parent"]["type"] == "subscription_details"
            else "Payment for Invoice"
        )
        first_at, first_decline = attempts[0]
        intent, charge = self.card_payment(
            payer, invoice["amount_due"], first_at, description, decline=first_decline
        )
        link = factories.build_invoice_payment(
            self.ids,
            invoice=invoice["id"],
            payment_intent=intent["id"],
            amount=invoice["amount_due"],
            created=first_at,
            status="open",
            paid_at=None,
        )
        for number, (at, decline) in enumerate(attempts, start=1):
            if number > 1:
                intent, charge = self.charge_attempt(intent, payer, at, decline=decline)
            if decline is None:
                paid = {
                    **link,
                    "status": "paid",
                    "amount_paid": invoice["amount_due"],
                    "status_transitions": {"canceled_at": None, "paid_at": at},
                }
                payments = factories.build_invoice_payments_list(invoice["id"], [paid])
                invoice = self.update(
                    invoice,
                    "invoice.paid",
                    at + 2,
                    **factories.paid_invoice_fields(invoice, at=at + 2, payments=payments),
                )
                self.events.record("invoice.payment_succeeded", invoice, at + 2)
                self.paid_invoices.append((invoice["id"], charge["id"]))
                if (
                    self.showcase_invoice is None
                    and 10 < invoice["lines"]["total_count"] <= 40
                    and at < self.now - 2 * DAY
                ):
                    self.showcase_invoice = (invoice["id"], charge["id"])
                    self.touched.update(self.showcase_invoice)
                return invoice
            retry: int | None
            if number < len(attempts):
                retry = attempts[number][0]
            else:
                retry = at + 3 * DAY if number < MAX_PAYMENT_ATTEMPTS else None
            invoice = self.update(
                invoice,
                "invoice.payment_failed",
                at + 2,
                attempted=True,
                attempt_count=number,
                next_payment_attempt=retry,
                payments=factories.build_invoice_payments_list(invoice["id"], [link]),
            )
        return invoice

    def attached_schedule(
        self,
        kind: str,
        subscription: Obj,
        payer: Payer,
        prices: Sequence[Obj],
        start: int,
        interval: str,
    ) -> Obj | None:
        """A schedule that will raise the quantity after a year, made with the subscription."""
        if kind != "active" or interval != "month" or not self.remaining("SubscriptionSchedule"):
            return None
        if self.rng.random() > 0.1:
            return None
        change = add_interval(start, "year")
        return factories.build_subscription_schedule(
            self.ids,
            customer=payer.customer,
            created=start,
            status="active",
            subscription=subscription["id"],
            phases=[
                (start, change, [(price, 1) for price in prices]),
                (change, add_interval(change, "year"), [(price, 2) for price in prices]),
            ],
        )

    def subscription_schedules(self) -> None:
        """Schedules not tied to a live subscription: future starts and canceled plans."""
        for index in range(self.remaining("SubscriptionSchedule")):
            payer = self.rng.choice(self.payers)
            created = self.moment(after=payer.created)
            price = self.rng.choice(self.prices["month"])
            starts = self.now + self.rng.randint(5, 60) * DAY
            schedule = factories.build_subscription_schedule(
                self.ids,
                customer=payer.customer,
                created=created,
                status="not_started",
                phases=[(starts, add_interval(starts, "year"), [(price, 1)])],
            )
            schedule = self.create("SubscriptionSchedule", schedule, request=True)
            if index % 2 and created < self.now - HOUR:
                at = self.moment(after=created + 60)
                self.update(
                    schedule,
                    "subscription_schedule.canceled",
                    at,
                    status="canceled",
                    canceled_at=at,
                )

    def manual_invoices(self, showcase: bool) -> None:
        """One-off invoices built from invoice items, sent or charged, in every status."""
        count = self.target("Invoice") - self.counts["Invoice"]
        if showcase:
            for size in (self.rng.randint(11, 40), self.rng.randint(11, 40)):
                self.manual_invoice(size, "paid")
                count -= 1
        if self.objects >= HUGE_INVOICE_MIN_OBJECTS:
            self.manual_invoice(HUGE_INVOICE_LINES, "paid")
            count -= 1
        outcomes = ("paid",) * 12 + ("open", "void", "uncollectible", "draft")
        for outcome in ("paid", "open", "void", "draft"):
            self.manual_invoice(self.rng.randint(1, 3), outcome)
        for _ in range(count - 4):
            self.manual_invoice(self.rng.randint(1, 3), self.rng.choice(outcomes))

    def manual_invoice(
        self,
        size: int,
        outcome: str,
        *,
        payer: Payer | None = None,
        created: int | None = None,
        quote: str | None = None,
        prices: Sequence[tuple[Obj, int]] | None = None,
    ) -> Obj:
        """An invoice of `size` invoice items: `outcome` is paid, open, void, uncollectible or
        draft. Drafts and open invoices are recent; older ones would have been settled."""
        rng = self.rng
        payer = payer or self.payer()
        if created is None and outcome in ("draft", "open"):
            created = self.moment(after=max(payer.created, self.now - 20 * DAY))
        elif created is None:
            created = self.moment(after=payer.created, before=self.now - 2 * DAY)
        if prices is None:
            prices = [(rng.choice(self.prices["one_time"]), rng.randint(1, 3)) for _ in range(size)]
        send = quote is None and rng.random() < 0.4
        customer = self.current(payer.customer)
        invoice = factories.build_invoice(
            self.ids,
            customer=customer,
            created=created,
            subtotal=sum(price["unit_amount"] * quantity for price, quantity in prices),
            period_start=created,
            period_end=created,
            billing_reason="quote_accept" if quote else "manual",
            quote=quote,
            collection_method="send_invoice" if send else "charge_automatically",
            due_date=created + 30 * DAY if send else None,
        )
        invoice_items = [
            factories.build_invoice_item(
                self.ids,
                customer=payer.customer,
                price=price,
                quantity=quantity,
                date=created,
                description=price["nickname"],
                invoice=invoice["id"],
            )
            for price, quantity in prices
        ]
        lines = [
            factories.build_invoice_line_item(
                self.ids,
                invoice=invoice["id"],
                price=price,
                quantity=quantity,
                period_start=created,
                period_end=created,
                description=price["nickname"],
                invoice_item=item["id"],
            )
            for (price, quantity), item in zip(prices, invoice_items, strict=True)
        ]
        for item in invoice_items:
            self.create("InvoiceItem", item, at=created, request=True)

        if outcome == "draft":
            return self.bill(invoice, lines, payer, finalize_at=None)
        finalize_at = created + (60 if quote else rng.randint(60, 2 * HOUR))
        pay_at = finalize_at + 60
        if send:
            pay_at = finalize_at + rng.randint(1, 25) * DAY
        attempts = [(pay_at, None)] if outcome == "paid" else []
        finish_at = (
            self.moment(after=finalize_at + 60) if outcome in ("void", "uncollectible") else None
        )
        return self.bill(
            invoice,
            lines,
            payer,
            finalize_at=finalize_at,
            attempts=attempts,
            finish=outcome if outcome in ("void", "uncollectible") else None,
            finish_at=finish_at,
        )

    def pending_invoice_items(self, count: int) -> None:
        """Items waiting for the customer's next invoice."""
        for _ in range(count):
            payer = self.rng.choice(self.payers)
            price = self.rng.choice(self.prices["one_time"])
            item = factories.build_invoice_item(
                self.ids,
                customer=payer.customer,
                price=price,
                quantity=1,
                date=self.moment(after=max(payer.created, self.now - 25 * DAY)),
                description=f"{price['nickname']} (next invoice)",
            )
            self.create("InvoiceItem", item, at=item["date"], request=True)

    def credit_notes(self, count: int) -> None:
        """Credit notes on paid invoices, refunded to the card or settled outside Stripe."""
        if self.showcase_invoice:
            invoice_id, charge_id = self.showcase_invoice
            self.credit_note_story(self.current(invoice_id), self.current(charge_id))
        tries = 0
        while self.counts["CreditNote"] < count and self.paid_invoices and tries < 20 * count:
            tries += 1
            invoice_id, charge_id = self.rng.choice(self.paid_invoices)
            if invoice_id in self.touched or charge_id in self.touched:
                continue
            invoice = self.current(invoice_id)
            if invoice["status_transitions"]["paid_at"] > self.now - 2 * DAY:
                continue
            if invoice["lines"]["total_count"] > 40:
                continue
            self.touched.update((invoice_id, charge_id))
            self.credit_note_story(invoice, self.current(charge_id))

    def credit_note_story(self, invoice: Obj, charge: Obj) -> None:
        model = MODELS_BY_NAME["InvoiceLineItem"]
        lines = [
            self.current(i) for i in self.store.children_ids(self.account, invoice["id"], model)
        ]
        at = self.moment(after=invoice["status_transitions"]["paid_at"] + HOUR)
        amount = sum(line["amount"] for line in lines)
        refund = None
        if self.rng.random() < 0.7 and amount:
            refund = self.refund(charge, amount, at, reason="requested_by_customer")
        credit_note = factories.build_credit_note(
            self.ids,
            invoice=invoice,
            created=at,
            amount=amount,
            number=f"{invoice['number']}-CN-01",
            reason="product_unsatisfactory",
            refund=refund["id"] if refund else None,
        )
        credit_lines = [
            factories.build_credit_note_line_item(
                self.ids,
                invoice_line=line,
                amount=line["amount"],
                quantity=line["quantity"],
                description=line["description"],
            )
            for line in lines
        ]
        credit_note = self.create(
            "CreditNote",
            credit_note,
            children=[("CreditNoteLineItem", line) for line in credit_lines],
        )
        invoice = self.update(
            invoice, "invoice.updated", at, post_payment_credit_notes_amount=amount
        )
        voided = self.moment(after=at + 60)
        if refund is None and self.rng.random() < 0.3 and voided <= self.now:
            self.update(credit_note, "credit_note.voided", voided, status="void", voided_at=voided)
            self.update(invoice, "invoice.updated", voided, post_payment_credit_notes_amount=0)

    def quotes(self, count: int, showcase: bool) -> None:
        """Quotes in every status; accepting one creates and pays its invoice."""
        statuses = ("draft", "open", "accepted", "accepted", "canceled")
        for index in range(count):
            if showcase and index == 0:
                self.quote_story("open", 12)
            else:
                self.quote_story(statuses[index % len(statuses)], self.rng.randint(1, 3))

    def quote_story(self, status: str, size: int) -> None:
        rng = self.rng
        payer = self.payer()
        created = self.moment(after=payer.created, before=self.now - 2 * HOUR)
        prices = [(rng.choice(self.prices["one_time"]), rng.randint(1, 3)) for _ in range(size)]
        customer = self.current(payer.customer)
        quote = factories.build_quote(
            self.ids,
            customer=payer.customer,
            created=created,
            amount_total=sum(price["unit_amount"] * quantity for price, quantity in prices),
            expires_at=created + 30 * DAY,
            header=f"Quote for {customer['name']}",
        )
        lines = [
            factories.build_quote_line_item(
                self.ids, price=price, quantity=quantity, description=price["nickname"]
            )
            for price, quantity in prices
        ]
        quote = self.create(
            "Quote", quote, request=True, children=[("QuoteLineItem", line) for line in lines]
        )
        if status == "draft":
            return
        finalized = created + HOUR
        self.invoice_numbers["quotes"] += 1
        quote = self.update(
            quote,
            "quote.finalized",
            finalized,
            status="open",
            number=f"QT-{customer['invoice_prefix']}-{self.invoice_numbers['quotes']:04d}",
            status_transitions={**quote["status_transitions"], "finalized_at": finalized},
        )
        decided = finalized + rng.randint(1, 10) * DAY
        if decided > self.now:
            return
        if status == "canceled":
            self.update(
                quote,
                "quote.canceled",
                decided,
                status="canceled",
                status_transitions={**quote["status_transitions"], "canceled_at": decided},
            )
        elif status == "accepted":
            invoice = self.manual_invoice(
                size, "paid", payer=payer, created=decided, quote=quote["id"], prices=prices
            )
            self.update(
                quote,
                "quote.accepted",
                decided,
                status="accepted",
                invoice=invoice["id"],
                status_transitions={**quote["status_transitions"], "accepted_at": decided},
            )

    def payment_link_story(self, count: int, showcase: bool) -> None:
        """Payment links; Stripe gives them no `created`, so only their events carry a time."""
        for index in range(count):
            size = 12 if showcase and index == 0 else self.rng.randint(1, 3)
            at = self.moment(before=self.now - DAY)
            link = factories.build_payment_link(
                self.ids, confirmation_message="Thanks for your order!"
            )
            lines = [
                factories.build_payment_link_line_item(
                    self.ids,
                    price=price,
                    quantity=1,
                    description=price["nickname"],
                    adjustable=self.rng.random() < 0.3,
                )
                for price in self.rng.choices(self.prices["one_time"], k=size)
            ]
            link = self.create(
                "PaymentLink",
                link,
                at=at,
                request=True,
                children=[("PaymentLinkLineItem", line) for line in lines],
            )
            self.payment_links.append((link["id"], at))
            if index % 4 == 3:
                self.update(link, "payment_link.updated", self.moment(after=at), active=False)

    def checkout_sessions(self, count: int, showcase: bool) -> None:
        """Hosted checkouts: most complete and pay, some expire, a few are still open."""
        rng = self.rng
        for index in range(count):
            payer = self.payer()
            size = 12 if showcase and index == 0 else rng.randint(1, 3)
            prices = rng.choices(self.prices["one_time"], k=size)
            created = self.moment(after=payer.created)
            roll = rng.random()
            status = "complete" if roll < 0.75 else "expired" if roll < 0.95 else "open"
            if status == "complete" and created > self.now - HOUR:
                status = "open"
            if status == "expired" and created > self.now - DAY:
                status = "open"
            if status == "open":
                created = self.now - rng.randint(60, 20 * HOUR)
            self.checkout_session(payer, prices, created, status)

    def checkout_session(
        self, payer: Payer, prices: Sequence[Obj], created: int, status: str
    ) -> None:
        amount = sum(price["unit_amount"] for price in prices)
        links = [link for link, at in self.payment_links if at < created]
        link = self.rng.choice(links) if links and self.rng.random() < 0.2 else None
        intent = None
        completed = created + self.rng.randint(60, 1800)
        if status == "complete":
            intent, _ = self.card_payment(payer, amount, completed, "Checkout purchase")
        session = factories.build_checkout_session(
            self.ids,
            customer=self.current(payer.customer),
            created=created,
            mode="payment",
            status=status,
            amount_total=amount,
            payment_intent=intent["id"] if intent else None,
            payment_link=link,
        )
        lines = [
            (
                "CheckoutSessionLineItem",
                factories.build_checkout_session_line_item(
                    self.ids, price=price, quantity=1, description=price["nickname"]
                ),
            )
            for price in prices
        ]
        if status == "complete":
            self.create(
                "Session",
                session,
                event="checkout.session.completed",
                at=completed + 2,
                children=lines,
            )
        elif status == "expired":
            self.create(
                "Session",
                session,
                event="checkout.session.expired",
                at=session["expires_at"],
                children=lines,
            )
        else:
            self.put("Session", session, children=lines)

    # balance

    def payouts(self, count: int) -> None:
        """Automatic payouts to the platform's bank account, which Stripe does not list."""
        rng = self.rng
        for _ in range(count):
            at = self.moment()
            amount = self.amount(10_000, 2_000_000)
            arrival = at + 2 * DAY
            payout = factories.build_payout(
                self.ids,
                amount=amount,
                created=at,
                arrival_date=arrival,
                balance_transaction="",
                destination=self.bank_account,
            )
            transaction = self.balance_transaction(payout["id"], -amount, at, "payout", "payout")
            payout = self.create("Payout", {**payout, "balance_transaction": transaction["id"]})
            if arrival > self.now:
                continue
            if rng.random() < 0.03:
                failure = self.balance_transaction(
                    payout["id"], amount, arrival, "payout_failure", "payout_reversal"
                )
                self.update(
                    payout,
                    "payout.failed",
                    arrival,
                    status="failed",
                    failure_code="account_closed",
                    failure_message="The bank account has been closed.",
                    failure_balance_transaction=failure["id"],
                )
            else:
                self.update(payout, "payout.paid", arrival, status="paid")

    def topups(self, count: int) -> None:
        for _ in range(count):
            at = self.moment()
            amount = self.amount(50_000, 1_000_000)
            topup = factories.build_topup(
                self.ids,
                amount=amount,
                created=at,
                balance_transaction=None,
                expected_availability_date=at + 4 * DAY,
                description="Top up for refunds",
            )
            transaction = self.balance_transaction(topup["id"], amount, at, "topup", "topup")
            topup = self.create("Topup", {**topup, "balance_transaction": transaction["id"]})
            if at + 4 * DAY <= self.now:
                self.update(topup, "topup.succeeded", at + 4 * DAY, status="succeeded")

    # issuing and identity

    def issuing(self) -> None:
        """Cards issued to employees, their authorizations, captures and a few disputes."""
        cardholders = []
        for _ in range(self.target("IssuingCardholder")):
            first, last, email = self.person()
            cardholder = factories.build_issuing_cardholder(
                self.ids,
                created=self.moment(before=self.now - 60 * DAY),
                first_name=first,
                last_name=last,
                email=email,
                phone_number=None,
                address=factories.random_address(self.rng),
            )
            cardholders.append(self.create("IssuingCardholder", cardholder, request=True))
        cards = []
        for _ in range(self.target("IssuingCard")):
            cardholder = self.rng.choice(cardholders)
            card = factories.build_issuing_card(
                self.ids,
                cardholder=cardholder,
                created=self.moment(after=cardholder["created"], before=self.now - 30 * DAY),
                type=self.rng.choice(("virtual", "physical")),
            )
            cards.append(self.create("IssuingCard", card, request=True))
        captured = []
        settled = max(self.minimum, self.target("IssuingDispute"))
        for index in range(self.target("IssuingAuthorization")):
            transaction = self.authorization_story(self.rng.choice(cards), settled=index < settled)
            if transaction is not None:
                captured.append(transaction)
        for transaction in self.rng.sample(
            captured, min(len(captured), self.target("IssuingDispute"))
        ):
            self.issuing_dispute_story(transaction)

    def authorization_story(self, card: Obj, *, settled: bool) -> Obj | None:
        """An authorization is approved (or declined) at once and captured within two days;
        `settled` asks for an old one that was approved and captured."""
        rng = self.rng
        at = self.moment(after=card["created"], before=self.now - (3 * DAY if settled else 0))
        amount = self.amount(300, 80_000)
        approved = settled or rng.random() < 0.93
        authorization = factories.build_issuing_authorization(
            self.ids,
            card=card,
            created=at,
            amount=amount,
            merchant=factories.merchant_data(rng.randrange(len(factories.MERCHANTS))),
            approved=approved,
            status="pending" if approved else "closed",
        )
        authorization = self.create("IssuingAuthorization", authorization)
        captured_at = at + rng.randint(HOUR, 2 * DAY)
        if not approved or captured_at > self.now:
            return None
        if not settled and rng.random() < 0.08:
            self.update(
                authorization,
                "issuing_authorization.updated",
                captured_at,
                status="reversed",
                amount=0,
            )
            return None
        transaction = factories.build_issuing_transaction(
            self.ids,
            authorization=authorization["id"],
            card=card["id"],
            cardholder=card["cardholder"]["id"],
            amount=amount,
            created=captured_at,
            balance_transaction="",
            merchant=authorization["merchant_data"],
        )
        balance = self.balance_transaction(
            transaction["id"], -amount, captured_at, "issuing_transaction", "issuing_transaction"
        )
        transaction = self.create(
            "IssuingTransaction", {**transaction, "balance_transaction": balance["id"]}
        )
        self.update(
            authorization,
            "issuing_authorization.updated",
            captured_at,
            status="closed",
            amount=0,
            transactions=[transaction],
        )
        return transaction

    def issuing_dispute_story(self, transaction: Obj) -> None:
        opened = self.moment(after=transaction["created"] + HOUR)
        dispute = factories.build_issuing_dispute(
            self.ids, transaction=transaction, created=opened, status="unsubmitted"
        )
        dispute = self.create("IssuingDispute", dispute, request=True)
        self.update(transaction, "issuing_transaction.updated", opened, dispute=dispute["id"])
        submitted = opened + DAY
        if submitted > self.now:
            return
        dispute = self.update(dispute, "issuing_dispute.submitted", submitted, status="submitted")
        closed = submitted + 30 * DAY
        if closed <= self.now:
            self.update(
                dispute, "issuing_dispute.closed", closed, status=self.rng.choice(("won", "lost"))
            )

    def identity(self, count: int) -> None:
        """Identity checks: most verify with a document (a report and its file), some fail."""
        for index in range(count):
            created = self.moment(before=self.now - 4 * HOUR)
            payer = self.payer(created)
            session = factories.build_verification_session(
                self.ids, created=created, related_customer=payer.customer
            )
            session = self.create("VerificationSession", session, request=True)
            outcome = (
                "verified"
                if index < 3
                else self.rng.choice(
                    ("verified", "verified", "verified", "requires_input", "canceled")
                )
            )
            at = created + self.rng.randint(60, 3 * HOUR)
            if at > self.now:
                continue
            if outcome == "verified":
                self.verify(session, at)
            elif outcome == "requires_input":
                self.update(
                    session,
                    "identity.verification_session.requires_input",
                    at,
                    last_error={"code": "document_expired", "reason": "The document is expired."},
                )
            else:
                self.update(
                    session,
                    "identity.verification_session.canceled",
                    at,
                    status="canceled",
                    client_secret=None,
                    url=None,
                )

    def verify(self, session: Obj, at: int) -> None:
        first, last, email = self.person()
        document = self.new_file(at, "identity_document")
        report = factories.build_verification_report(
            self.ids,
            verification_session=session["id"],
            created=at,
            first_name=first,
            last_name=last,
            document_file=document["id"],
        )
        self.put("VerificationReport", report)
        self.update(
            session,
            "identity.verification_session.verified",
            at,
            status="verified",
            last_verification_report=report["id"],
            client_secret=None,
            url=None,
            verified_outputs={
                "address": None,
                "dob": None,
                "email": None,
                "first_name": first,
                "id_number": None,
                "id_number_type": None,
                "last_name": last,
                "phone": None,
            },
        )

    def credit_grants(self, count: int) -> None:
        for index in range(count):
            payer = self.rng.choice(self.payers)
            created = self.moment(after=payer.created)
            grant = factories.build_credit_grant(
                self.ids,
                customer=payer.customer,
                created=created,
                amount=self.rng.choice((1000, 5000, 10_000)),
                name="Welcome credit",
                expires_at=created + 90 * DAY,
            )
            grant = self.create("CreditGrant", grant, request=True)
            if index % 4 == 3 and created < self.now - HOUR:
                at = self.moment(after=created + 60)
                self.update(grant, "billing.credit_grant.updated", at, voided_at=at, updated=at)

    # Connect

    def connect(self, numbers: Iterator[int], showcase: bool) -> list[AccountSeeder]:
        """Connected accounts, listed by the platform, and the money moving between them.

        The first two connected accounts get data of their own: customers and payments, the
        payments that transfers create, and the direct charges that application fees come
        from. The others are accounts still onboarding.
        """
        size = max(20, self.objects // 100)
        connected = []
        for index in range(max(CONNECTED_ACCOUNTS_WITH_DATA, self.target("Account"))):
            number = next(numbers)
            onboarded = index < CONNECTED_ACCOUNTS_WITH_DATA or index % 2 == 0
            bank_accounts = 12 if showcase and index == 0 else self.rng.randint(1, 2)
            account = self.connected_account(number, onboarded, bank_accounts)
            if index < CONNECTED_ACCOUNTS_WITH_DATA:
                seeder = AccountSeeder(self.store, account, seed=self.seed, now=self.now)
                seeder.seed_connected(size, self.start + 20 * DAY)
                connected.append(seeder)

        for index in range(self.target("Transfer")):
            reversals = 12 if showcase and index == 0 else int(self.rng.random() < 0.2)
            self.transfer_story(connected[index % len(connected)], reversals)
        while self.remaining("TransferReversal"):
            self.transfer_story(self.rng.choice(connected), 1)
        for index in range(self.target("ApplicationFee")):
            refunds = 12 if showcase and index == 0 else int(self.rng.random() < 0.2)
            self.application_fee_story(connected[index % len(connected)], refunds)
        while self.remaining("ApplicationFeeRefund"):
            self.application_fee_story(self.rng.choice(connected), 1)
        return connected

    def connected_account(self, number: int, onboarded: bool, bank_accounts: int) -> Account:
        """A connected account: an `Account` object here, its own store there.

        Its bank accounts take turns over a few payout currencies; the first of each currency
        is the default for it.
        """
        rng = self.rng
        connected_id = account_id(number)
        created = self.start + rng.randint(1, 15) * DAY
        name = COMPANY_NAMES[number % len(COMPANY_NAMES)]
        email = f"owner@{name.lower().replace(' ', '')}.example.com"
        account = factories.build_account(
            self.ids,
            account_id=connected_id,
            created=created,
            email=email,
            business_name=name,
            charges_enabled=False,
            payouts_enabled=False,
        )
        external_accounts = [
            factories.build_external_account(
                self.ids,
                account=connected_id,
                account_holder_name=name,
                bank_name=rng.choice(BANK_NAMES),
                default_for_currency=i < len(PAYOUT_CURRENCIES),
                currency=PAYOUT_CURRENCIES[i % len(PAYOUT_CURRENCIES)],
            )
            for i in range(bank_accounts)
        ]
        account = self.put(
            "Account",
            account,
            children=[("ExternalAccount", bank) for bank in external_accounts],
        )
        for bank in external_accounts:
            self.events.record("account.external_account.created", bank, created)
        for index in range(rng.randint(1, 3)):
            first, last, person_email = self.person()
            person = factories.build_person(
                self.ids,
                account=connected_id,
                created=created,
                first_name=first,
                last_name=last,
                email=person_email,
                title=("CEO", "CFO", "COO")[index],
                representative=index == 0,
                owner=True,
                percent_ownership=round(100 / (index + 2), 1),
            )
            self.put("Person", person, parent=connected_id)
            self.events.record("person.created", person, created)
        for capability_name in ("card_payments", "transfers"):
            capability = factories.build_capability(
                account=connected_id,
                name=capability_name,
                requested_at=created,
                status="pending",
            )
            self.put("Capability", capability, parent=connected_id)
            if onboarded:
                self.update(capability, "capability.updated", created + DAY, status="active")

        if onboarded:
            self.update(
                account,
                "account.updated",
                created + DAY,
                charges_enabled=True,
                payouts_enabled=True,
                details_submitted=True,
            )
        else:
            self.update(
                account,
                "account.updated",
                created + DAY,
                requirements={
                    **factories.ACCOUNT_REQUIREMENTS_NONE,
                    "currently_due": ["external_account", "representative.dob.day"],
                },
            )
        return self.store.add_account(connected_id, number, platform=self.account.id)

    def seed_connected(self, size: int, opened: int) -> None:
        """A connected account's own small business: customers, payments, a few payouts."""
        self.budget = size
        self.start = opened
        for _ in range(max(3, size // 5)):
            self.new_payer(self.moment())
        self.one_off_payments(max(3, size // 3))
        self.refunds(max(1, size // 30))
        self.payouts(max(2, size // 20))

    def transfer_story(self, destination: AccountSeeder, reversals: int) -> None:
        """A transfer, the payment (`py_`) it creates on the connected account, and reversals
        that together take it back in `reversals` equal parts."""
        at = self.moment(
            after=destination.start + DAY, before=self.now - story_days(reversals) * DAY
        )
        amount = self.amount(5_000, 500_000)
        transfer = factories.build_transfer(
            self.ids,
            destination=destination.account.id,
            amount=amount,
            balance_transaction="",
            created=at,
            destination_payment=None,
            description="Monthly revenue share",
        )
        payment = destination.received_payment(transfer["id"], amount, at)
        transaction = self.balance_transaction(transfer["id"], -amount, at, "transfer", "transfer")
        transfer = self.create(
            "Transfer",
            {
                **transfer,
                "balance_transaction": transaction["id"],
                "destination_payment": payment["id"],
            },
        )
        for _ in range(reversals):
            at = self.later(at)
            if at > self.now:
                return
            reversal_amount = amount // reversals
            reversal = factories.build_transfer_reversal(
                self.ids,
                transfer=transfer["id"],
                amount=reversal_amount,
                balance_transaction="",
                created=at,
            )
            back = self.balance_transaction(
                reversal["id"], reversal_amount, at, "transfer_refund", "transfer_reversal"
            )
            self.put(
                "TransferReversal",
                {**reversal, "balance_transaction": back["id"]},
                parent=transfer["id"],
            )
            reversed_amount = transfer["amount_reversed"] + reversal_amount
            transfer = self.update(
                transfer,
                "transfer.reversed",
                at,
                refresh=True,
                amount_reversed=reversed_amount,
                reversed=reversed_amount == amount,
            )

    def received_payment(self, transfer: str, amount: int, at: int) -> Obj:
        """The payment a platform's transfer lands as on this connected account."""
        charge = factories.build_charge(
            self.ids,
            customer=None,
            amount=amount,
            created=at,
            payment_intent=None,
            payment_method=None,
            payment_method_details={"stripe_account": {}, "type": "stripe_account"},
            billing_details={
                "address": factories.NO_ADDRESS,
                "email": None,
                "name": None,
                "phone": None,
                "tax_id": None,
            },
            balance_transaction=None,
            source_transfer=transfer,
            prefix="py",
        )
        transaction = self.balance_transaction(charge["id"], amount, at, "payment", "charge")
        return self.create(
            "Charge", {**charge, "balance_transaction": transaction["id"]}, event="charge.succeeded"
        )

    def application_fee_story(self, account: AccountSeeder, refunds: int) -> None:
        """A direct charge on a connected account and the platform's fee on it.

        The charge lives on the connected account and names the fee; the fee lives on the
        platform and names the charge, with the connected account in `account`.
        """
        settled = self.now - story_days(refunds) * DAY
        payer = account.payer(settled)
        at = account.moment(after=payer.created, before=settled)
        amount = self.amount(2_000, 100_000)
        fee_amount = amount // 10
        intent = factories.build_payment_intent(
            account.ids,
            customer=payer.customer,
            amount=amount,
            created=at,
            payment_method=payer.payment_method["id"],
            description="Marketplace order",
            status="requires_confirmation",
            application_fee_amount=fee_amount,
        )
        intent = account.create("PaymentIntent", intent)
        fee = factories.build_application_fee(
            self.ids,
            account=account.account.id,
            charge="",
            amount=fee_amount,
            balance_transaction="",
            created=at + 1,
            application=self.application,
        )
        intent, charge = account.charge_attempt(intent, payer, at + 1, application_fee=fee["id"])
        transaction = self.balance_transaction(
            fee["id"], fee_amount, at + 1, "application_fee", "platform_earning"
        )
        fee = {
            **fee,
            "charge": charge["id"],
            "fee_source": {**fee["fee_source"], "charge": charge["id"]},
            "balance_transaction": transaction["id"],
        }
        fee = self.put("ApplicationFee", fee)
        self.events.record("application_fee.created", fee, fee["created"])

        at += 1
        for _ in range(refunds):
            at = self.later(at)
            if at > self.now:
                return
            refund_amount = fee_amount // refunds
            refund = factories.build_application_fee_refund(
                self.ids, fee=fee["id"], amount=refund_amount, balance_transaction="", created=at
            )
            back = self.balance_transaction(
                refund["id"],
                -refund_amount,
                at,
                "application_fee_refund",
                "platform_earning_refund",
            )
            self.put(
                "ApplicationFeeRefund",
                {**refund, "balance_transaction": back["id"]},
                parent=fee["id"],
            )
            refunded = fee["amount_refunded"] + refund_amount
            fee = self.update(
                fee,
                "application_fee.refunded",
                at,
                refresh=True,
                amount_refunded=refunded,
                refunded=refunded == fee_amount,
            )

    # deletions

    def deletions(self, count: int) -> None:
        """Objects deleted on Stripe: they leave every list, and only their events remain.

        Only objects nothing else points at are deleted here, so every id that a stored
        object holds still resolves.
        """
        catalog_ready = max(product["created"] for product in self.products) + 60
        for _ in range(count):
            at = self.moment(after=catalog_ready, before=self.now - DAY)
            gone = self.moment(after=at + 60)
            self.delete("Customer", self.new_customer(at), gone)

            product = self.create(
                "Product",
                factories.build_product(self.ids, created=at, name="Discontinued bundle"),
                request=True,
            )
            self.delete("Product", product, gone)

            price = factories.build_price(
                self.ids,
                product=self.rng.choice(self.products)["id"],
                created=at,
                unit_amount=4200,
                nickname="Mistyped price",
            )
            self.delete("Price", self.create("Price", price, request=True), gone)
            plan = factories.build_plan(
                self.ids,
                product=price["product"],
                created=at,
                amount=4200,
                interval="month",
                nickname="Duplicate plan",
            )
            self.delete("Plan", self.create("Plan", plan, request=True), gone)

            coupon = self.create(
                "Coupon",
                factories.build_coupon(self.ids, created=at, name="Launch week", percent_off=30),
                request=True,
            )
            self.delete("Coupon", coupon, gone)
            self.deleted_draft(at, gone)

    def deleted_draft(self, at: int, gone: int) -> None:
        """A draft invoice deleted with its items; its lines go with it, without events."""
        payer = self.payer(at)
        invoice = self.manual_invoice(1, "draft", payer=payer, created=at)
        line_model = MODELS_BY_NAME["InvoiceLineItem"]
        for line_id in self.store.children_ids(self.account, invoice["id"], line_model):
            line = self.current(line_id)
            item = self.current(line["parent"]["invoice_item_details"]["invoice_item"])
            self.delete("InvoiceItem", item, gone)
            self.store.delete(self.account, line_id)
            self.counts["InvoiceLineItem"] -= 1
        self.delete("Invoice", invoice, gone + 1)
        pending = self.rng.choice(self.prices["one_time"])
        item = factories.build_invoice_item(
            self.ids,
            customer=payer.customer,
            price=pending,
            quantity=1,
            date=at,
            description="Added by mistake",
        )
        self.delete("InvoiceItem", self.create("InvoiceItem", item, at=at, request=True), gone)

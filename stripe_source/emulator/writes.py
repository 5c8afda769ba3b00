"""Writes the emulator accepts: a route table of (method, path pattern, handler).

A handler gets a `WriteContext` (the store, the account acted on, the form-decoded parameters,
the ids in the path and the request id) and returns the object Stripe would answer with. It
stores new versions of objects (never mutating stored dicts) and emits the events Stripe would
send, tagged with the request id as Stripe tags events caused by an API request. To refuse a
request, a handler raises `ApiError`, which the server renders as Stripe's error body.

Adding a write is one decorated function:

    @write("POST", "/v1/products", "Product")
    def create_product(ctx: WriteContext) -> Obj: ...

Writes keep the side effects Stripe has, so every id an answer or an event names is stored: a
subscription's first invoice is finalized and charged within the creating request, a paid invoice
has its payment intent, charge and balance transaction, a refund books a negative balance
transaction and updates its charge. What a write leaves out of Stripe's behaviour is said in its
docstring.
"""

from __future__ import annotations

import random
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stripe_source.catalog import MODELS_BY_NAME, Model
from stripe_source.emulator.factories import (
    CANCELLATION_NONE,
    DAY,
    Ids,
    build_amount_invoice_item,
    build_balance_transaction,
    build_charge,
    build_charge_card_details,
    build_coupon,
    build_customer,
    build_invoice,
    build_invoice_item,
    build_invoice_item_line,
    build_invoice_line_item,
    build_invoice_payment,
    build_invoice_payments_list,
    build_payment_intent,
    build_payment_method,
    build_price,
    build_product,
    build_promotion_code,
    build_refund,
    build_subscription,
    build_subscription_item,
    build_tax_rate,
    finalized_invoice_fields,
    paid_invoice_fields,
    plan_of_price,
    stripe_fee,
)
from stripe_source.emulator.seed import add_interval
from stripe_source.emulator.store import Account, Obj, Store

DOCS = "https://stripe.com/docs/error-codes"
ID_ALPHABET = string.ascii_letters + string.digits


class ApiError(Exception):
    """An answer with Stripe's error body `{"error": {...}}` and an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> Obj:
        """The body with Stripe's alphabetical key order; absent parts are left out."""
        error: Obj = {}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param is not None:
            error["param"] = self.param
        error["type"] = self.type
        return {"error": error}


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def unknown_parameter(name: str) -> ApiError:
    return ApiError(
        400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
    )


def resource_missing(object_name: str, obj_id: str, param: str = "id") -> ApiError:
    return ApiError(404, f"No such {object_name}: '{obj_id}'", param=param, code="resource_missing")


@dataclass(frozen=True)
class WriteContext:
    """What a write handler acts on."""

    store: Store
    account: Account
    params: dict[str, Any]
    path_ids: dict[str, str]
    request_id: str | None
    idempotency_key: str | None = None

    @property
    def now(self) -> int:
        return self.store.clock.now()

    def emit(self, event_type: str, obj: Obj, previous: Obj | None = None) -> Obj:
        """Record an event caused by this request: Stripe tags such events with the request's
        id and idempotency key (`request`), and only `*.updated` events carry `previous`."""
        event = self.store.emit(
            self.account,
            event_type,
            obj,
            previous_attributes=previous,
            request_id=self.request_id,
        )
        if self.idempotency_key is None:
            return event
        request = {"id": self.request_id, "idempotency_key": self.idempotency_key}
        return self.store.replace(self.account, {**event, "request": request})

    def add(self, model: Model, obj: Obj, parent_id: str | None = None) -> Obj:
        return self.store.add(self.account, model, obj, parent_id=parent_id)

    def replace(self, obj: Obj) -> Obj:
        return self.store.replace(self.account, obj)

    def find(self, model: Model, obj_id: Any, param: str) -> Obj:
        """The stored object a parameter names, or Stripe's 404 naming that parameter."""
        wanted = _text(obj_id, param)
        obj = self.store.get(self.account, wanted)
        if obj is None or self.account.model_of.get(wanted) != model.name:
            raise resource_missing(model.object, wanted, param=param)
        return obj

    def ids(self) -> Ids:
        """New ids for the account that avoid every id it holds or has deleted."""
        account = self.account
        return Ids(
            account.id,
            account.number,
            random.Random(),
            taken=lambda obj_id: obj_id in account.objects or obj_id in account.deleted,
        )


Handler = Callable[[WriteContext], Obj]


@dataclass(frozen=True)
class WriteRoute:
    """One write endpoint; `model` decides the restricted-key permission it needs."""

    method: str
    pattern: str
    model: Model
    handler: Handler


ROUTES: list[WriteRoute] = []


def write(method: str, pattern: str, model_name: str) -> Callable[[Handler], Handler]:
    """Register a handler for `method` on `pattern` (path ids written `{id}`, `{parent}`)."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(WriteRoute(method, pattern, MODELS_BY_NAME[model_name], handler))
        return handler

    return register


def new_id(prefix: str) -> str:
    return f"{prefix}_{''.join(secrets.choice(ID_ALPHABET) for _ in range(14))}"


def refuse_unknown(params: dict[str, Any], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise unknown_parameter(name)


def merged_metadata(current: Obj | None, given: Any) -> Obj:
    """Stripe merges metadata key by key; an empty value unsets a key, `metadata=""` clears all."""
    if given == "":
        return {}
    if not isinstance(given, dict):
        raise invalid_request("Invalid object", param="metadata")
    merged = dict(current or {})
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


def existing(ctx: WriteContext, model: Model) -> Obj:
    obj_id = ctx.path_ids["id"]
    obj = ctx.store.get(ctx.account, obj_id)
    if obj is None or ctx.account.model_of.get(obj_id) != model.name:
        raise resource_missing(model.object, obj_id)
    return obj


def previous_attributes(before: Obj, after: Obj) -> Obj:
    """What an `*.updated` event reports as changed: old values of changed top-level fields,
    and for metadata only the keys that changed (null for keys that were added)."""
    changed: Obj = {}
    for key, value in after.items():
        old = before.get(key)
        if old == value:
            continue
        if key == "metadata":
            old = old or {}
            keys = set(old) | set(value or {})
            changed[key] = {k: old.get(k) for k in sorted(keys) if old.get(k) != value.get(k)}
        else:
            changed[key] = old
    return changed


# customers

CUSTOMER = MODELS_BY_NAME["Customer"]
CUSTOMER_FIELDS = frozenset(
    {
        "address",
        "balance",
        "description",
        "email",
        "invoice_prefix",
        "invoice_settings",
        "metadata",
        "name",
        "next_invoice_sequence",
        "phone",
        "preferred_locales",
        "shipping",
        "tax_exempt",
    }
)
CUSTOMER_PARAMS = CUSTOMER_FIELDS | {"expand"}
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
INVOICE_SETTINGS_FIELDS = frozenset({"custom_fields", "default_payment_method", "footer"})


def _customer_changes(params: dict[str, Any], current: Obj) -> Obj:
    """Stored values for the customer fields given: an empty string unsets a field, as on Stripe."""
    changes: Obj = {}
    for name in sorted(CUSTOMER_FIELDS & set(params)):
        value = params[name]
        if name == "metadata":
            changes[name] = merged_metadata(current.get("metadata"), value)
        elif name in ("balance", "next_invoice_sequence"):
            changes[name] = _integer(value, name)
        elif name == "preferred_locales":
            changes[name] = [] if value == "" else [str(v) for v in _array(value, name)]
        elif name == "address":
            changes[name] = _address(value, name)
        elif name == "shipping":
            changes[name] = _shipping(value)
        elif name == "invoice_settings":
            given = _object(value, name, INVOICE_SETTINGS_FIELDS)
            merged = {**current.get("invoice_settings", {}), **given}
            changes[name] = {k: (None if v == "" else v) for k, v in merged.items()}
        else:
            changes[name] = None if value == "" else str(value)
    return changes


def _integer(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid integer: {value}", param=param) from None


def _array(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_request("Invalid array", param=param)
    return value


def _object(value: Any, param: str, fields: frozenset[str] | tuple[str, ...]) -> Obj:
    if not isinstance(value, dict):
        raise invalid_request("Invalid object", param=param)
    for key in value:
        if key not in fields:
            raise unknown_parameter(f"{param}[{key}]")
    return value


def _address(value: Any, param: str) -> Obj | None:
    """An address with every field Stripe shows, null where not given."""
    if value == "":
        return None
    given = _object(value, param, ADDRESS_FIELDS)
    return {key: given.get(key) for key in ADDRESS_FIELDS}


def _shipping(value: Any) -> Obj | None:
    if value == "":
        return None
    given = _object(value, "shipping", ("address", "name", "phone"))
    return {
        "address": _address(given.get("address", {}), "shipping[address]"),
        "name": given.get("name"),
        "phone": given.get("phone"),
    }


@write("POST", "/v1/customers", "Customer")
def create_customer(ctx: WriteContext) -> Obj:
    refuse_unknown(ctx.params, CUSTOMER_PARAMS)
    blank = build_customer(ctx.ids(), created=ctx.now, email=None, name=None)
    customer = {**blank, **_customer_changes(ctx.params, blank)}

    ctx.store.add(ctx.account, CUSTOMER, customer)
    ctx.emit("customer.created", customer)
    return customer


@write("POST", "/v1/customers/{id}", "Customer")
def update_customer(ctx: WriteContext) -> Obj:
    refuse_unknown(ctx.params, CUSTOMER_PARAMS)
    current = existing(ctx, CUSTOMER)
    updated = {**current, **_customer_changes(ctx.params, current)}

    # Stripe sends no event for an update that changes nothing.
    changed = previous_attributes(current, updated)
    if not changed:
        return current
    ctx.store.replace(ctx.account, updated)
    ctx.emit("customer.updated", updated, changed)
    return updated


@write("DELETE", "/v1/customers/{id}", "Customer")
def delete_customer(ctx: WriteContext) -> Obj:
    refuse_unknown(ctx.params, frozenset())
    current = existing(ctx, CUSTOMER)

    ctx.store.delete(ctx.account, current["id"])
    ctx.emit("customer.deleted", current)
    return {"id": current["id"], "object": "customer", "deleted": True}


# parameters and stored versions shared by the billing writes

Converter = Callable[[Any, str], Any]


def parameter_missing(name: str) -> ApiError:
    return ApiError(400, f"Missing required param: {name}.", param=name, code="parameter_missing")


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise parameter_missing(name)
    return value


def _only_one(params: dict[str, Any], *names: str) -> None:
    given = [name for name in names if name in params]
    if len(given) > 1:
        raise invalid_request(
            f"You may only specify one of these parameters: {', '.join(given)}.", param=given[-1]
        )


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {value}", param=param)
    return value


def _nullable_text(value: Any, param: str) -> str | None:
    """Text where an empty string unsets the field, as Stripe reads it."""
    return None if value == "" else _text(value, param)


def _flag(value: Any, param: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise invalid_request(f"Invalid boolean: {value}", param=param)


def _at_least(minimum: int) -> Converter:
    def convert(value: Any, param: str) -> int:
        number = _integer(value, param)
        if number < minimum:
            raise invalid_request(
                f"This value must be greater than or equal to {minimum}.", param=param
            )
        return number

    return convert


_non_negative = _at_least(0)
_positive = _at_least(1)


def _one_of(*choices: str) -> Converter:
    """An enum parameter, refused with Stripe's message listing the valid values."""

    def convert(value: Any, param: str) -> str:
        if value not in choices:
            listed = f"{', '.join(choices[:-1])}, or {choices[-1]}" if choices[1:] else choices[0]
            raise invalid_request(f"Invalid {param}: must be one of {listed}", param=param)
        return value

    return convert


def _currency(value: Any, param: str) -> str:
    currency = _text(value, param).lower()
    if len(currency) != 3 or not currency.isalpha():
        raise invalid_request(f"Invalid currency: {value}.", param=param)
    return currency


def _text_list(value: Any, param: str) -> list[str]:
    return [] if value == "" else [_text(v, param) for v in _array(value, param)]


def _changes(params: dict[str, Any], current: Obj, fields: dict[str, Converter]) -> Obj:
    """Stored values of the fields given; metadata merges key by key as Stripe merges it."""
    changes: Obj = {}
    for name in sorted(set(fields) & set(params)):
        changes[name] = fields[name](params[name], name)
    if "metadata" in params:
        changes["metadata"] = merged_metadata(current.get("metadata"), params["metadata"])
    return changes


def _custom_id(ctx: WriteContext, object_name: str) -> str | None:
    """Products and coupons may be created under an id of the caller's choosing, once."""
    if "id" not in ctx.params:
        return None
    obj_id = _text(ctx.params["id"], "id")
    if obj_id in ctx.account.objects:
        raise invalid_request(
            f"{object_name.capitalize()} already exists.",
            param="id",
            code="resource_already_exists",
        )
    return obj_id


def _stored(ctx: WriteContext, model: Model) -> Iterator[Obj]:
    """Every stored object of a top-level model, newest first."""
    index = ctx.account.indexes.get(model.name)
    if index is None:
        return
    for obj_id in list(index.ids(0, len(index))):
        yield ctx.account.objects[obj_id]


def _children(ctx: WriteContext, parent_id: str, model: Model) -> list[Obj]:
    return [ctx.account.objects[i] for i in ctx.store.children_ids(ctx.account, parent_id, model)]


def _deleted(obj: Obj) -> Obj:
    """What Stripe answers a deletion with, and later retrieves of the object too."""
    return {"id": obj["id"], "object": obj["object"], "deleted": True}


def save_update(ctx: WriteContext, current: Obj, updated: Obj, event_type: str) -> Obj:
    """Store `updated` and announce it with the old values of exactly the fields that changed;
    Stripe sends nothing for an update that changes nothing."""
    changed = previous_attributes(current, updated)
    if not changed:
        return current
    ctx.replace(updated)
    ctx.emit(event_type, updated, changed)
    return updated


def _transition(ctx: WriteContext, obj: Obj, event_type: str, **changes: Any) -> Obj:
    """Store the next state of an object's lifecycle (finalized, paid, canceled, ...) and
    announce it; such events carry the object only, no `previous_attributes`."""
    moved = ctx.replace({**obj, **changes})
    ctx.emit(event_type, moved)
    return moved


# products

PRODUCT = MODELS_BY_NAME["Product"]
PRICE = MODELS_BY_NAME["Price"]
PLAN = MODELS_BY_NAME["Plan"]


def _marketing_features(value: Any, param: str) -> list[Obj]:
    if value == "":
        return []
    features = []
    for index, entry in enumerate(_array(value, param)):
        given = _object(entry, f"{param}[{index}]", ("name",))
        features.append({"name": _text(_required(given, "name"), f"{param}[{index}][name]")})
    return features


PRODUCT_FIELDS: dict[str, Converter] = {
    "active": _flag,
    "description": _nullable_text,
    "images": _text_list,
    "marketing_features": _marketing_features,
    "name": _text,
    "shippable": _flag,
    "statement_descriptor": _nullable_text,
    "tax_code": _nullable_text,
    "unit_label": _nullable_text,
    "url": _nullable_text,
}
PRODUCT_CREATE_PARAMS = frozenset(PRODUCT_FIELDS) | {"id", "metadata"}
PRODUCT_UPDATE_PARAMS = frozenset(PRODUCT_FIELDS) | {"default_price", "metadata"}


@write("POST", "/v1/products", "Product")
def create_product(ctx: WriteContext) -> Obj:
    """A product, under an id of the caller's choosing if `id` is given."""
    refuse_unknown(ctx.params, PRODUCT_CREATE_PARAMS)
    name = _text(_required(ctx.params, "name"), "name")
    product_id = _custom_id(ctx, "product")

    blank = build_product(ctx.ids(), created=ctx.now, name=name)
    product = {**blank, **_changes(ctx.params, blank, PRODUCT_FIELDS)}
    if product_id is not None:
        product = {**product, "id": product_id}

    ctx.add(PRODUCT, product)
    ctx.emit("product.created", product)
    return product


@write("POST", "/v1/products/{id}", "Product")
def update_product(ctx: WriteContext) -> Obj:
    """Products are among the few objects with an `updated` time; any change moves it."""
    refuse_unknown(ctx.params, PRODUCT_UPDATE_PARAMS)
    current = existing(ctx, PRODUCT)
    changes = _changes(ctx.params, current, PRODUCT_FIELDS)
    if "default_price" in ctx.params:
        changes["default_price"] = _default_price(ctx, current, ctx.params["default_price"])

    updated = {**current, **changes}
    if updated != current:
        updated = {**updated, "updated": ctx.now}
    return save_update(ctx, current, updated, "product.updated")


def _default_price(ctx: WriteContext, product: Obj, value: Any) -> str | None:
    if value == "":
        return None
    price = ctx.find(PRICE, value, "default_price")
    if price["product"] != product["id"]:
        raise invalid_request(
            f"The price `{price['id']}` belongs to product `{price['product']}`, not to "
            f"`{product['id']}`; a product's default price must be one of its own.",
            param="default_price",
        )
    return price["id"]


@write("DELETE", "/v1/products/{id}", "Product")
def delete_product(ctx: WriteContext) -> Obj:
    """Stripe deletes only products that never had a price; others can only be archived."""
    refuse_unknown(ctx.params, frozenset())
    current = existing(ctx, PRODUCT)
    if any(
        price.get("product") == current["id"]
        for model in (PRICE, PLAN)
        for price in _stored(ctx, model)
    ):
        raise invalid_request(
            "This product cannot be deleted because it has one or more user-created prices."
        )

    ctx.store.delete(ctx.account, current["id"])
    ctx.emit("product.deleted", current)
    return _deleted(current)


# prices

PRICE_FIELDS: dict[str, Converter] = {
    "active": _flag,
    "lookup_key": _nullable_text,
    "nickname": _nullable_text,
    "tax_behavior": _one_of("exclusive", "inclusive", "unspecified"),
}
PRICE_CREATE_PARAMS = frozenset(PRICE_FIELDS) | {
    "currency",
    "metadata",
    "product",
    "product_data",
    "recurring",
    "transfer_lookup_key",
    "unit_amount",
    "unit_amount_decimal",
}
PRICE_UPDATE_PARAMS = frozenset(PRICE_FIELDS) | {"metadata", "transfer_lookup_key"}
PRODUCT_DATA_FIELDS = ("active", "metadata", "name", "statement_descriptor", "tax_code")
RECURRING_FIELDS = ("interval", "interval_count", "trial_period_days", "usage_type")
INTERVALS = ("day", "month", "week", "year")


@write("POST", "/v1/prices", "Price")
def create_price(ctx: WriteContext) -> Obj:
    """A price of a product, or of a new product described by `product_data` (announced first).

    Only per-unit licensed prices are emulated: tiers, custom amounts and metered usage are not.
    """
    params = ctx.params
    refuse_unknown(params, PRICE_CREATE_PARAMS)
    currency = _currency(_required(params, "currency"), "currency")
    unit_amount = _unit_amount(params)
    recurring = _recurring(params.get("recurring"))
    transfer = _flag(params.get("transfer_lookup_key", "false"), "transfer_lookup_key")
    ids = ctx.ids()
    product, new_product = _price_product(ctx, ids, params)

    blank = build_price(
        ids,
        product=product["id"],
        created=ctx.now,
        unit_amount=unit_amount,
        currency=currency,
        **recurring,
    )
    price = {**blank, **_changes(params, blank, PRICE_FIELDS)}
    holder = _lookup_key_holder(ctx, price, transfer)

    if new_product:
        ctx.add(PRODUCT, product)
        ctx.emit("product.created", product)
    if holder is not None:
        save_update(ctx, holder, {**holder, "lookup_key": None}, "price.updated")
    ctx.add(PRICE, price)
    ctx.emit("price.created", price)
    return price


@write("POST", "/v1/prices/{id}", "Price")
def update_price(ctx: WriteContext) -> Obj:
    """Stripe has no way to delete a price through the API: `active=false` archives it."""
    refuse_unknown(ctx.params, PRICE_UPDATE_PARAMS)
    current = existing(ctx, PRICE)
    transfer = _flag(ctx.params.get("transfer_lookup_key", "false"), "transfer_lookup_key")
    updated = {**current, **_changes(ctx.params, current, PRICE_FIELDS)}
    holder = _lookup_key_holder(ctx, updated, transfer)

    if holder is not None:
        save_update(ctx, holder, {**holder, "lookup_key": None}, "price.updated")
    return save_update(ctx, current, updated, "price.updated")


def _unit_amount(params: dict[str, Any]) -> int:
    _only_one(params, "unit_amount", "unit_amount_decimal")
    if "unit_amount_decimal" in params:
        text = _text(params["unit_amount_decimal"], "unit_amount_decimal")
        if not text.isdigit():
            raise invalid_request(
                "The emulator keeps whole minor units only; give `unit_amount_decimal` without "
                f"fractions (got {text}).",
                param="unit_amount_decimal",
            )
        return int(text)
    return _non_negative(_required(params, "unit_amount"), "unit_amount")


def _recurring(value: Any) -> dict[str, Any]:
    """The keyword arguments `build_price` takes for `recurring[...]`; none for one-time."""
    if value is None:
        return {}
    given = _object(value, "recurring", RECURRING_FIELDS)
    recurring: dict[str, Any] = {
        "interval": _one_of(*INTERVALS)(_required(given, "interval"), "recurring[interval]")
    }
    if "interval_count" in given:
        recurring["interval_count"] = _positive(
            given["interval_count"], "recurring[interval_count]"
        )
    if "trial_period_days" in given:
        days = _non_negative(given["trial_period_days"], "recurring[trial_period_days]")
        recurring["trial_period_days"] = days
    usage_type = _one_of("licensed", "metered")(
        given.get("usage_type", "licensed"), "recurring[usage_type]"
    )
    if usage_type == "metered":
        raise invalid_request(
            "The emulator bills licensed quantities only; metered prices are not emulated.",
            param="recurring[usage_type]",
        )
    return recurring


def _price_product(ctx: WriteContext, ids: Ids, params: dict[str, Any]) -> tuple[Obj, bool]:
    """The price's product and whether it is new (made from `product_data`)."""
    _only_one(params, "product", "product_data")
    if "product" in params:
        return ctx.find(PRODUCT, params["product"], "product"), False
    if "product_data" not in params:
        raise parameter_missing("product")
    given = _object(params["product_data"], "product_data", PRODUCT_DATA_FIELDS)
    name = _text(_required(given, "name"), "product_data[name]")
    blank = build_product(ids, created=ctx.now, name=name)
    fields = {k: v for k, v in PRODUCT_FIELDS.items() if k in PRODUCT_DATA_FIELDS}
    return {**blank, **_changes(given, blank, fields)}, True


def _lookup_key_holder(ctx: WriteContext, price: Obj, transfer: bool) -> Obj | None:
    """Another price holding the lookup key `price` wants: Stripe refuses the key unless
    `transfer_lookup_key=true`, which takes it from the other price (returned here)."""
    lookup_key = price.get("lookup_key")
    if lookup_key is None:
        return None
    for other in _stored(ctx, PRICE):
        if other["id"] != price["id"] and other.get("lookup_key") == lookup_key:
            if not transfer:
                raise invalid_request(
                    f"A price (`{other['id']}`) already uses that lookup key.",
                    param="lookup_key",
                )
            return other
    return None


# coupons

COUPON = MODELS_BY_NAME["Coupon"]
COUPON_FIELDS: dict[str, Converter] = {"name": _nullable_text}
COUPON_CREATE_PARAMS = frozenset(COUPON_FIELDS) | {
    "amount_off",
    "currency",
    "duration",
    "duration_in_months",
    "id",
    "max_redemptions",
    "metadata",
    "percent_off",
    "redeem_by",
}
DURATIONS = ("forever", "once", "repeating")


@write("POST", "/v1/coupons", "Coupon")
def create_coupon(ctx: WriteContext) -> Obj:
    """A percentage or a fixed amount off, for one invoice, some months or forever."""
    params = ctx.params
    refuse_unknown(params, COUPON_CREATE_PARAMS)
    percent_off, amount_off, currency = _coupon_value(params)
    duration = _one_of(*DURATIONS)(params.get("duration", "once"), "duration")
    months = _duration_in_months(params, duration)
    coupon_id = _custom_id(ctx, "coupon")

    blank = build_coupon(
        ctx.ids(),
        created=ctx.now,
        name="",
        percent_off=percent_off,
        amount_off=amount_off,
        duration=duration,
        duration_in_months=months,
        max_redemptions=_optional(params, "max_redemptions", _positive),
        redeem_by=_optional(params, "redeem_by", _integer),
        currency=currency,
    )
    coupon = {**blank, "name": None, **_changes(params, blank, COUPON_FIELDS)}
    if coupon_id is not None:
        coupon = {**coupon, "id": coupon_id}

    ctx.add(COUPON, coupon)
    ctx.emit("coupon.created", coupon)
    return coupon


@write("POST", "/v1/coupons/{id}", "Coupon")
def update_coupon(ctx: WriteContext) -> Obj:
    """Stripe lets a coupon's name and metadata change, never what it takes off."""
    refuse_unknown(ctx.params, frozenset(COUPON_FIELDS) | {"metadata"})
    current = existing(ctx, COUPON)
    updated = {**current, **_changes(ctx.params, current, COUPON_FIELDS)}
    return save_update(ctx, current, updated, "coupon.updated")


@write("DELETE", "/v1/coupons/{id}", "Coupon")
def delete_coupon(ctx: WriteContext) -> Obj:
    """Deleting a coupon stops new redemptions; discounts already given keep applying."""
    refuse_unknown(ctx.params, frozenset())
    current = existing(ctx, COUPON)

    ctx.store.delete(ctx.account, current["id"])
    ctx.emit("coupon.deleted", current)
    return _deleted(current)


def _optional(params: dict[str, Any], name: str, convert: Converter) -> Any:
    return convert(params[name], name) if name in params else None


def _coupon_value(params: dict[str, Any]) -> tuple[float | None, int | None, str]:
    """(percent_off, amount_off, currency): exactly one of the two, and a currency with an
    amount."""
    _only_one(params, "percent_off", "amount_off")
    if "percent_off" in params:
        try:
            percent = float(params["percent_off"])
        except (TypeError, ValueError):
            raise invalid_request(
                f"Invalid decimal: {params['percent_off']}", param="percent_off"
            ) from None
        if not 0 < percent <= 100:
            raise invalid_request(
                "percent_off must be greater than 0 and at most 100.", param="percent_off"
            )
        return percent, None, "usd"
    if "amount_off" not in params:
        raise invalid_request(
            "Coupons must have either an `amount_off` or a `percent_off`.", param="percent_off"
        )
    amount = _positive(params["amount_off"], "amount_off")
    return None, amount, _currency(_required(params, "currency"), "currency")


def _duration_in_months(params: dict[str, Any], duration: str) -> int | None:
    if duration == "repeating":
        return _positive(_required(params, "duration_in_months"), "duration_in_months")
    if "duration_in_months" in params:
        raise invalid_request(
            "`duration_in_months` applies only to coupons with `duration=repeating`.",
            param="duration_in_months",
        )
    return None


# promotion codes

PROMOTION_CODE = MODELS_BY_NAME["PromotionCode"]
PROMOTION_CODE_FIELDS: dict[str, Converter] = {"active": _flag}
PROMOTION_CODE_CREATE_PARAMS = frozenset(PROMOTION_CODE_FIELDS) | {
    "code",
    "customer",
    "expires_at",
    "max_redemptions",
    "metadata",
    "promotion",
    "restrictions",
}
RESTRICTION_FIELDS = ("first_time_transaction", "minimum_amount", "minimum_amount_currency")


@write("POST", "/v1/promotion_codes", "PromotionCode")
def create_promotion_code(ctx: WriteContext) -> Obj:
    """A customer-facing code for a coupon (`promotion[type]=coupon`, `promotion[coupon]`).

    Without `code` Stripe makes one up; two active codes may not share a code.
    """
    params = ctx.params
    refuse_unknown(params, PROMOTION_CODE_CREATE_PARAMS)
    coupon = _promoted_coupon(ctx, _required(params, "promotion"))
    customer = _optional(params, "customer", lambda v, p: ctx.find(CUSTOMER, v, p)["id"])
    restrictions = _restrictions(params.get("restrictions"))
    ids = ctx.ids()
    code = _text(params["code"], "code") if "code" in params else ids.code(8)
    _refuse_active_code(ctx, code)

    blank = build_promotion_code(
        ids,
        coupon=coupon["id"],
        code=code,
        created=ctx.now,
        customer=customer,
        expires_at=_optional(params, "expires_at", _integer),
        max_redemptions=_optional(params, "max_redemptions", _positive),
    )
    promotion_code = {
        **blank,
        **_changes(params, blank, PROMOTION_CODE_FIELDS),
        "restrictions": {**blank["restrictions"], **restrictions},
    }

    ctx.add(PROMOTION_CODE, promotion_code)
    ctx.emit("promotion_code.created", promotion_code)
    return promotion_code


@write("POST", "/v1/promotion_codes/{id}", "PromotionCode")
def update_promotion_code(ctx: WriteContext) -> Obj:
    """Only `active` and metadata change; Stripe has no deletion for promotion codes."""
    refuse_unknown(ctx.params, frozenset(PROMOTION_CODE_FIELDS) | {"metadata"})
    current = existing(ctx, PROMOTION_CODE)
    updated = {**current, **_changes(ctx.params, current, PROMOTION_CODE_FIELDS)}
    if updated["active"] and not current["active"]:
        _refuse_active_code(ctx, current["code"])
    return save_update(ctx, current, updated, "promotion_code.updated")


def _promoted_coupon(ctx: WriteContext, value: Any) -> Obj:
    given = _object(value, "promotion", ("coupon", "type"))
    _one_of("coupon")(_required(given, "type"), "promotion[type]")
    return ctx.find(COUPON, _required(given, "coupon"), "promotion[coupon]")


def _restrictions(value: Any) -> Obj:
    if value is None:
        return {}
    given = _object(value, "restrictions", RESTRICTION_FIELDS)
    found: Obj = {}
    if "first_time_transaction" in given:
        found["first_time_transaction"] = _flag(
            given["first_time_transaction"], "restrictions[first_time_transaction]"
        )
    if "minimum_amount" in given:
        found["minimum_amount"] = _positive(given["minimum_amount"], "restrictions[minimum_amount]")
        found["minimum_amount_currency"] = _currency(
            _required(given, "minimum_amount_currency"), "restrictions[minimum_amount_currency]"
        )
    return found


def _refuse_active_code(ctx: WriteContext, code: str) -> None:
    for other in _stored(ctx, PROMOTION_CODE):
        if other["active"] and other["code"] == code:
            raise invalid_request(
                f"An active promotion code with `code: {code}` already exists.", param="code"
            )


# tax rates

TAX_RATE = MODELS_BY_NAME["TaxRate"]
TAX_RATE_FIELDS: dict[str, Converter] = {
    "active": _flag,
    "country": _nullable_text,
    "description": _nullable_text,
    "display_name": _text,
    "jurisdiction": _nullable_text,
    "state": _nullable_text,
    "tax_type": _nullable_text,
}
TAX_RATE_CREATE_PARAMS = frozenset(TAX_RATE_FIELDS) | {"inclusive", "metadata", "percentage"}


@write("POST", "/v1/tax_rates", "TaxRate")
def create_tax_rate(ctx: WriteContext) -> Obj:
    """A tax rate; its percentage and inclusiveness are fixed for life."""
    params = ctx.params
    refuse_unknown(params, TAX_RATE_CREATE_PARAMS)
    display_name = _text(_required(params, "display_name"), "display_name")
    percentage = _percentage(_required(params, "percentage"))
    inclusive = _flag(_required(params, "inclusive"), "inclusive")

    blank = build_tax_rate(
        ctx.ids(),
        created=ctx.now,
        display_name=display_name,
        percentage=percentage,
        inclusive=inclusive,
        country=None,
        tax_type=None,
    )
    tax_rate = _with_jurisdiction_level({**blank, **_changes(params, blank, TAX_RATE_FIELDS)})

    ctx.add(TAX_RATE, tax_rate)
    ctx.emit("tax_rate.created", tax_rate)
    return tax_rate


@write("POST", "/v1/tax_rates/{id}", "TaxRate")
def update_tax_rate(ctx: WriteContext) -> Obj:
    """Stripe never deletes a tax rate: `active=false` archives it, and it stays listed."""
    refuse_unknown(ctx.params, frozenset(TAX_RATE_FIELDS) | {"metadata"})
    current = existing(ctx, TAX_RATE)
    updated = {**current, **_changes(ctx.params, current, TAX_RATE_FIELDS)}
    return save_update(ctx, current, _with_jurisdiction_level(updated), "tax_rate.updated")


def _percentage(value: Any) -> float:
    try:
        percentage = float(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid decimal: {value}", param="percentage") from None
    if not 0 <= percentage <= 100:
        raise invalid_request("percentage must be between 0 and 100.", param="percentage")
    return percentage


def _with_jurisdiction_level(tax_rate: Obj) -> Obj:
    return {**tax_rate, "jurisdiction_level": "state" if tax_rate["state"] else None}


# payment methods and charges

PAYMENT_METHOD = MODELS_BY_NAME["PaymentMethod"]
PAYMENT_INTENT = MODELS_BY_NAME["PaymentIntent"]
CHARGE = MODELS_BY_NAME["Charge"]
BALANCE_TRANSACTION = MODELS_BY_NAME["BalanceTransaction"]
REFUND = MODELS_BY_NAME["Refund"]

# Stripe's test-mode payment method tokens a payment intent accepts in place of an id.
TEST_CARD_TOKENS = {
    "pm_card_visa": "visa",
    "pm_card_mastercard": "mastercard",
    "pm_card_amex": "amex",
    "pm_card_discover": "discover",
}


def _payment_method(ctx: WriteContext, value: Any, param: str, customer: str | None) -> Obj:
    """A stored card payment method usable for `customer`: unattached, or attached to them."""
    pm_id = _text(value, param)
    payment_method = ctx.account.objects.get(pm_id)
    if payment_method is None or ctx.account.model_of.get(pm_id) != PAYMENT_METHOD.name:
        raise ApiError(
            404, f"No such PaymentMethod: '{pm_id}'", param=param, code="resource_missing"
        )
    owner = payment_method.get("customer")
    if owner is not None and owner != customer:
        raise invalid_request(
            f"The payment method `{pm_id}` is attached to customer {owner}; only that "
            "customer's payments can use it.",
            param=param,
        )
    if "card" not in payment_method:
        raise invalid_request(
            f"The emulator charges cards only; {pm_id} is a {payment_method.get('type')} "
            "payment method.",
            param=param,
        )
    return payment_method


def _attached_payment_method(ctx: WriteContext, value: Any, param: str, customer: str) -> Obj:
    """Subscriptions and invoices charge only payment methods attached to their customer."""
    payment_method = _payment_method(ctx, value, param, customer)
    if payment_method.get("customer") != customer:
        raise invalid_request(
            f"The customer does not have a payment method with the ID {payment_method['id']}. "
            "The payment method must be attached to the customer.",
            param=param,
        )
    return payment_method


def _intent_payment_method(
    ctx: WriteContext, ids: Ids, value: Any, customer: str | None
) -> tuple[Obj, bool]:
    """The payment method a payment intent names, and whether it is new: a test token such as
    `pm_card_visa` makes Stripe create a fresh payment method attached to no one."""
    brand = TEST_CARD_TOKENS.get(value) if isinstance(value, str) else None
    if brand is None:
        return _payment_method(ctx, value, "payment_method", customer), False
    card = build_payment_method(
        ids, customer=None, created=ctx.now, name=None, email=None, brand=brand
    )
    return card, True


def _default_payment_method(ctx: WriteContext, customer: Obj, *preferred: str | None) -> Obj | None:
    """What Stripe charges for an invoice: the first of the invoice's or subscription's own
    default payment method and the customer's `invoice_settings.default_payment_method`."""
    invoice_settings = customer.get("invoice_settings") or {}
    for pm_id in (*preferred, invoice_settings.get("default_payment_method")):
        payment_method = ctx.account.objects.get(pm_id) if pm_id else None
        if payment_method is not None and "card" in payment_method:
            return payment_method
    return None


def _charge_card(ctx: WriteContext, ids: Ids, intent: Obj, payment_method: Obj) -> Obj:
    """Confirm a payment intent with a card: a succeeded charge with its balance transaction,
    pending until the funds settle two days later, then the intent marked succeeded.

    Emulated cards are never declined, so confirmation always succeeds.
    """
    amount = intent["amount"]
    charge = build_charge(
        ids,
        customer=intent["customer"],
        amount=amount,
        created=ctx.now,
        payment_intent=intent["id"],
        payment_method=payment_method["id"],
        payment_method_details=build_charge_card_details(payment_method),
        billing_details=payment_method["billing_details"],
        balance_transaction=None,
        description=intent["description"],
        receipt_email=intent["receipt_email"],
        currency=intent["currency"],
    )
    transaction = build_balance_transaction(
        ids,
        source=charge["id"],
        amount=amount,
        created=ctx.now,
        type="charge",
        reporting_category="charge",
        fee=stripe_fee(amount),
        status="pending",
        currency=intent["currency"],
    )

    ctx.add(BALANCE_TRANSACTION, transaction)
    charge = ctx.add(CHARGE, {**charge, "balance_transaction": transaction["id"]})
    ctx.emit("charge.succeeded", charge)

    return _transition(
        ctx,
        intent,
        "payment_intent.succeeded",
        status="succeeded",
        amount_received=amount,
        latest_charge=charge["id"],
        payment_method=payment_method["id"],
        last_payment_error=None,
    )


# payment intents

PAYMENT_INTENT_PARAMS = frozenset(
    {
        "amount",
        "automatic_payment_methods",
        "capture_method",
        "confirm",
        "currency",
        "customer",
        "description",
        "metadata",
        "off_session",
        "payment_method",
        "payment_method_types",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor_suffix",
        "transfer_group",
    }
)
CONFIRM_PARAMS = frozenset({"off_session", "payment_method", "receipt_email", "return_url"})
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
MINIMUM_USD_AMOUNT = 50


@write("POST", "/v1/payment_intents", "PaymentIntent")
def create_payment_intent(ctx: WriteContext) -> Obj:
    """A payment intent, confirmed at once with `confirm=true`.

    Only automatic capture is emulated; `capture_method=manual` is refused.
    """
    params = ctx.params
    refuse_unknown(params, PAYMENT_INTENT_PARAMS)
    amount = _intent_amount(params)
    currency = _currency(_required(params, "currency"), "currency")
    customer = _optional(params, "customer", lambda v, p: ctx.find(CUSTOMER, v, p)["id"])
    confirm = _flag(params.get("confirm", "false"), "confirm")
    _automatic_capture(params)
    if confirm and "payment_method" not in params:
        raise _missing_payment_method()
    ids = ctx.ids()
    payment_method, new_card = (
        _intent_payment_method(ctx, ids, params["payment_method"], customer)
        if "payment_method" in params
        else (None, False)
    )

    intent = build_payment_intent(
        ids,
        customer=customer,
        amount=amount,
        created=ctx.now,
        payment_method=payment_method["id"] if payment_method else None,
        description=_optional(params, "description", _nullable_text),
        status="requires_confirmation" if payment_method else "requires_payment_method",
        receipt_email=_optional(params, "receipt_email", _nullable_text),
        setup_future_usage=_optional(
            params, "setup_future_usage", _one_of("off_session", "on_session")
        ),
        metadata=merged_metadata(None, params.get("metadata", {})),
        currency=currency,
    )
    intent = {**intent, **_intent_extras(params)}

    if new_card and payment_method is not None:
        ctx.add(PAYMENT_METHOD, payment_method)
    ctx.add(PAYMENT_INTENT, intent)
    ctx.emit("payment_intent.created", intent)
    if confirm and payment_method is not None:
        return _charge_card(ctx, ids, intent, payment_method)
    return intent


@write("POST", "/v1/payment_intents/{id}/confirm", "PaymentIntent")
def confirm_payment_intent(ctx: WriteContext) -> Obj:
    """Charge the intent's card (or the `payment_method` given now) and settle the intent."""
    refuse_unknown(ctx.params, CONFIRM_PARAMS)
    intent = existing(ctx, PAYMENT_INTENT)
    if intent["status"] not in CONFIRMABLE:
        raise _unexpected_state(intent, "confirm", CONFIRMABLE)
    ids = ctx.ids()
    if "payment_method" in ctx.params:
        payment_method, new_card = _intent_payment_method(
            ctx, ids, ctx.params["payment_method"], intent["customer"]
        )
    elif intent["payment_method"]:
        payment_method = ctx.find(PAYMENT_METHOD, intent["payment_method"], "payment_method")
        new_card = False
    else:
        raise _missing_payment_method()
    receipt_email = _optional(ctx.params, "receipt_email", _nullable_text)

    if new_card:
        ctx.add(PAYMENT_METHOD, payment_method)
    if receipt_email is not None:
        intent = ctx.replace({**intent, "receipt_email": receipt_email})
    return _charge_card(ctx, ids, intent, payment_method)


@write("POST", "/v1/payment_intents/{id}/cancel", "PaymentIntent")
def cancel_payment_intent(ctx: WriteContext) -> Obj:
    """An intent that has not succeeded can be canceled; a canceled one stays listed."""
    refuse_unknown(ctx.params, frozenset({"cancellation_reason"}))
    intent = existing(ctx, PAYMENT_INTENT)
    if intent["status"] not in CANCELABLE:
        raise _unexpected_state(intent, "cancel", CANCELABLE)
    reason = _optional(ctx.params, "cancellation_reason", _one_of(*CANCELLATION_REASONS))

    return _transition(
        ctx,
        intent,
        "payment_intent.canceled",
        status="canceled",
        canceled_at=ctx.now,
        cancellation_reason=reason,
    )


def _intent_amount(params: dict[str, Any]) -> int:
    amount = _positive(_required(params, "amount"), "amount")
    if params.get("currency") == "usd" and amount < MINIMUM_USD_AMOUNT:
        raise invalid_request(
            "Amount must be at least $0.50 usd", param="amount", code="amount_too_small"
        )
    return amount


def _automatic_capture(params: dict[str, Any]) -> None:
    method = params.get("capture_method", "automatic")
    _one_of("automatic", "automatic_async", "manual")(method, "capture_method")
    if method == "manual":
        raise invalid_request(
            "The emulator captures payments automatically only; leave out `capture_method=manual`.",
            param="capture_method",
        )


def _intent_extras(params: dict[str, Any]) -> Obj:
    """Fields of a new intent set directly from parameters of the same name."""
    extras: Obj = {}
    if "payment_method_types" in params:
        extras["payment_method_types"] = _text_list(
            params["payment_method_types"], "payment_method_types"
        )
    if "automatic_payment_methods" in params:
        given = _object(
            params["automatic_payment_methods"],
            "automatic_payment_methods",
            ("allow_redirects", "enabled"),
        )
        extras["automatic_payment_methods"] = {
            "allow_redirects": given.get("allow_redirects", "always"),
            "enabled": _flag(_required(given, "enabled"), "automatic_payment_methods[enabled]"),
        }
    for name in ("statement_descriptor_suffix", "transfer_group"):
        if name in params:
            extras[name] = _nullable_text(params[name], name)
    return extras


def _missing_payment_method() -> ApiError:
    return invalid_request(
        "You cannot confirm this PaymentIntent because it's missing a payment method. To "
        "confirm the PaymentIntent with a payment method, pass `payment_method`.",
        param="payment_method",
        code="payment_intent_unexpected_state",
    )


def _unexpected_state(intent: Obj, action: str, allowed: tuple[str, ...]) -> ApiError:
    return invalid_request(
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}. "
        f"Only a PaymentIntent with one of the following statuses may be {action}ed: "
        f"{', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
    )


# refunds

REFUND_PARAMS = frozenset({"amount", "charge", "metadata", "payment_intent", "reason"})
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@write("POST", "/v1/refunds", "Refund")
def create_refund(ctx: WriteContext) -> Obj:
    """Refund all or part of what a charge (or a payment intent's charge) has left unrefunded.

    Card refunds succeed at once in test mode: the refund, its negative balance transaction,
    then the charge's new `amount_refunded` and `refunded`, announced as `refund.created` and
    `charge.refunded`.
    """
    params = ctx.params
    refuse_unknown(params, REFUND_PARAMS)
    charge = _refunded_charge(ctx, params)
    amount = _refund_amount(params, charge)
    reason = _optional(params, "reason", _one_of(*REFUND_REASONS))
    ids = ctx.ids()

    refund = build_refund(
        ids, charge=charge, amount=amount, created=ctx.now, balance_transaction="", reason=reason
    )
    transaction = build_balance_transaction(
        ids,
        source=refund["id"],
        amount=-amount,
        created=ctx.now,
        type="refund",
        reporting_category="refund",
        available_on=ctx.now,
        currency=charge["currency"],
    )
    refund = {
        **refund,
        "balance_transaction": transaction["id"],
        "metadata": merged_metadata(None, params.get("metadata", {})),
    }

    ctx.add(BALANCE_TRANSACTION, transaction)
    ctx.add(REFUND, refund)
    ctx.emit("refund.created", refund)

    refunded = charge["amount_refunded"] + amount
    _transition(
        ctx,
        charge,
        "charge.refunded",
        amount_refunded=refunded,
        refunded=refunded == charge["amount"],
    )
    return refund


def _refunded_charge(ctx: WriteContext, params: dict[str, Any]) -> Obj:
    _only_one(params, "charge", "payment_intent")
    if "charge" in params:
        charge = ctx.find(CHARGE, params["charge"], "charge")
    elif "payment_intent" in params:
        intent = ctx.find(PAYMENT_INTENT, params["payment_intent"], "payment_intent")
        if intent["status"] != "succeeded" or not intent.get("latest_charge"):
            raise invalid_request(
                f"PaymentIntent {intent['id']} has a status of {intent['status']} and no "
                "successful charge to refund.",
                param="payment_intent",
            )
        charge = ctx.find(CHARGE, intent["latest_charge"], "payment_intent")
    else:
        raise invalid_request(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if charge.get("status") != "succeeded":
        raise invalid_request(
            f"Charge {charge['id']} has a status of {charge.get('status')}; only succeeded "
            "charges can be refunded.",
            param="charge",
        )
    if charge["amount_refunded"] >= charge["amount"]:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.",
            param="charge",
            code="charge_already_refunded",
        )
    return charge


def _refund_amount(params: dict[str, Any], charge: Obj) -> int:
    left = charge["amount"] - charge["amount_refunded"]
    amount = _positive(params["amount"], "amount") if "amount" in params else left
    if amount > left:
        raise invalid_request(
            f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded "
            f"amount on charge ({_money(left, charge['currency'])})",
            param="amount",
            code="amount_too_large",
        )
    return amount


def _money(amount: int, currency: str) -> str:
    if currency == "usd":
        return f"${amount / 100:.2f}"
    return f"{amount / 100:.2f} {currency.upper()}"


# invoices: shared steps

INVOICE = MODELS_BY_NAME["Invoice"]
INVOICE_LINE = MODELS_BY_NAME["InvoiceLineItem"]
INVOICE_ITEM = MODELS_BY_NAME["InvoiceItem"]
SUBSCRIPTION = MODELS_BY_NAME["Subscription"]
SUBSCRIPTION_ITEM = MODELS_BY_NAME["SubscriptionItem"]
CUSTOMER_COPIED_FIELDS = ("address", "email", "name", "phone")


def _invoiced_customer(customer: Obj) -> Obj:
    """The customer fields Stripe copies onto a new invoice (hand-built stores may lack some)."""
    copied = {name: customer.get(name) for name in CUSTOMER_COPIED_FIELDS}
    return {**copied, "id": customer["id"], "tax_exempt": customer.get("tax_exempt") or "none"}


def _with_totals(invoice: Obj, lines: list[Obj]) -> Obj:
    """A draft's amounts from its lines: discounts are allocated to lines (`discount_amounts`)
    and summed per discount into `total_discount_amounts`, as Stripe reports them."""
    subtotal = sum(line["amount"] for line in lines)
    discounts: dict[str, int] = {}
    for line in lines:
        for share in line.get("discount_amounts") or ():
            discounts[share["discount"]] = discounts.get(share["discount"], 0) + share["amount"]
    total = subtotal - sum(discounts.values())
    due = max(total, 0)
    return {
        **invoice,
        "amount_due": due,
        "amount_remaining": due,
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "total": total,
        "total_excluding_tax": total,
        "total_discount_amounts": [
            {"amount": amount, "discount": discount} for discount, amount in discounts.items()
        ],
    }


def _store_invoice(ctx: WriteContext, invoice: Obj, lines: list[Obj]) -> Obj:
    """Store a new draft and its lines, then announce it with its first 10 lines embedded."""
    ctx.add(INVOICE, _with_totals(invoice, lines))
    for line in lines:
        ctx.add(INVOICE_LINE, line, parent_id=invoice["id"])
    stored = ctx.store.refresh_embedded(ctx.account, invoice["id"])
    ctx.emit("invoice.created", stored)
    return stored


def _announce_new_lines(ctx: WriteContext, invoice: Obj) -> Obj:
    """Recompute a draft after its lines changed and send `invoice.updated`, as Stripe does
    when invoice items join or leave a draft."""
    ctx.replace(_with_totals(invoice, _children(ctx, invoice["id"], INVOICE_LINE)))
    updated = ctx.store.refresh_embedded(ctx.account, invoice["id"])
    ctx.emit("invoice.updated", updated, previous_attributes(invoice, updated))
    return updated


def _invoice_number(ctx: WriteContext, customer_id: str) -> str:
    """Stripe numbers each customer's invoices `<invoice_prefix>-0001`, `-0002`, ... in the
    order they are finalized."""
    customer = ctx.account.objects.get(customer_id) or {}
    prefix = customer.get("invoice_prefix") or customer_id[-8:].upper()
    numbered = sum(
        1
        for invoice in _stored(ctx, INVOICE)
        if invoice["customer"] == customer_id and invoice.get("number")
    )
    return f"{prefix}-{numbered + 1:04d}"


def _finalize(ctx: WriteContext, ids: Ids, invoice: Obj) -> Obj:
    """A draft becomes open with a number; an invoice for nothing is paid at once."""
    fields = finalized_invoice_fields(
        ids, invoice, at=ctx.now, number=_invoice_number(ctx, invoice["customer"])
    )
    if not invoice["auto_advance"]:
        fields = {**fields, "next_payment_attempt": None}
    finalized = _transition(
        ctx, invoice, "invoice.finalized", **fields, automatically_finalizes_at=None
    )
    if finalized["amount_due"] == 0:
        return _mark_paid(ctx, finalized, payments=None)
    return finalized


def _collect(ctx: WriteContext, ids: Ids, invoice: Obj, payment_method: Obj) -> Obj:
    """Charge an open invoice: a payment intent for the amount due, confirmed with the card, and
    the invoice paid with that payment in its `payments`."""
    subscription_create = invoice["billing_reason"] == "subscription_create"
    intent = build_payment_intent(
        ids,
        customer=invoice["customer"],
        amount=invoice["amount_due"],
        created=ctx.now,
        payment_method=payment_method["id"],
        description="Subscription creation" if subscription_create else "Payment for Invoice",
        status="requires_confirmation",
        receipt_email=invoice["customer_email"],
        currency=invoice["currency"],
    )
    ctx.add(PAYMENT_INTENT, intent)
    ctx.emit("payment_intent.created", intent)
    intent = _charge_card(ctx, ids, intent, payment_method)

    payment = build_invoice_payment(
        ids,
        invoice=invoice["id"],
        payment_intent=intent["id"],
        amount=invoice["amount_due"],
        created=ctx.now,
        status="paid",
        paid_at=ctx.now,
        currency=invoice["currency"],
    )
    payments = build_invoice_payments_list(invoice["id"], [payment])
    return _mark_paid(ctx, invoice, payments)


def _mark_paid(ctx: WriteContext, invoice: Obj, payments: Obj | None) -> Obj:
    """Stripe announces a paid invoice twice, `invoice.paid` then `invoice.payment_succeeded`,
    and never advances a paid invoice automatically again."""
    fields = paid_invoice_fields(invoice, at=ctx.now, payments=payments)
    paid = _transition(ctx, invoice, "invoice.paid", **fields, auto_advance=False)
    ctx.emit("invoice.payment_succeeded", paid)
    return paid


def _line_of_item(ctx: WriteContext, item: Obj) -> Obj | None:
    for line in _children(ctx, item["invoice"], INVOICE_LINE):
        details = (line.get("parent") or {}).get("invoice_item_details") or {}
        if details.get("invoice_item") == item["id"]:
            return line
    return None


def _draft(invoice: Obj, what: str) -> None:
    if invoice["status"] != "draft":
        raise invalid_request(
            f"Invoice {invoice['id']} is {invoice['status']}; {what} only while it is a draft.",
            code="invoice_not_editable",
        )


# invoice items

INVOICE_ITEM_PARAMS = frozenset(
    {
        "amount",
        "currency",
        "customer",
        "description",
        "discountable",
        "invoice",
        "metadata",
        "period",
        "pricing",
        "quantity",
    }
)


@write("POST", "/v1/invoiceitems", "InvoiceItem")
def create_invoice_item(ctx: WriteContext) -> Obj:
    """A charge (or, with a negative amount, a credit) for a customer's next invoice.

    Given by `amount` and `currency`, or by a one-time price (`pricing[price]`, since API
    version 2025-03-31) and `quantity`. With `invoice` it joins that draft at once as a line,
    and the draft is announced with `invoice.updated`; otherwise it waits, pending, for an
    invoice created with `pending_invoice_items_behavior=include`.
    """
    params = ctx.params
    refuse_unknown(params, INVOICE_ITEM_PARAMS)
    customer = ctx.find(CUSTOMER, _required(params, "customer"), "customer")
    invoice = _optional(params, "invoice", lambda v, p: ctx.find(INVOICE, v, p))
    if invoice is not None:
        _item_fits_invoice(invoice, customer)
    ids = ctx.ids()

    item = _new_invoice_item(ctx, ids, params, customer["id"])
    item = {**item, "invoice": invoice["id"] if invoice else None}
    ctx.add(INVOICE_ITEM, item)
    ctx.emit("invoiceitem.created", item)

    if invoice is not None:
        ctx.add(INVOICE_LINE, build_invoice_item_line(ids, item=item), parent_id=invoice["id"])
        _announce_new_lines(ctx, invoice)
    return item


@write("DELETE", "/v1/invoiceitems/{id}", "InvoiceItem")
def delete_invoice_item(ctx: WriteContext) -> Obj:
    """A pending item, or one on a draft (whose line leaves with it); never one that is on a
    finalized invoice."""
    refuse_unknown(ctx.params, frozenset())
    item = existing(ctx, INVOICE_ITEM)
    invoice = ctx.account.objects.get(item["invoice"]) if item["invoice"] else None
    if invoice is not None:
        _draft(invoice, "its invoice items can be deleted")

    ctx.store.delete(ctx.account, item["id"])
    ctx.emit("invoiceitem.deleted", item)
    if invoice is not None:
        line = _line_of_item(ctx, item)
        if line is not None:
            ctx.store.delete(ctx.account, line["id"])
        _announce_new_lines(ctx, invoice)
    return _deleted(item)


def _item_fits_invoice(invoice: Obj, customer: Obj) -> None:
    if invoice["customer"] != customer["id"]:
        raise invalid_request(
            f"Invoice {invoice['id']} is for customer {invoice['customer']}, not for "
            f"{customer['id']}.",
            param="invoice",
        )
    if invoice["status"] != "draft":
        raise invalid_request(
            f"Invoice {invoice['id']} is {invoice['status']}; items can only be added to a "
            "draft invoice.",
            param="invoice",
            code="invoice_not_editable",
        )


def _new_invoice_item(ctx: WriteContext, ids: Ids, params: dict[str, Any], customer: str) -> Obj:
    _only_one(params, "amount", "pricing")
    period_start, period_end = _period(params.get("period"))
    description = _optional(params, "description", _nullable_text)
    if "pricing" in params:
        given = _object(params["pricing"], "pricing", ("price",))
        price = _one_time_price(ctx, _required(given, "price"), "pricing[price]")
        quantity = _positive(params.get("quantity", "1"), "quantity")
        item = build_invoice_item(
            ids,
            customer=customer,
            price=price,
            quantity=quantity,
            date=ctx.now,
            description=description or "",
            period_start=period_start,
            period_end=period_end,
        )
        item = {**item, "description": description}
    elif "amount" in params:
        currency = _currency(_required(params, "currency"), "currency")
        amount = _integer(params["amount"], "amount")
        item = build_amount_invoice_item(
            ids,
            customer=customer,
            amount=amount,
            currency=currency,
            date=ctx.now,
            description=description,
            period_start=period_start,
            period_end=period_end,
        )
    else:
        raise invalid_request(
            "You must pass either `amount` or `pricing[price]` to create an invoice item.",
            param="amount",
            code="parameter_missing",
        )
    if "discountable" in params:
        item = {**item, "discountable": _flag(params["discountable"], "discountable")}
    return {**item, "metadata": merged_metadata(None, params.get("metadata", {}))}


def _period(value: Any) -> tuple[int | None, int | None]:
    """`period[start]` and `period[end]` of an invoice item, if given."""
    if value is None:
        return None, None
    given = _object(value, "period", ("end", "start"))
    return (
        _integer(_required(given, "start"), "period[start]"),
        _integer(_required(given, "end"), "period[end]"),
    )


def _one_time_price(ctx: WriteContext, value: Any, param: str) -> Obj:
    price = ctx.find(PRICE, value, param)
    if price.get("type") != "one_time":
        raise invalid_request(
            "The price specified is set to `type=recurring` but this field only accepts prices "
            "with `type=one_time`.",
            param=param,
        )
    return price


# invoices

INVOICE_FIELDS: dict[str, Converter] = {
    "auto_advance": _flag,
    "collection_method": _one_of("charge_automatically", "send_invoice"),
    "description": _nullable_text,
    "due_date": _integer,
    "footer": _nullable_text,
}
INVOICE_PARAMS = frozenset(INVOICE_FIELDS) | {
    "days_until_due",
    "default_payment_method",
    "metadata",
}
INVOICE_CREATE_PARAMS = INVOICE_PARAMS | {"customer", "pending_invoice_items_behavior"}
FINALIZED_INVOICE_FIELDS = frozenset({"auto_advance", "metadata"})


@write("POST", "/v1/invoices", "Invoice")
def create_invoice(ctx: WriteContext) -> Obj:
    """A draft invoice for a customer.

    Since API version 2022-08-01 Stripe leaves the customer's pending invoice items out unless
    `pending_invoice_items_behavior=include`, and invoices made through the API do not advance
    on their own unless `auto_advance=true`. The emulator never advances an invoice on its own,
    whatever `automatically_finalizes_at` says.
    """
    params = ctx.params
    refuse_unknown(params, INVOICE_CREATE_PARAMS)
    customer = ctx.find(CUSTOMER, _required(params, "customer"), "customer")
    behavior = _one_of("exclude", "include")(
        params.get("pending_invoice_items_behavior", "exclude"), "pending_invoice_items_behavior"
    )
    ids = ctx.ids()

    blank = build_invoice(
        ids,
        customer=_invoiced_customer(customer),
        created=ctx.now,
        subtotal=0,
        period_start=ctx.now,
        period_end=ctx.now,
        billing_reason="manual",
    )
    invoice = {**blank, "auto_advance": False, "automatically_finalizes_at": None}
    invoice = _check_collection({**invoice, **_invoice_changes(ctx, invoice)})
    pending = _pending_items(ctx, customer["id"]) if behavior == "include" else []

    items = [ctx.replace({**item, "invoice": invoice["id"]}) for item in pending]
    return _store_invoice(ctx, invoice, [build_invoice_item_line(ids, item=i) for i in items])


@write("POST", "/v1/invoices/{id}", "Invoice")
def update_invoice(ctx: WriteContext) -> Obj:
    """Drafts change freely; once finalized only `auto_advance` and metadata may change."""
    refuse_unknown(ctx.params, INVOICE_PARAMS)
    current = existing(ctx, INVOICE)
    if current["status"] != "draft" and set(ctx.params) - FINALIZED_INVOICE_FIELDS:
        field_name = sorted(set(ctx.params) - FINALIZED_INVOICE_FIELDS)[0]
        raise invalid_request(
            f"Invoice {current['id']} is {current['status']}; only `auto_advance` and `metadata` "
            "can change once an invoice is finalized.",
            param=field_name,
            code="invoice_not_editable",
        )

    updated = _check_collection({**current, **_invoice_changes(ctx, current)})
    return save_update(ctx, current, updated, "invoice.updated")


@write("DELETE", "/v1/invoices/{id}", "Invoice")
def delete_invoice(ctx: WriteContext) -> Obj:
    """Only drafts a caller made can be deleted; their lines and invoice items go with them."""
    refuse_unknown(ctx.params, frozenset())
    invoice = existing(ctx, INVOICE)
    _draft(invoice, "it can be deleted")
    if invoice["billing_reason"] != "manual":
        raise invalid_request("You can't delete invoices created by subscriptions.")

    for line in _children(ctx, invoice["id"], INVOICE_LINE):
        ctx.store.delete(ctx.account, line["id"])
        item_id = ((line.get("parent") or {}).get("invoice_item_details") or {}).get("invoice_item")
        item = ctx.account.objects.get(item_id) if item_id else None
        if item is not None:
            ctx.store.delete(ctx.account, item["id"])
            ctx.emit("invoiceitem.deleted", item)
    ctx.store.delete(ctx.account, invoice["id"])
    ctx.emit("invoice.deleted", invoice)
    return _deleted(invoice)


@write("POST", "/v1/invoices/{id}/finalize", "Invoice")
def finalize_invoice(ctx: WriteContext) -> Obj:
    """Finalize a draft: it gets its number and becomes open (paid at once if it is for 0)."""
    refuse_unknown(ctx.params, frozenset({"auto_advance"}))
    invoice = existing(ctx, INVOICE)
    if invoice["status"] != "draft":
        raise invalid_request(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    if "auto_advance" in ctx.params:
        invoice = ctx.replace(
            {**invoice, "auto_advance": _flag(ctx.params["auto_advance"], "auto_advance")}
        )

    return _finalize(ctx, ctx.ids(), invoice)


@write("POST", "/v1/invoices/{id}/pay", "Invoice")
def pay_invoice(ctx: WriteContext) -> Obj:
    """Pay an invoice now with `payment_method` or the default one; a draft is finalized first.

    Void and paid invoices are refused, as on Stripe. Paying out of band is not emulated.
    """
    refuse_unknown(ctx.params, frozenset({"off_session", "payment_method"}))
    invoice = existing(ctx, INVOICE)
    if invoice["status"] == "void":
        raise invalid_request("Voided invoices cannot be paid.", code="invoice_not_editable")
    if invoice["status"] == "paid":
        raise invalid_request("Invoice is already paid.", code="invoice_not_editable")
    payment_method = _invoice_payment_method(ctx, invoice) if invoice["amount_due"] else None
    ids = ctx.ids()

    if invoice["status"] == "draft":
        invoice = _finalize(ctx, ids, invoice)
    if payment_method is None:
        return invoice
    return _collect(ctx, ids, invoice, payment_method)


@write("POST", "/v1/invoices/{id}/void", "Invoice")
def void_invoice(ctx: WriteContext) -> Obj:
    """An open (or uncollectible) invoice is voided: nothing is owed, it stays listed."""
    refuse_unknown(ctx.params, frozenset())
    invoice = existing(ctx, INVOICE)
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(
            f"Invoice {invoice['id']} is {invoice['status']}; only open or uncollectible "
            "invoices can be voided (delete a draft instead).",
            code="invoice_not_editable",
        )

    return _transition(
        ctx,
        invoice,
        "invoice.voided",
        status="void",
        amount_remaining=0,
        auto_advance=False,
        next_payment_attempt=None,
        status_transitions={**invoice["status_transitions"], "voided_at": ctx.now},
    )


def _invoice_changes(ctx: WriteContext, invoice: Obj) -> Obj:
    params = ctx.params
    changes = _changes(params, invoice, INVOICE_FIELDS)
    if "days_until_due" in params:
        days = _non_negative(params["days_until_due"], "days_until_due")
        changes["due_date"] = invoice["created"] + days * DAY
    if "default_payment_method" in params:
        value = params["default_payment_method"]
        changes["default_payment_method"] = (
            None
            if value == ""
            else _attached_payment_method(
                ctx, value, "default_payment_method", invoice["customer"]
            )["id"]
        )
    if changes.get("auto_advance"):
        changes["automatically_finalizes_at"] = invoice["created"] + 3600
    elif "auto_advance" in changes:
        changes["automatically_finalizes_at"] = None
    return changes


def _check_collection(invoice: Obj) -> Obj:
    """Invoices sent to the customer need a due date; charged ones may not have one."""
    if invoice["collection_method"] == "send_invoice" and invoice["due_date"] is None:
        raise invalid_request(
            "Invoices with `collection_method=send_invoice` need `days_until_due` or `due_date`.",
            param="days_until_due",
        )
    if invoice["collection_method"] == "charge_automatically" and invoice["due_date"]:
        raise invalid_request(
            "Invoices with `collection_method=charge_automatically` cannot have a due date.",
            param="due_date",
        )
    return invoice


def _pending_items(ctx: WriteContext, customer: str) -> list[Obj]:
    """A customer's invoice items not yet on an invoice, oldest first."""
    pending = [
        item
        for item in _stored(ctx, INVOICE_ITEM)
        if item["customer"] == customer and item["invoice"] is None
    ]
    return pending[::-1]


def _invoice_payment_method(ctx: WriteContext, invoice: Obj) -> Obj:
    if "payment_method" in ctx.params:
        return _attached_payment_method(
            ctx, ctx.params["payment_method"], "payment_method", invoice["customer"]
        )
    customer = ctx.account.objects.get(invoice["customer"]) or {"id": invoice["customer"]}
    subscription_id = ((invoice.get("parent") or {}).get("subscription_details") or {}).get(
        "subscription"
    )
    subscription = ctx.account.objects.get(subscription_id) if subscription_id else None
    found = _default_payment_method(
        ctx,
        customer,
        invoice.get("default_payment_method"),
        subscription.get("default_payment_method") if subscription else None,
    )
    if found is None:
        raise _no_payment_method()
    return found


def _no_payment_method() -> ApiError:
    return invalid_request(
        "This customer has no attached payment source or default payment method. Please "
        "consider adding a default payment method."
    )


# subscriptions: shared steps

SUBSCRIPTION_ITEM_FIELDS = ("metadata", "price", "quantity")
ITEM_ENTRY_FIELDS = ("deleted", "id", *SUBSCRIPTION_ITEM_FIELDS)
PAYMENT_BEHAVIORS = ("allow_incomplete", "error_if_incomplete")
PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")


@dataclass
class ItemChanges:
    """What a write does to a subscription's items, checked as a whole before any is stored."""

    updated: list[Obj] = field(default_factory=list)
    added: list[Obj] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.updated or self.added or self.removed)


def _recurring_price(ctx: WriteContext, value: Any, param: str) -> Obj:
    """Subscription items take active recurring prices only."""
    price = ctx.find(PRICE, value, param)
    if not price.get("active"):
        raise invalid_request(
            "The price specified is inactive. This field only accepts active prices.", param=param
        )
    if not price.get("recurring"):
        raise invalid_request(
            "The price specified is set to `type=one_time` but this field only accepts prices "
            "with `type=recurring`.",
            param=param,
        )
    return price


def _check_items(items: list[Obj]) -> None:
    """A subscription keeps at least one item, one per price, all billed on one cycle."""
    if not items:
        raise invalid_request(
            "A subscription needs at least one item; cancel the subscription instead of "
            "removing its last item.",
            param="items",
        )
    seen: set[str] = set()
    for item in items:
        price = item["price"]
        if price["id"] in seen:
            raise invalid_request(
                f"Cannot add multiple subscription items with the same plan: {price['id']}",
                param="items",
            )
        seen.add(price["id"])
    cycles = {
        (
            i["price"]["currency"],
            i["price"]["recurring"]["interval"],
            i["price"]["recurring"]["interval_count"],
        )
        for i in items
    }
    if len(cycles) > 1:
        raise invalid_request(
            "Currency and interval fields must match across all plans on this subscription.",
            param="items",
        )


def _period_end(start: int, price: Obj) -> int:
    recurring = price["recurring"]
    interval, count = recurring["interval"], recurring["interval_count"]
    if interval == "day":
        return start + count * DAY
    if interval == "week":
        return start + count * 7 * DAY
    return add_interval(start, interval, count)


def _nested(prefix: str, name: str) -> str:
    """A parameter's name as Stripe reports it: `items[0][price]` in a list, else `price`."""
    return f"{prefix}[{name}]" if prefix else name


def _new_item(
    ctx: WriteContext,
    ids: Ids,
    subscription_id: str,
    given: dict[str, Any],
    prefix: str,
    period: tuple[int, int] | None,
) -> Obj:
    """A new subscription item billed on the subscription's current period."""
    if "price" not in given:
        raise parameter_missing(_nested(prefix, "price"))
    price = _recurring_price(ctx, given["price"], _nested(prefix, "price"))
    quantity = _non_negative(given.get("quantity", "1"), _nested(prefix, "quantity"))
    start, end = period or (ctx.now, _period_end(ctx.now, price))
    item = build_subscription_item(
        ids,
        subscription=subscription_id,
        price=price,
        quantity=quantity,
        created=ctx.now,
        current_period_start=start,
        current_period_end=end,
    )
    return {**item, "metadata": merged_metadata(None, given.get("metadata", {}))}


def _changed_item(ctx: WriteContext, item: Obj, given: dict[str, Any], prefix: str) -> Obj:
    changes: Obj = {}
    if "price" in given:
        price = _recurring_price(ctx, given["price"], _nested(prefix, "price"))
        changes.update(price=price, plan=plan_of_price(price))
    if "quantity" in given:
        changes["quantity"] = _non_negative(given["quantity"], _nested(prefix, "quantity"))
    if "metadata" in given:
        changes["metadata"] = merged_metadata(item.get("metadata"), given["metadata"])
    return {**item, **changes}


def _current_period(items: list[Obj]) -> tuple[int, int] | None:
    for item in items:
        if item.get("current_period_start") is not None:
            return item["current_period_start"], item["current_period_end"]
    return None


def _item_changes(ctx: WriteContext, ids: Ids, subscription: Obj, entries: Any) -> ItemChanges:
    """`items[n]` of a subscription update: `{id, deleted: true}` removes an item, `{id, ...}`
    changes one, `{price, ...}` adds one."""
    changes = ItemChanges()
    if entries is None:
        return changes
    current = {item["id"]: item for item in _children(ctx, subscription["id"], SUBSCRIPTION_ITEM)}
    final = dict(current)
    period = _current_period(list(current.values()))
    for index, entry in enumerate(_array(entries, "items")):
        param = f"items[{index}]"
        given = _object(entry, param, ITEM_ENTRY_FIELDS)
        if "id" not in given:
            item = _new_item(ctx, ids, subscription["id"], given, param, period)
            changes.added.append(item)
            final[item["id"]] = item
            continue
        item_id = _text(given["id"], f"{param}[id]")
        if item_id not in current:
            raise resource_missing("subscription_item", item_id, param=f"{param}[id]")
        if _flag(given.get("deleted", "false"), f"{param}[deleted]"):
            changes.removed.append(item_id)
            del final[item_id]
            continue
        item = _changed_item(ctx, current[item_id], given, param)
        changes.updated.append(item)
        final[item_id] = item
    _check_items(list(final.values()))
    return changes


def _save_items(ctx: WriteContext, current: Obj, changes: ItemChanges, fields: Obj) -> Obj:
    """Store item changes and new subscription fields, then announce the subscription with
    `customer.subscription.updated`, whose `previous_attributes` hold the old `items` when
    they changed. A removed item is deleted without an event of its own, as on Stripe."""
    for item_id in changes.removed:
        ctx.store.delete(ctx.account, item_id)
    for item in changes.updated:
        ctx.replace(item)
    for item in changes.added:
        ctx.add(SUBSCRIPTION_ITEM, item, parent_id=current["id"])
    ctx.replace({**current, **fields})

    updated = ctx.store.refresh_embedded(ctx.account, current["id"])
    changed = previous_attributes(current, updated)
    if changed:
        ctx.emit("customer.subscription.updated", updated, changed)
    return updated


def _refuse_if_canceled(subscription: Obj, changing: set[str]) -> None:
    if subscription["status"] != "canceled":
        return
    if changing - {"cancellation_details", "metadata"}:
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata."
        )


# subscription discounts


@dataclass(frozen=True)
class Discount:
    """A coupon applied to a subscription, under the `di_` id Stripe gives the application.

    Stripe has no endpoint for discounts themselves: the emulator keeps them on the account for
    renewals to apply, and `expand[]` of `discounts` leaves their ids as they are.
    """

    id: str
    coupon: Obj
    promotion_code: Obj | None

    def amount(self, subtotal: int) -> int:
        coupon = self.coupon
        if coupon["percent_off"] is not None:
            return round(subtotal * coupon["percent_off"] / 100)
        return min(coupon["amount_off"], subtotal)


def _discounts(ctx: WriteContext, ids: Ids, value: Any, subscription: Obj) -> list[Discount]:
    """`discounts[n][coupon]` or `discounts[n][promotion_code]`, each checked redeemable."""
    if value is None or value == "":
        return []
    found = []
    for index, entry in enumerate(_array(value, "discounts")):
        param = f"discounts[{index}]"
        given = _object(entry, param, ("coupon", "promotion_code"))
        _only_one(given, "coupon", "promotion_code")
        promotion_code = None
        if "promotion_code" in given:
            promotion_code = ctx.find(
                PROMOTION_CODE, given["promotion_code"], f"{param}[promotion_code]"
            )
            _check_promotion_code(
                ctx, promotion_code, subscription["customer"], f"{param}[promotion_code]"
            )
            coupon = ctx.find(COUPON, promotion_code["promotion"]["coupon"], f"{param}[coupon]")
        else:
            coupon = ctx.find(COUPON, _required(given, "coupon"), f"{param}[coupon]")
        _check_coupon(coupon, subscription["currency"], f"{param}[coupon]")
        found.append(Discount(ids.new("di"), coupon, promotion_code))
    return found


def _check_coupon(coupon: Obj, currency: str, param: str) -> None:
    if not coupon["valid"]:
        raise invalid_request(f"Coupon {coupon['id']} is no longer valid.", param=param)
    if coupon["amount_off"] is not None and coupon["currency"] != currency:
        raise invalid_request(
            f"Coupon {coupon['id']} takes {coupon['currency']} off, but the subscription is "
            f"billed in {currency}.",
            param=param,
        )


def _check_promotion_code(ctx: WriteContext, code: Obj, customer: str, param: str) -> None:
    expired = code["expires_at"] is not None and code["expires_at"] <= ctx.now
    exhausted = (
        code["max_redemptions"] is not None and code["times_redeemed"] >= code["max_redemptions"]
    )
    if not code["active"] or expired or exhausted:
        raise invalid_request(f"Promotion code {code['code']} is not active.", param=param)
    if code["customer"] is not None and code["customer"] != customer:
        raise invalid_request(
            f"Promotion code {code['code']} is restricted to another customer.", param=param
        )


def _with_discounts(lines: list[Obj], discounts: list[Discount]) -> list[Obj]:
    """Lines with each discount's amount shared out in proportion to the line amounts."""
    shares: list[list[Obj]] = [[] for _ in lines]
    subtotal = sum(line["amount"] for line in lines)
    remaining = subtotal
    for discount in discounts:
        amount = min(discount.amount(subtotal), remaining)
        remaining -= amount
        for index, part in enumerate(_allocate(amount, [line["amount"] for line in lines])):
            shares[index].append({"amount": part, "discount": discount.id})
    return [{**line, "discount_amounts": share} for line, share in zip(lines, shares, strict=True)]


def _allocate(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` in proportion to `weights`, the rounding remainder on the largest."""
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    parts = [amount * weight // total for weight in weights]
    parts[weights.index(max(weights))] += amount - sum(parts)
    return parts


def _redeem(ctx: WriteContext, discounts: list[Discount]) -> None:
    """Count the redemptions on the coupon and promotion code. The emulator emits no event for
    the new `times_redeemed`, so only a full read of coupons shows it."""
    for discount in discounts:
        for obj in (discount.coupon, discount.promotion_code):
            if obj is None:
                continue
            current = ctx.account.objects[obj["id"]]
            redeemed = current["times_redeemed"] + 1
            if current["object"] == "coupon":
                limit = current["max_redemptions"]
                valid = limit is None or redeemed < limit
                ctx.replace({**current, "times_redeemed": redeemed, "valid": valid})
            else:
                ctx.replace({**current, "times_redeemed": redeemed})


def _remember_discounts(ctx: WriteContext, discounts: list[Discount], subscription: Obj) -> None:
    """Keep each discount as Stripe's `discount` object, with the `end` its coupon's duration
    gives (`once`: only the first invoice, which is billed now)."""
    for discount in discounts:
        coupon = discount.coupon
        end = None
        if coupon["duration"] == "once":
            end = ctx.now
        elif coupon["duration"] == "repeating":
            end = add_interval(ctx.now, "month", coupon["duration_in_months"])
        ctx.account.discounts[discount.id] = {
            "id": discount.id,
            "object": "discount",
            "coupon": coupon,
            "customer": subscription["customer"],
            "end": end,
            "promotion_code": discount.promotion_code["id"] if discount.promotion_code else None,
            "start": ctx.now,
            "subscription": subscription["id"],
        }


# subscriptions

SUBSCRIPTION_CREATE_PARAMS = frozenset(
    {
        "cancel_at_period_end",
        "collection_method",
        "customer",
        "days_until_due",
        "default_payment_method",
        "description",
        "discounts",
        "items",
        "metadata",
        "off_session",
        "payment_behavior",
        "proration_behavior",
        "trial_end",
        "trial_period_days",
    }
)
SUBSCRIPTION_FIELDS: dict[str, Converter] = {"description": _nullable_text}
SUBSCRIPTION_UPDATE_PARAMS = frozenset(SUBSCRIPTION_FIELDS) | {
    "cancel_at_period_end",
    "cancellation_details",
    "default_payment_method",
    "items",
    "metadata",
    "off_session",
    "payment_behavior",
    "proration_behavior",
}
CANCELLATION_DETAIL_FIELDS = ("comment", "feedback")


@write("POST", "/v1/subscriptions", "Subscription")
def create_subscription(ctx: WriteContext) -> Obj:
    """A subscription and, in the same request, its first invoice, billed as Stripe bills it:
    created, finalized, then charged to the default card (payment intent, charge, balance
    transaction) and paid. A trial's first invoice is for 0 and is paid without a payment;
    `collection_method=send_invoice` leaves it open until its due date.

    Cards always succeed, so `payment_behavior` may be `allow_incomplete` (the default) or
    `error_if_incomplete`; both refuse a customer with nothing to charge. `default_incomplete`
    and `pending_if_incomplete` are not emulated.
    """
    params = ctx.params
    refuse_unknown(params, SUBSCRIPTION_CREATE_PARAMS)
    customer = ctx.find(CUSTOMER, _required(params, "customer"), "customer")
    _one_of(*PAYMENT_BEHAVIORS)(
        params.get("payment_behavior", "allow_incomplete"), "payment_behavior"
    )
    _optional(params, "proration_behavior", _one_of(*PRORATION_BEHAVIORS))
    entries = _array(_required(params, "items"), "items")
    ids = ctx.ids()
    subscription = _new_subscription(ctx, ids, customer)
    items = _first_items(ctx, ids, subscription, entries)
    subscription = {**subscription, "currency": items[0]["price"]["currency"]}
    if _flag(params.get("cancel_at_period_end", "false"), "cancel_at_period_end"):
        subscription = {**subscription, **_cancel_at_period_end(ctx, True, items)}
    discounts = _discounts(ctx, ids, params.get("discounts"), subscription)
    invoice, lines = _first_invoice(ctx, ids, customer, subscription, items, discounts)
    payment_method = _subscription_payment_method(ctx, customer, subscription, invoice)

    _redeem(ctx, discounts)
    _remember_discounts(ctx, discounts, subscription)
    subscription = {
        **subscription,
        "discounts": [discount.id for discount in discounts],
        "latest_invoice": invoice["id"],
    }
    ctx.add(SUBSCRIPTION, subscription)
    for item in items:
        ctx.add(SUBSCRIPTION_ITEM, item, parent_id=subscription["id"])
    subscription = ctx.store.refresh_embedded(ctx.account, subscription["id"])
    ctx.emit("customer.subscription.created", subscription)

    invoice = _finalize(ctx, ids, _store_invoice(ctx, invoice, lines))
    if invoice["status"] == "open" and payment_method is not None:
        _collect(ctx, ids, invoice, payment_method)
    return ctx.account.objects[subscription["id"]]


@write("POST", "/v1/subscriptions/{id}", "Subscription")
def update_subscription(ctx: WriteContext) -> Obj:
    """Change items (add, change, remove with `deleted`), metadata, the default card or
    `cancel_at_period_end`.

    Prorations are not emulated: every change behaves as `proration_behavior=none` and creates
    no proration invoice items.
    """
    params = ctx.params
    refuse_unknown(params, SUBSCRIPTION_UPDATE_PARAMS)
    current = existing(ctx, SUBSCRIPTION)
    _refuse_if_canceled(current, set(params))
    _one_of(*PAYMENT_BEHAVIORS)(
        params.get("payment_behavior", "allow_incomplete"), "payment_behavior"
    )
    _optional(params, "proration_behavior", _one_of(*PRORATION_BEHAVIORS))
    fields = _subscription_changes(ctx, current)
    changes = _item_changes(ctx, ctx.ids(), current, params.get("items"))

    return _save_items(ctx, current, changes, fields)


@write("DELETE", "/v1/subscriptions/{id}", "Subscription")
def cancel_subscription(ctx: WriteContext) -> Obj:
    """Cancel now. Stripe keeps the subscription, `status=canceled`, listed with `status=all`,
    and announces it with `customer.subscription.deleted`.

    Final invoices and prorations on cancellation (`invoice_now`, `prorate`) are not emulated.
    """
    params = ctx.params
    refuse_unknown(params, frozenset({"cancellation_details", "invoice_now", "prorate"}))
    current = existing(ctx, SUBSCRIPTION)
    if current["status"] == "canceled":
        raise invalid_request(f"Subscription {current['id']} is already canceled.")
    for name in ("invoice_now", "prorate"):
        if _flag(params.get(name, "false"), name):
            raise invalid_request(
                f"The emulator does not bill on cancellation; leave out `{name}=true`.",
                param=name,
            )
    details = _cancellation_details(current, params.get("cancellation_details"))

    return _transition(
        ctx,
        current,
        "customer.subscription.deleted",
        status="canceled",
        canceled_at=ctx.now,
        ended_at=ctx.now,
        cancel_at=None,
        cancel_at_period_end=False,
        cancellation_details={**details, "reason": "cancellation_requested"},
    )


def _first_items(ctx: WriteContext, ids: Ids, subscription: Obj, entries: list[Any]) -> list[Obj]:
    period = _trial_period(subscription)
    items = []
    for index, entry in enumerate(entries):
        prefix = f"items[{index}]"
        given = _object(entry, prefix, SUBSCRIPTION_ITEM_FIELDS)
        items.append(_new_item(ctx, ids, subscription["id"], given, prefix, period))
    _check_items(items)
    return items


def _new_subscription(ctx: WriteContext, ids: Ids, customer: Obj) -> Obj:
    params = ctx.params
    trial_end = _trial_end(ctx)
    collection_method = _one_of("charge_automatically", "send_invoice")(
        params.get("collection_method", "charge_automatically"), "collection_method"
    )
    days_until_due = None
    if collection_method == "send_invoice":
        days_until_due = _non_negative(_required(params, "days_until_due"), "days_until_due")
    default_payment_method = None
    if params.get("default_payment_method"):
        default_payment_method = _attached_payment_method(
            ctx, params["default_payment_method"], "default_payment_method", customer["id"]
        )["id"]

    subscription = build_subscription(
        ids,
        customer=customer["id"],
        created=ctx.now,
        status="trialing" if trial_end else "active",
        billing_cycle_anchor=trial_end or ctx.now,
        default_payment_method=default_payment_method,
        collection_method=collection_method,
        days_until_due=days_until_due,
        trial_start=ctx.now if trial_end else None,
        trial_end=trial_end,
        metadata=merged_metadata(None, params.get("metadata", {})),
    )
    return {**subscription, **_changes(params, subscription, SUBSCRIPTION_FIELDS)}


def _trial_end(ctx: WriteContext) -> int | None:
    """`trial_period_days` from now, or a `trial_end` time (`now` for no trial)."""
    params = ctx.params
    _only_one(params, "trial_end", "trial_period_days")
    if "trial_period_days" in params:
        days = _non_negative(params["trial_period_days"], "trial_period_days")
        return ctx.now + days * DAY if days else None
    if "trial_end" not in params or params["trial_end"] == "now":
        return None
    trial_end = _integer(params["trial_end"], "trial_end")
    if trial_end <= ctx.now:
        raise invalid_request(
            "Invalid timestamp: must be an integer Unix timestamp in the future.",
            param="trial_end",
        )
    return trial_end


def _trial_period(subscription: Obj) -> tuple[int, int] | None:
    """During a trial, items' current period is the trial itself."""
    if subscription["trial_end"] is None:
        return None
    return subscription["trial_start"], subscription["trial_end"]


def _first_invoice(
    ctx: WriteContext,
    ids: Ids,
    customer: Obj,
    subscription: Obj,
    items: list[Obj],
    discounts: list[Discount],
) -> tuple[Obj, list[Obj]]:
    """The `subscription_create` invoice: one line per item for its first period, 0 during a
    trial. Stripe's first invoice covers no time (`period_start == period_end`)."""
    due_date = None
    if subscription["days_until_due"] is not None:
        due_date = ctx.now + subscription["days_until_due"] * DAY
    invoice = build_invoice(
        ids,
        customer=_invoiced_customer(customer),
        created=ctx.now,
        subtotal=0,
        period_start=ctx.now,
        period_end=ctx.now,
        billing_reason="subscription_create",
        subscription=subscription["id"],
        collection_method=subscription["collection_method"],
        due_date=due_date,
        currency=subscription["currency"],
    )
    trial = subscription["trial_end"] is not None
    lines = [
        build_invoice_line_item(
            ids,
            invoice=invoice["id"],
            price=item["price"],
            quantity=item["quantity"],
            period_start=item["current_period_start"],
            period_end=item["current_period_end"],
            description=_line_description(ctx, item, trial),
            subscription=subscription["id"],
            subscription_item=item["id"],
            amount=0 if trial else None,
        )
        for item in items
    ]
    lines = _with_discounts(lines, discounts)
    invoice = {**invoice, "discounts": [discount.id for discount in discounts]}
    return _with_totals(invoice, lines), lines


def _line_description(ctx: WriteContext, item: Obj, trial: bool) -> str:
    """Stripe's wording: `Trial period for Pro`, or `2 × Pro (at $10.00 / month)`."""
    price = item["price"]
    product = ctx.account.objects.get(price["product"]) or {}
    name = product.get("name") or price.get("nickname") or price["id"]
    if trial:
        return f"Trial period for {name}"
    recurring = price["recurring"]
    interval = recurring["interval"]
    if recurring["interval_count"] > 1:
        interval = f"every {recurring['interval_count']} {interval}s"
    amount = _money(price["unit_amount"], price["currency"])
    return f"{item['quantity']} × {name} (at {amount} / {interval})"


def _subscription_payment_method(
    ctx: WriteContext, customer: Obj, subscription: Obj, invoice: Obj
) -> Obj | None:
    """The card the first invoice is charged to; refused up front when there is something to
    charge and nothing to charge it to."""
    if subscription["collection_method"] != "charge_automatically":
        return None
    if invoice["amount_due"] == 0:
        return None
    found = _default_payment_method(ctx, customer, subscription["default_payment_method"])
    if found is None:
        raise _no_payment_method()
    return found


def _subscription_changes(ctx: WriteContext, current: Obj) -> Obj:
    params = ctx.params
    changes = _changes(params, current, SUBSCRIPTION_FIELDS)
    if "default_payment_method" in params:
        value = params["default_payment_method"]
        changes["default_payment_method"] = (
            None
            if value == ""
            else _attached_payment_method(
                ctx, value, "default_payment_method", current["customer"]
            )["id"]
        )
    if "cancel_at_period_end" in params:
        wanted = _flag(params["cancel_at_period_end"], "cancel_at_period_end")
        if wanted != current["cancel_at_period_end"]:
            items = _children(ctx, current["id"], SUBSCRIPTION_ITEM)
            changes.update(_cancel_at_period_end(ctx, wanted, items))
    if "cancellation_details" in params:
        changes["cancellation_details"] = {
            **(changes.get("cancellation_details") or current["cancellation_details"]),
            **_cancellation_details(current, params["cancellation_details"]),
        }
    return changes


def _cancel_at_period_end(ctx: WriteContext, wanted: bool, items: list[Obj]) -> Obj:
    """Stripe records the request to cancel now (`canceled_at`) and the end it will take
    effect (`cancel_at`, the current period's end); the emulator never reaches that end."""
    if not wanted:
        return {
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "cancellation_details": CANCELLATION_NONE,
        }
    period = _current_period(items)
    return {
        "cancel_at_period_end": True,
        "cancel_at": period[1] if period else None,
        "canceled_at": ctx.now,
        "cancellation_details": {**CANCELLATION_NONE, "reason": "cancellation_requested"},
    }


def _cancellation_details(subscription: Obj, value: Any) -> Obj:
    current = subscription.get("cancellation_details") or CANCELLATION_NONE
    if value is None:
        return current
    given = _object(value, "cancellation_details", CANCELLATION_DETAIL_FIELDS)
    return {
        **current,
        **{k: _nullable_text(v, f"cancellation_details[{k}]") for k, v in given.items()},
    }


# subscription items


def _sibling_items(ctx: WriteContext, item: Obj) -> list[Obj]:
    siblings = _children(ctx, item["subscription"], SUBSCRIPTION_ITEM)
    return [sibling for sibling in siblings if sibling["id"] != item["id"]]


SUBSCRIPTION_ITEM_OPTIONS = frozenset({"payment_behavior", "proration_behavior"})
SUBSCRIPTION_ITEM_CREATE_PARAMS = SUBSCRIPTION_ITEM_OPTIONS | {
    "subscription",
    *SUBSCRIPTION_ITEM_FIELDS,
}
SUBSCRIPTION_ITEM_UPDATE_PARAMS = SUBSCRIPTION_ITEM_OPTIONS | {
    "off_session",
    *SUBSCRIPTION_ITEM_FIELDS,
}


@write("POST", "/v1/subscription_items", "SubscriptionItem")
def create_subscription_item(ctx: WriteContext) -> Obj:
    """Add an item to a subscription; the subscription is announced as updated."""
    params = ctx.params
    refuse_unknown(params, SUBSCRIPTION_ITEM_CREATE_PARAMS)
    subscription = ctx.find(SUBSCRIPTION, _required(params, "subscription"), "subscription")
    _refuse_if_canceled(subscription, {"items"})
    items = _children(ctx, subscription["id"], SUBSCRIPTION_ITEM)
    given = {k: v for k, v in params.items() if k in SUBSCRIPTION_ITEM_FIELDS}
    item = _new_item(ctx, ctx.ids(), subscription["id"], given, "", _current_period(items))
    _check_items([*items, item])

    _save_items(ctx, subscription, ItemChanges(added=[item]), {})
    return item


@write("POST", "/v1/subscription_items/{id}", "SubscriptionItem")
def update_subscription_item(ctx: WriteContext) -> Obj:
    """Change an item's quantity, price or metadata; its subscription is announced as updated."""
    params = ctx.params
    refuse_unknown(params, SUBSCRIPTION_ITEM_UPDATE_PARAMS)
    current = existing(ctx, SUBSCRIPTION_ITEM)
    subscription = ctx.account.objects[current["subscription"]]
    _refuse_if_canceled(subscription, {"items"})
    updated = _changed_item(ctx, current, params, "")
    others = _sibling_items(ctx, current)
    _check_items([*others, updated])

    if updated == current:
        return current
    _save_items(ctx, subscription, ItemChanges(updated=[updated]), {})
    return updated


@write("DELETE", "/v1/subscription_items/{id}", "SubscriptionItem")
def delete_subscription_item(ctx: WriteContext) -> Obj:
    """Remove an item: it is deleted (retrieving it gives the stub) with no event of its own;
    its subscription is announced as updated. The last item cannot be removed."""
    refuse_unknown(ctx.params, frozenset({"clear_usage", "proration_behavior"}))
    current = existing(ctx, SUBSCRIPTION_ITEM)
    subscription = ctx.account.objects[current["subscription"]]
    _refuse_if_canceled(subscription, {"items"})
    others = _sibling_items(ctx, current)
    _check_items(others)

    _save_items(ctx, subscription, ItemChanges(removed=[current["id"]]), {})
    return _deleted(current)

"""The emulator's HTTP layer: Stripe's v1 wire format over aiohttp.

The official `stripe` SDK pointed at this server (`base_addresses={"api": url}`) should not be
able to tell it from api.stripe.com for the reads a sync makes: form-encoded parameters, cursor
pagination newest first, `created` filters where Stripe has them, `expand[]`, sub-lists of ten,
events kept for 30 days, Connect's `Stripe-Account`, Stripe's error bodies and status codes, and
a `Request-Id` on every answer. Answers are always in the pinned SDK's shapes whatever
`Stripe-Version` the client asks for.

The common path is cheap: stored objects already hold their sub-lists of ten (the store keeps
them current), so a page is the stored dicts serialized with orjson. Objects are stored with
`livemode: false`, and a live key's answers are rewritten byte-wise after serialization.

Control endpoints under `/_emulator/` need no key: ground truth for tests (`state`), metrics,
the clock and the simulation settings.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from stripe_source.catalog import MODELS, MODELS_BY_NAME, Model, children_of
from stripe_source.emulator import billing
from stripe_source.emulator.expand import Expander, ExpandError, parse_paths
from stripe_source.emulator.keys import (
    ApiKey,
    KeyRing,
    mask_key,
    permission_name,
    secret_from_authorization,
)
from stripe_source.emulator.limits import ConfigError, Simulation
from stripe_source.emulator.store import API_VERSION, Account, Obj, Page, Store
from stripe_source.emulator.writes import ROUTES as WRITE_ROUTES
from stripe_source.emulator.writes import (
    ApiError,
    WriteContext,
    WriteRoute,
    invalid_request,
    new_id,
    refuse_unknown,
    resource_missing,
    unknown_parameter,
)

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_EVENT_TYPES = 20
IDEMPOTENCY_MEMORY = 10_000

PAGING_PARAMS = frozenset({"limit", "starting_after", "ending_before", "expand"})
RETRIEVE_PARAMS = frozenset({"expand"})
EVENT_LIST_PARAMS = PAGING_PARAMS | {"created", "delivery_success", "type", "types"}
SUBSCRIPTION_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)

# Child models Stripe lists under their parent but has no retrieve route for.
NOT_RETRIEVABLE = frozenset(
    {
        "InvoiceLineItem",
        "CreditNoteLineItem",
        "QuoteLineItem",
        "CheckoutSessionLineItem",
        "PaymentLinkLineItem",
        "SetupAttempt",
    }
)

Predicate = Callable[[Obj], bool]


# form encoding

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's form encoding: `a[b]=1` nests, `a[]=x` and `a[0]=x` make lists.

    Metadata keys are kept as given even when they look like list indexes.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        name, _, rest = raw_key.partition("[")
        parts = _BRACKETS.findall("[" + rest) if rest else []
        node, key = root, name
        for part in parts:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node, key = child, part if part else str(len(child))
        node[key] = value
    return {k: _lists_from_indexes(v, k) for k, v in root.items()}


def _lists_from_indexes(value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        return value
    if name != "metadata" and value and all(k.isdigit() for k in value):
        return [_lists_from_indexes(value[k], "") for k in sorted(value, key=int)]
    return {k: _lists_from_indexes(v, k) for k, v in value.items()}


# routing


@dataclass(frozen=True)
class Route:
    """One API endpoint: its pattern (the metrics and rate-limit key) and what answers it."""

    method: str
    pattern: str
    action: Callable[[Call], Obj]
    model: Model | None = None
    write: bool = False

    @cached_property
    def id_names(self) -> list[str]:
        """Names of the pattern's `{...}` segments, in path order."""
        return [s[1:-1] for s in self.pattern.strip("/").split("/") if s.startswith("{")]


class Router:
    """Matches `/v1/...` paths segment by segment; literal segments win over `{id}` ones."""

    def __init__(self) -> None:
        self._root: dict[str, Any] = {}

    def add(self, route: Route) -> None:
        node = self._root
        for segment in route.pattern.strip("/").split("/"):
            node = node.setdefault("{}" if segment.startswith("{") else "=" + segment, {})
        node.setdefault("routes", {})[route.method] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method` on `path` and the ids its `{...}` segments hold."""
        found = self._walk(self._root, path.strip("/").split("/"), [])
        if found is None:
            return None
        routes, values = found
        route = routes.get(method)
        if route is None:
            return None
        return route, dict(zip(route.id_names, values, strict=True))

    def _walk(
        self, node: dict[str, Any], segments: list[str], values: list[str]
    ) -> tuple[dict[str, Route], list[str]] | None:
        if not segments:
            return (node["routes"], values) if "routes" in node else None
        head, rest = segments[0], segments[1:]
        literal = node.get("=" + head)
        if literal is not None:
            found = self._walk(literal, rest, values)
            if found is not None:
                return found
        wildcard = node.get("{}")
        if wildcard is not None and head:
            return self._walk(wildcard, rest, [*values, head])
        return None


@dataclass
class Call:
    """One authenticated API request, as the read and write actions see it."""

    store: Store
    account: Account
    key: ApiKey
    params: dict[str, Any]
    ids: dict[str, str]
    request_id: str


# list parameters and filters

Filter = Callable[[str, Any, Call], Predicate]


def _text(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {_shown(value)}", param=param)
    return value


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


def _as_text(value: Any) -> str | None:
    """A stored value as it appears in a query string: ids of expanded objects, `true`/`false`."""
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dig(obj: Obj, dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def equals(field_path: str | None = None) -> Filter:
    """The object's field (dotted for sub-objects; default: the parameter's name) equals it."""

    def build(param: str, value: Any, call: Call) -> Predicate:
        wanted = _text(param, value)
        name = field_path or param
        return lambda obj: _as_text(_dig(obj, name)) == wanted

    return build


def flag_inverted(field_path: str) -> Filter:
    """A boolean parameter naming the opposite of a stored flag (`archived` vs `active`)."""

    def build(param: str, value: Any, call: Call) -> Predicate:
        wanted = _boolean(param, value)
        return lambda obj: (not obj.get(field_path)) == wanted

    return build


def among(field_path: str) -> Filter:
    """The object's field is one of the listed values (`ids[]`, `lookup_keys[]`)."""

    def build(param: str, value: Any, call: Call) -> Predicate:
        values = value if isinstance(value, list) else [value]
        wanted = {_text(param, v) for v in values}
        return lambda obj: _as_text(obj.get(field_path)) in wanted

    return build


def integer_range(field_path: str | None = None) -> Filter:
    """A `gt`/`gte`/`lt`/`lte` range or an exact integer on an integer field."""

    def build(param: str, value: Any, call: Call) -> Predicate:
        bounds = parse_range(param, value)
        name = field_path or param
        return lambda obj: _within(obj.get(name), bounds)

    return build


def _within(value: Any, bounds: dict[str, int]) -> bool:
    if not isinstance(value, int):
        return False
    return (
        value > bounds.get("gt", value - 1)
        and value >= bounds.get("gte", value)
        and value < bounds.get("lt", value + 1)
        and value <= bounds.get("lte", value)
    )


def subscription_status(param: str, value: Any, call: Call) -> Predicate:
    """Stripe hides canceled subscriptions unless asked; `ended` means canceled or expired."""
    status = _text(param, value)
    if status not in SUBSCRIPTION_STATUSES:
        raise invalid_request(
            f"Invalid status: must be one of {', '.join(SUBSCRIPTION_STATUSES)}", param=param
        )
    if status == "all":
        return lambda obj: True
    if status == "ended":
        return lambda obj: obj.get("status") in ("canceled", "incomplete_expired")
    return lambda obj: obj.get("status") == status


def subscription_item_field(item_field: str) -> Filter:
    """Subscriptions having an item whose price (or plan) is the given one."""
    items_model = MODELS_BY_NAME["SubscriptionItem"]

    def build(param: str, value: Any, call: Call) -> Predicate:
        wanted = _text(param, value)

        def has_item(sub: Obj) -> bool:
            for item_id in call.store.children_ids(call.account, sub["id"], items_model):
                item = call.account.objects.get(item_id)
                if item is not None and _as_text(item.get(item_field)) == wanted:
                    return True
            return False

        return has_item

    return build


def invoice_item_pending(param: str, value: Any, call: Call) -> Predicate:
    """Pending invoice items are those not yet on an invoice."""
    pending = _boolean(param, value)
    return lambda obj: (obj.get("invoice") is None) == pending


def file_link_expired(param: str, value: Any, call: Call) -> Predicate:
    expired = _boolean(param, value)
    now = call.store.clock.now()

    def is_expired(obj: Obj) -> bool:
        expires_at = obj.get("expires_at")
        return (expires_at is not None and expires_at <= now) == expired

    return is_expired


_eq = equals()

# Filters each list endpoint accepts besides paging and `created`, as in the SDK's
# `stripe/params/*_list_params.py`. Parameters left out are refused as unknown.
LIST_FILTERS: dict[str, dict[str, Filter]] = {
    "ExternalAccount": {"object": _eq},
    "ApplicationFee": {"charge": _eq},
    "Transfer": {"destination": _eq, "transfer_group": _eq},
    # Stripe's `payout` filter returns what an automatic payout paid out; the emulator keeps no
    # such link, so it matches the payout's own balance transaction only.
    "BalanceTransaction": {"currency": _eq, "payout": equals("source"), "source": _eq, "type": _eq},
    "Payout": {"arrival_date": integer_range(), "destination": _eq, "status": _eq},
    "Topup": {"amount": integer_range(), "status": _eq},
    "Customer": {"email": _eq, "test_clock": _eq},
    "CustomerBalanceTransaction": {"invoice": _eq},
    "Card": {"object": _eq},
    "PaymentMethod": {"allow_redisplay": _eq, "customer": _eq, "type": _eq},
    "SetupIntent": {"customer": _eq, "payment_method": _eq},
    "Product": {"active": _eq, "ids": among("id"), "shippable": _eq, "type": _eq, "url": _eq},
    "Price": {
        "active": _eq,
        "currency": _eq,
        "lookup_keys": among("lookup_key"),
        "product": _eq,
        "type": _eq,
    },
    "Plan": {"active": _eq, "product": _eq},
    "PromotionCode": {
        "active": _eq,
        "code": _eq,
        "coupon": equals("promotion.coupon"),
        "customer": _eq,
    },
    "TaxRate": {"active": _eq, "inclusive": _eq},
    "ShippingRate": {"active": _eq, "currency": _eq},
    "Feature": {"archived": flag_inverted("active"), "lookup_key": _eq},
    "Subscription": {
        "collection_method": _eq,
        "customer": _eq,
        "plan": subscription_item_field("plan"),
        "price": subscription_item_field("price"),
        "status": subscription_status,
        "test_clock": _eq,
    },
    "SubscriptionSchedule": {"customer": _eq},
    "Invoice": {
        "collection_method": _eq,
        "customer": _eq,
        "due_date": integer_range(),
        "status": _eq,
        "subscription": equals("parent.subscription_details.subscription"),
    },
    "InvoiceItem": {"customer": _eq, "invoice": _eq, "pending": invoice_item_pending},
    "CreditNote": {"customer": _eq, "invoice": _eq},
    "Quote": {"customer": _eq, "status": _eq, "test_clock": _eq},
    "Meter": {"status": _eq},
    "CreditGrant": {"customer": _eq},
    "BillingPortalConfiguration": {"active": _eq, "is_default": _eq},
    "PaymentIntent": {"customer": _eq},
    "Charge": {"customer": _eq, "payment_intent": _eq, "transfer_group": _eq},
    "Refund": {"charge": _eq, "payment_intent": _eq},
    "Dispute": {"charge": _eq, "payment_intent": _eq},
    "EarlyFraudWarning": {"charge": _eq, "payment_intent": _eq},
    "ValueList": {"alias": _eq},
    "Session": {
        "customer": _eq,
        "payment_intent": _eq,
        "payment_link": _eq,
        "status": _eq,
        "subscription": _eq,
    },
    "PaymentLink": {"active": _eq},
    "File": {"purpose": _eq},
    "FileLink": {"expired": file_link_expired, "file": _eq},
    "IssuingCardholder": {"email": _eq, "phone_number": _eq, "status": _eq, "type": _eq},
    "IssuingCard": {
        "cardholder": _eq,
        "exp_month": _eq,
        "exp_year": _eq,
        "last4": _eq,
        "status": _eq,
        "type": _eq,
    },
    "IssuingAuthorization": {"card": _eq, "cardholder": _eq, "status": _eq},
    "IssuingTransaction": {"card": _eq, "cardholder": _eq, "type": _eq},
    "IssuingDispute": {"status": _eq, "transaction": _eq},
    "VerificationSession": {"client_reference_id": _eq, "status": _eq},
    "VerificationReport": {
        "client_reference_id": _eq,
        "type": _eq,
        "verification_session": _eq,
    },
}


def list_params(model: Model) -> frozenset[str]:
    """Every parameter the model's list endpoint accepts."""
    accepted = set(PAGING_PARAMS) | set(LIST_FILTERS.get(model.name, {}))
    if model.created_filter:
        accepted.add("created")
    if model.parent_param:
        accepted.add(model.parent_param)
    return frozenset(accepted)


def parse_limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    limit = _integer("limit", value)
    if limit < 1:
        raise invalid_request("This value must be greater than or equal to 1.", param="limit")
    if limit > MAX_LIMIT:
        raise invalid_request(
            f"This value must be less than or equal to {MAX_LIMIT}.", param="limit"
        )
    return limit


def parse_range(param: str, value: Any) -> dict[str, int]:
    """`created=123` or `created[gte]=…&created[lt]=…` as bounds for the store."""
    if isinstance(value, str):
        exact = _integer(param, value)
        return {"gte": exact, "lte": exact}
    if not isinstance(value, dict):
        raise invalid_request(f"Invalid integer: {_shown(value)}", param=param)
    bounds: dict[str, int] = {}
    for op, bound in value.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise unknown_parameter(f"{param}[{op}]")
        bounds[op] = _integer(f"{param}[{op}]", bound)
    return bounds


def _integer(param: str, value: Any) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value.strip()):
        raise invalid_request(f"Invalid integer: {_shown(value)}", param=param)
    return int(value)


def _boolean(param: str, value: Any) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise invalid_request(f"Invalid boolean: {_shown(value)}", param=param)


def _check_cursors(
    exists: Callable[[str], bool], object_name: str, *cursors: tuple[str, str | None]
) -> None:
    """Stripe answers a cursor naming no object of the list with a 404 naming the cursor."""
    for param, cursor in cursors:
        if cursor is not None and not exists(cursor):
            raise resource_missing(object_name, cursor, param=param)


def _expand_paths(params: dict[str, Any]) -> list[str]:
    value = params.get("expand")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise invalid_request(f"Invalid array: {_shown(value)}", param="expand")


def _cursors(params: dict[str, Any]) -> tuple[str | None, str | None]:
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after is not None and ending_before is not None:
        raise invalid_request(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    if starting_after is not None:
        _text("starting_after", starting_after)
    if ending_before is not None:
        _text("ending_before", ending_before)
    return starting_after or None, ending_before or None


# the API


class StripeApi:
    """Answers Stripe's v1 read endpoints for every catalog model, plus the registered writes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.router = Router()
        self._list_params = {m.name: list_params(m) for m in MODELS}
        self._embedded_on_expand = {
            m.name: {c.embedded: c for c in children_of(m) if c.embedded and c.embedded_on_expand}
            for m in MODELS
        }
        self._add_routes()

    def _add_routes(self) -> None:
        add = self.router.add
        add(Route("GET", "/v1/account", self.own_account))
        add(Route("GET", "/v1/events", self.list_events))
        add(Route("GET", "/v1/events/{id}", self.retrieve_event))
        for model in MODELS:
            list_action = self._bind(self.list_objects, model)
            add(Route("GET", model.path, list_action, model))
            if model.name in NOT_RETRIEVABLE:
                continue
            retrieve_action = self._bind(self.retrieve, model)
            add(Route("GET", f"{model.path}/{{id}}", retrieve_action, model))
        for write in WRITE_ROUTES:
            add(Route(write.method, write.pattern, self._write_action(write), write.model, True))

    @staticmethod
    def _bind(action: Callable[[Call, Model], Obj], model: Model) -> Callable[[Call], Obj]:
        return lambda call: action(call, model)

    def _write_action(self, write: WriteRoute) -> Callable[[Call], Obj]:
        def run(call: Call) -> Obj:
            expand = _expand_paths(call.params)
            params = {k: v for k, v in call.params.items() if k != "expand"}
            context = WriteContext(call.store, call.account, params, call.ids, call.request_id)
            obj = write.handler(context)
            if obj.get("deleted"):
                return obj
            return self._expanded(call, obj, expand, is_list=False)

        return run

    # expansion

    def _expander(self, call: Call) -> Expander:
        account = call.account

        def resolve(obj_id: str) -> Obj | None:
            obj = account.objects.get(obj_id)
            if obj is None:
                kind = account.deleted.get(obj_id)
                return {"id": obj_id, "object": kind, "deleted": True} if kind else None
            return obj

        def sub_list(parent: Obj, name: str) -> Obj | None:
            model = MODELS_BY_NAME.get(account.model_of.get(parent.get("id", ""), ""))
            child = self._embedded_on_expand.get(model.name, {}).get(name) if model else None
            if child is None:
                return None
            url = sub_list_url(child, parent["id"])
            return self.store.embedded_list(account, parent["id"], child, url)

        return Expander(resolve, sub_list)

    def _expanded(self, call: Call, obj: Obj, paths: list[str], is_list: bool) -> Obj:
        if not paths:
            return obj
        try:
            tree = parse_paths(paths, is_list=is_list)
            if is_list:
                expander = self._expander(call)
                data = [expander.expand(item, tree, "data.") for item in obj["data"]]
                return {**obj, "data": data}
            return self._expander(call).expand(obj, tree)
        except ExpandError as error:
            raise invalid_request(str(error), param="expand") from None

    # reads

    def list_objects(self, call: Call, model: Model) -> Obj:
        """A page of a model's list: newest first (children in their parent's order), with the
        parameters, filters and errors of Stripe's list endpoint for that model."""
        params = call.params
        refuse_unknown(params, self._list_params[model.name])
        limit = parse_limit(params.get("limit"))
        starting_after, ending_before = _cursors(params)
        expand = _expand_paths(params)
        created = parse_range("created", params["created"]) if "created" in params else None
        filters = LIST_FILTERS.get(model.name, {})
        predicates = [filters[p](p, params[p], call) for p in filters if p in params]
        predicates += self._default_predicates(model, params)

        if model.is_child:
            parent_id = self._parent_id(call, model)
            if created is not None:
                bounds = created
                predicates.append(lambda obj: _within(obj.get("created"), bounds))
            page, url = self._child_page(
                call, model, parent_id, limit, starting_after, ending_before, predicates
            )
        else:
            page = self._top_level_page(
                call, model, limit, starting_after, ending_before, created, predicates
            )
            url = model.path
        body = {
            "object": "list",
            "data": page.data,
            "has_more": page.has_more,
            "url": url,
        }
        return self._expanded(call, body, expand, is_list=True)

    def _default_predicates(self, model: Model, params: dict[str, Any]) -> list[Predicate]:
        """What Stripe leaves out unless asked: canceled subscriptions, test-clock objects."""
        found: list[Predicate] = []
        if model.name == "Subscription" and "status" not in params:
            found.append(lambda obj: obj.get("status") not in ("canceled", "incomplete_expired"))
        if model.name == "Customer" and "test_clock" not in params:
            found.append(lambda obj: obj.get("test_clock") is None)
        if model.name == "Subscription" and not {"test_clock", "customer"} & set(params):
            found.append(lambda obj: obj.get("test_clock") is None)
        return found

    def _parent_id(self, call: Call, model: Model) -> str:
        parent = MODELS_BY_NAME[model.parent or ""]
        if model.parent_param:
            param = model.parent_param
            parent_id = call.params.get(param)
            if parent_id is None:
                raise invalid_request(
                    f"Missing required param: {param}.", param=param, code="parameter_missing"
                )
            parent_id = _text(param, parent_id)
        else:
            param = parent.object.rpartition(".")[2]
            parent_id = call.ids["parent"]
        if call.account.model_of.get(parent_id) != parent.name:
            raise resource_missing(parent.object, parent_id, param=param)
        return parent_id

    def _top_level_page(
        self,
        call: Call,
        model: Model,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        created: dict[str, int] | None,
        predicates: list[Predicate],
    ) -> Page:
        index = call.account.indexes.get(model.name)
        _check_cursors(
            lambda cursor: index is not None and cursor in index,
            model.object,
            ("starting_after", starting_after),
            ("ending_before", ending_before),
        )
        return self.store.list_top_level(
            call.account,
            model,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            where=_all_of(predicates),
        )

    def _child_page(
        self,
        call: Call,
        model: Model,
        parent_id: str,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        predicates: list[Predicate],
    ) -> tuple[Page, str]:
        siblings = self.store.children_ids(call.account, parent_id, model)
        _check_cursors(
            siblings.__contains__,
            model.object,
            ("starting_after", starting_after),
            ("ending_before", ending_before),
        )
        page = self.store.list_children(
            call.account,
            parent_id,
            model,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            where=_all_of(predicates),
        )
        url = model.path if model.parent_param else model.list_path(parent_id)
        return page, url

    def retrieve(self, call: Call, model: Model) -> Obj:
        """`GET <path>/{id}`: the stored object, or Stripe's `{"deleted": true}` stub for one
        deleted through the API; children only under the parent their path names."""
        refuse_unknown(call.params, RETRIEVE_PARAMS)
        expand = _expand_paths(call.params)
        obj_id = call.ids["id"]
        account = call.account

        if model.name == "Account" and obj_id == account.id:
            return account_object(self.store, account)
        obj = account.objects.get(obj_id)
        if obj is None or account.model_of.get(obj_id) != model.name:
            if account.deleted.get(obj_id) == model.object and self._under_parent(call, obj_id):
                return {"id": obj_id, "object": model.object, "deleted": True}
            raise resource_missing(model.object, obj_id)
        if model.is_child and not model.parent_param and not self._under_parent(call, obj_id):
            raise resource_missing(model.object, obj_id)
        return self._expanded(call, obj, expand, is_list=False)

    def _under_parent(self, call: Call, obj_id: str) -> bool:
        """Whether a child's path names its own parent (`/v1/customers/{cus}/tax_ids/{id}`)."""
        parent_id = call.ids.get("parent")
        if parent_id is None:
            return True
        owner = call.account.parent_of.get(obj_id)
        return owner is None or owner[0] == parent_id

    def own_account(self, call: Call) -> Obj:
        refuse_unknown(call.params, RETRIEVE_PARAMS)
        return account_object(self.store, call.account)

    def list_events(self, call: Call) -> Obj:
        """`GET /v1/events`: the last 30 days only, filtered by type (with `*`), `types[]`,
        `created` and `delivery_success` (false: webhooks still pending)."""
        params = call.params
        refuse_unknown(params, EVENT_LIST_PARAMS)
        limit = parse_limit(params.get("limit"))
        starting_after, ending_before = _cursors(params)
        created = parse_range("created", params["created"]) if "created" in params else None
        types = _event_types(params)
        delivery_success = (
            _boolean("delivery_success", params["delivery_success"])
            if "delivery_success" in params
            else None
        )
        # Events have no expandable fields: `data.object` is a snapshot, never expanded.
        expand = _expand_paths(params)
        if expand:
            message = f"This property cannot be expanded ({expand[0]})."
            raise invalid_request(message, param="expand")

        _check_cursors(
            call.account.events.__contains__,
            "event",
            ("starting_after", starting_after),
            ("ending_before", ending_before),
        )
        page = self.store.list_events(
            call.account,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            types=types,
            delivery_success=delivery_success,
        )
        return {"object": "list", "data": page.data, "has_more": page.has_more, "url": "/v1/events"}

    def retrieve_event(self, call: Call) -> Obj:
        """An event by id, a 404 once it is older than 30 days as on Stripe."""
        refuse_unknown(call.params, RETRIEVE_PARAMS)
        event_id = call.ids["id"]
        event = call.account.objects.get(event_id)
        if (
            event is None
            or call.account.model_of.get(event_id) != "Event"
            or not self.store.event_is_served(event)
        ):
            raise resource_missing("event", event_id)
        return event


def _all_of(predicates: list[Predicate]) -> Predicate | None:
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda obj: all(p(obj) for p in predicates)


def _event_types(params: dict[str, Any]) -> list[str] | None:
    """`type` (exact or with `*`) or up to 20 `types[]`, never both, as Stripe allows."""
    if "type" in params and "types" in params:
        raise invalid_request(
            "You may only specify one of these parameters: type, types.", param="type"
        )
    if "type" in params:
        return [_text("type", params["type"])]
    if "types" not in params:
        return None
    value = params["types"]
    types = value if isinstance(value, list) else [value]
    if len(types) > MAX_EVENT_TYPES:
        raise invalid_request(
            f"You may pass at most {MAX_EVENT_TYPES} values in types; got {len(types)}.",
            param="types",
        )
    return [_text("types", t) for t in types]


def sub_list_url(child: Model, parent_id: str) -> str:
    """The `url` Stripe puts on a sub-list: where the rest of it can be paged."""
    if child.parent_param:
        return f"{child.path}?{child.parent_param}={parent_id}"
    return child.list_path(parent_id)


def account_object(store: Store, account: Account) -> Obj:
    """`GET /v1/account`: a connected account's stored object, or one built for a platform."""
    if account.platform is not None:
        stored = store.accounts[account.platform].objects.get(account.id)
        if stored is not None:
            return stored
    return {
        "id": account.id,
        "object": "account",
        "business_profile": {
            "mcc": "5734",
            "name": f"Emulated Business {account.number}",
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "country": "US",
        "created": _account_created(store, account),
        "default_currency": "usd",
        "details_submitted": True,
        "email": f"owner+{account.number}@example.com",
        "metadata": {},
        "payouts_enabled": True,
        "type": "standard",
    }


def _account_created(store: Store, account: Account) -> int:
    """A day before the account's oldest object, so the account predates everything it owns."""
    oldest = store.clock.now()
    for index in account.indexes.values():
        if len(index):
            last_id = next(index.ids(len(index) - 1, len(index)))
            oldest = min(oldest, account.objects[last_id].get("created", oldest))
    return oldest - 86_400


# HTTP


@dataclass
class Answer:
    """An HTTP answer before the headers every answer shares are added."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_error(cls, error: ApiError) -> Answer:
        return cls(error.status, orjson.dumps(error.body()), error.headers)


class Idempotency:
    """The first answer to each write per `Idempotency-Key`, replayed as Stripe replays it, so a
    client retrying a POST after a dropped connection does not create twice."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple[str, str], Answer] = OrderedDict()

    def get(self, account_id: str, key: str) -> Answer | None:
        return self._answers.get((account_id, key))

    def remember(self, account_id: str, key: str, answer: Answer) -> None:
        self._answers[(account_id, key)] = answer
        while len(self._answers) > IDEMPOTENCY_MEMORY:
            self._answers.popitem(last=False)


class ApiServer:
    """The aiohttp handler for `/v1/...`: simulation, authentication, routing, answers."""

    def __init__(self, store: Store, simulation: Simulation) -> None:
        self.store = store
        self.simulation = simulation
        self.api = StripeApi(store)
        self.keys = KeyRing(store)
        self.idempotency = Idempotency()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = new_id("req")
        method = request.method
        matched = self.api.router.match(method, request.path)
        pattern = matched[0].pattern if matched else "unrecognized"
        metrics = self.simulation.metrics

        delay = self.simulation.latency_seconds()
        if delay:
            await asyncio.sleep(delay)

        fault = self.simulation.fault()
        if fault == "dropped_connection":
            metrics.served(method, pattern, "dropped")
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError

        livemode = False
        try:
            if fault is not None:
                raise _fault_error(fault)
            key = self._authenticate(request)
            livemode = key.livemode
            answer = await self._serve(request, request_id, key, matched)
        except ApiError as error:
            answer = Answer.of_error(error)
        except Exception:
            # A bug in the emulator: answer as Stripe answers its own failures, and keep the
            # traceback in the log for whoever runs the emulator.
            log.exception("emulator failed answering %s %s (%s)", method, request.path, request_id)
            answer = Answer.of_error(ApiError(500, "An unknown error occurred", type="api_error"))
        metrics.served(method, pattern, str(answer.status))

        body = answer.body
        if livemode:
            body = body.replace(b'"livemode":false', b'"livemode":true')
        return web.Response(
            status=answer.status,
            body=body,
            content_type="application/json",
            headers={
                "Request-Id": request_id,
                "Stripe-Version": API_VERSION,
                # Stripe's clock, which tests move forward: clients version fetched rows by it
                "Date": formatdate(self.store.clock.now(), usegmt=True),
                **answer.headers,
            },
        )

    async def _serve(
        self,
        request: web.Request,
        request_id: str,
        key: ApiKey,
        matched: tuple[Route, dict[str, str]] | None,
    ) -> Answer:
        account = self._acting_account(key, request.headers.get("Stripe-Account"))
        if matched is None:
            raise _unrecognized(request.method, request.path)
        route, ids = matched
        self._check_rate(key, route)
        self._check_permission(key, account, route)

        call = Call(self.store, account, key, await _params(request), ids, request_id)
        if not route.write:
            return Answer(200, orjson.dumps(route.action(call)))
        return self._write(request.headers.get("Idempotency-Key"), call, route)

    def _write(self, idempotency_key: str | None, call: Call, route: Route) -> Answer:
        if idempotency_key:
            replay = self.idempotency.get(call.account.id, idempotency_key)
            if replay is not None:
                return Answer(replay.status, replay.body, {"Idempotent-Replayed": "true"})
        try:
            answer = Answer(200, orjson.dumps(route.action(call)))
        except ApiError as error:
            answer = Answer.of_error(error)
        if idempotency_key:
            self.idempotency.remember(call.account.id, idempotency_key, answer)
        return answer

    def _authenticate(self, request: web.Request) -> ApiKey:
        secret = secret_from_authorization(request.headers.get("Authorization"))
        if secret is None:
            raise ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.",
                headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
            )
        key = self.keys.find(secret)
        if key is None:
            raise ApiError(
                401,
                f"Invalid API Key provided: {mask_key(secret)}",
                headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
            )
        return key

    def _acting_account(self, key: ApiKey, stripe_account: str | None) -> Account:
        """The key's account, or with `Stripe-Account` one of its connected accounts."""
        own = self.store.accounts[key.account_id]
        if not stripe_account or stripe_account == own.id:
            return own
        if stripe_account in own.connected and stripe_account in self.store.accounts:
            return self.store.accounts[stripe_account]
        raise ApiError(
            403,
            f"The provided key '{mask_key(key.secret)}' does not have access to account "
            f"'{stripe_account}' (or that account does not exist). Application access may "
            "have been revoked.",
            code="account_invalid",
        )

    def _check_rate(self, key: ApiKey, route: Route) -> None:
        """Stripe's 429 for the request-rate limiters.

        Stripe answers with type `invalid_request_error`, code `rate_limit` and a message that
        differs between test and live mode, plus a `Stripe-Rate-Limited-Reason` header naming the
        limiter. It documents no `Retry-After` and sends no `Stripe-Should-Retry: true`, so the
        SDK raises `RateLimitError` rather than retrying; clients must back off themselves.
        """
        reason = self.simulation.rate_limited(key.secret, f"{route.method} {route.pattern}")
        if reason is None:
            return
        if key.livemode:
            message = "Request rate limit exceeded."
        else:
            message = (
                "Testmode request rate limit exceeded, the rate limits in testmode are lower "
                "than livemode."
            )
        raise ApiError(
            429,
            f"{message} You can learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            headers={"Stripe-Rate-Limited-Reason": reason},
        )

    def _check_permission(self, key: ApiKey, account: Account, route: Route) -> None:
        """A restricted key's 403 names the permission that would let the request through."""
        model = route.model
        if model is None:
            return
        allowed = key.can_write(model.permission) if route.write else key.can_read(model.permission)
        if allowed:
            return
        raise ApiError(
            403,
            f"The provided key '{mask_key(key.secret, visible=6)}' does not have the required "
            f"permissions for this endpoint on account '{account.id}'. Having the "
            f"'{permission_name(model, route.write)}' permission would allow this request to "
            "continue.",
        )


async def _params(request: web.Request) -> dict[str, Any]:
    if request.method == "POST":
        body = await request.text()
        return parse_form(parse_qsl(body, keep_blank_values=True))
    return parse_form(parse_qsl(request.query_string, keep_blank_values=True))


def _unrecognized(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/.",
    )


def _fault_error(fault: str) -> ApiError:
    if fault == "unavailable":
        return ApiError(
            503,
            "Stripe is temporarily unavailable. Please try again in a few moments.",
            type="api_error",
        )
    return ApiError(500, "An unknown error occurred", type="api_error")


# control endpoints


class Control:
    """`/_emulator/...`: ground truth, metrics, clock and simulation settings, keys."""

    def __init__(self, store: Store, simulation: Simulation, keys: KeyRing) -> None:
        self.store = store
        self.simulation = simulation
        self.keys = keys

    async def state(self, request: web.Request) -> web.Response:
        wanted_account = request.query.get("account")
        wanted_model = request.query.get("model")
        if wanted_account and wanted_account not in self.store.accounts:
            return _control_error(404, f"unknown account {wanted_account}")
        if wanted_model and wanted_model not in MODELS_BY_NAME:
            return _control_error(
                404, f"unknown model {wanted_model}; use a catalog name such as Customer"
            )
        accounts: dict[str, Any] = {}
        for account_id, account in list(self.store.accounts.items()):
            if wanted_account and account_id != wanted_account:
                continue
            state = self.store.state(account)
            if wanted_model:
                state = {wanted_model: state.get(wanted_model, [])}
            accounts[account_id] = state
        return _control_json({"accounts": accounts})

    async def metrics(self, request: web.Request) -> web.Response:
        return _control_json(self.simulation.metrics.snapshot())

    async def reset_metrics(self, request: web.Request) -> web.Response:
        self.simulation.metrics.reset()
        return _control_json(self.simulation.metrics.snapshot())

    async def advance_clock(self, request: web.Request) -> web.Response:
        values = await _control_body(request)
        try:
            seconds = int(values.get("seconds", ""))
        except (TypeError, ValueError):
            return _control_error(400, "seconds must be an integer number of seconds to advance")
        if str(values.get("bill_renewals", "")).lower() in ("1", "true"):
            return _control_json({"now": billing.advance_clock(self.store, seconds)})
        return _control_json({"now": self.store.clock.advance(seconds)})

    async def configure(self, request: web.Request) -> web.Response:
        values = {name: _setting(value) for name, value in (await _control_body(request)).items()}
        try:
            config = self.simulation.configure(**values)
        except ConfigError as error:
            return _control_error(400, str(error))
        return _control_json(vars(config))

    async def list_keys(self, request: web.Request) -> web.Response:
        accounts = []
        for keys in self.keys.all_keys():
            platform = self.store.accounts[keys.account_id].platform
            accounts.append(
                {
                    "id": keys.account_id,
                    "number": keys.number,
                    "platform": platform,
                    "secret_key": keys.secret,
                    "live_key": keys.live,
                    "restricted_key": keys.restricted,
                }
            )
        return _control_json({"accounts": accounts})


async def _control_body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return dict(request.query)
    if request.content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            loaded = orjson.loads(text)
        except orjson.JSONDecodeError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return dict(parse_qsl(text))


def _setting(value: Any) -> Any:
    """A setting from JSON as given, or from a form: numbers, and `null` or empty for none."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() in ("", "null", "none"):
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _control_json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _control_error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"error": {"message": message}}),
        content_type="application/json",
    )


def create_app(store: Store, simulation: Simulation | None = None) -> web.Application:
    """The aiohttp application serving `store` with the given simulation settings."""
    simulation = simulation or Simulation()
    server = ApiServer(store, simulation)
    control = Control(store, simulation, server.keys)

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/_emulator/state", control.state)
    app.router.add_get("/_emulator/metrics", control.metrics)
    app.router.add_post("/_emulator/metrics/reset", control.reset_metrics)
    app.router.add_post("/_emulator/clock/advance", control.advance_clock)
    app.router.add_post("/_emulator/config", control.configure)
    app.router.add_get("/_emulator/keys", control.list_keys)
    app.router.add_route("*", "/{path:.*}", server.handle)
    return app

"""The catalog of Stripe models: one declarative entry per model.

Both the dlt source and the emulator read this table, so adding a model is one `Model(...)` line.
Event types are resolved against the `type` Literal of the pinned SDK's `stripe.Event`, so a typo in
an event prefix shows up as a model with no events in `tests/test_catalog.py` rather than as
silently missed updates.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from functools import cached_property

import stripe


@dataclass(frozen=True, eq=False)
class Model:
    """One Stripe model and how to list it.

    Attributes:
        name: dj-stripe style class name users type on the command line (`PaymentIntent`).
        object: Stripe's `object` value (`payment_intent`), the key of the SDK's class table.
        table: destination table, plural snake case.
        path: list path. Children use `{parent}` for the parent's id, or `parent_param`.
        parent: name of the parent model for objects Stripe lists only under a parent.
        parent_param: query parameter naming the parent (`/v1/subscription_items?subscription=`).
        parent_field: field of a child naming its parent, where Stripe gives one (a tax id's
            `customer`); lets an event about the child find its parent.
        embedded: field of the parent holding the first 10 children as a sub-list.
        relist_on: for children neither embedded nor announced by events, the parent field
            whose change means the children changed (a customer's `balance` moves with every
            balance transaction); without it, any event about the parent lists them again.
        embedded_on_expand: the sub-list is only present when the parent list asks for
            `expand[]=data.<embedded>` (customer `tax_ids` and `sources`, quote `line_items`).
        created_filter: whether the list endpoint accepts `created[gt]` and friends.
        created_field: the field holding the creation time (`date` on invoice items).
        list_params: extra parameters every list call sends (`status=all` for subscriptions).
        event_prefixes: `<prefix>.<verb>` event types carry this model as `data.object`.
        delete_events: event types after which the object no longer exists.
        permission: resource group a restricted key may lack.
    """

    name: str
    object: str
    table: str
    path: str
    parent: str | None = None
    parent_param: str | None = None
    parent_field: str | None = None
    embedded: str | None = None
    embedded_on_expand: bool = False
    relist_on: str | None = None
    created_filter: bool = True
    created_field: str = "created"
    list_params: dict[str, str] = field(default_factory=dict)
    event_prefixes: tuple[str, ...] = ()
    delete_events: tuple[str, ...] = ()
    permission: str = "core"

    @property
    def is_child(self) -> bool:
        return self.parent is not None

    @cached_property
    def event_types(self) -> tuple[str, ...]:
        """Exact event types whose `data.object` is this model, from the pinned SDK."""
        prefixes = set(self.event_prefixes)
        found = []
        for event_type in ALL_EVENT_TYPES:
            prefix, _, verb = event_type.rpartition(".")
            if prefix in prefixes and event_type not in NON_OBJECT_EVENTS:
                found.append(event_type)
        return tuple(found)

    def list_path(self, parent_id: str | None = None) -> str:
        if "{parent}" in self.path:
            if parent_id is None:
                raise ValueError(f"{self.name} is listed under a {self.parent}; give its id")
            return self.path.format(parent=parent_id)
        return self.path


def _event_types() -> tuple[str, ...]:
    hints = typing.get_type_hints(stripe.Event)
    return tuple(typing.get_args(hints["type"]))


ALL_EVENT_TYPES = _event_types()

# Events whose payload is not the object it is named after: an upcoming invoice has no id, and
# `*.application.*` carries an application, not an account.
NON_OBJECT_EVENTS = frozenset({"invoice.upcoming", "invoice.will_be_due"})

_M = Model
MODELS: tuple[Model, ...] = (
    # Connect and balance
    _M(
        "Account",
        "account",
        "accounts",
        "/v1/accounts",
        event_prefixes=("account",),
        permission="connect",
    ),
    _M(
        "Person",
        "person",
        "persons",
        "/v1/accounts/{parent}/persons",
        parent="Account",
        parent_field="account",
        created_filter=False,
        event_prefixes=("person",),
        delete_events=("person.deleted",),
        permission="connect",
    ),
    _M(
        "ExternalAccount",
        "bank_account",
        "external_accounts",
        "/v1/accounts/{parent}/external_accounts",
        parent="Account",
        parent_field="account",
        embedded="external_accounts",
        created_filter=False,
        event_prefixes=("account.external_account",),
        delete_events=("account.external_account.deleted",),
        permission="connect",
    ),
    _M(
        "Capability",
        "capability",
        "capabilities",
        "/v1/accounts/{parent}/capabilities",
        parent="Account",
        parent_field="account",
        created_filter=False,
        event_prefixes=("capability",),
        permission="connect",
    ),
    _M(
        "ApplicationFee",
        "application_fee",
        "application_fees",
        "/v1/application_fees",
        event_prefixes=("application_fee",),
        permission="connect",
    ),
    _M(
        "ApplicationFeeRefund",
        "fee_refund",
        "application_fee_refunds",
        "/v1/application_fees/{parent}/refunds",
        parent="ApplicationFee",
        parent_field="fee",
        embedded="refunds",
        created_filter=False,
        event_prefixes=("application_fee.refund",),
        permission="connect",
    ),
    _M(
        "Transfer",
        "transfer",
        "transfers",
        "/v1/transfers",
        event_prefixes=("transfer",),
        permission="connect",
    ),
    _M(
        "TransferReversal",
        "transfer_reversal",
        "transfer_reversals",
        "/v1/transfers/{parent}/reversals",
        parent="Transfer",
        parent_field="transfer",
        embedded="reversals",
        created_filter=False,
        permission="connect",
    ),
    _M(
        "BalanceTransaction",
        "balance_transaction",
        "balance_transactions",
        "/v1/balance_transactions",
        permission="balance",
    ),
    _M(
        "Payout",
        "payout",
        "payouts",
        "/v1/payouts",
        event_prefixes=("payout",),
        permission="payouts",
    ),
    _M("Topup", "topup", "topups", "/v1/topups", event_prefixes=("topup",), permission="balance"),
    # Customers and payment methods
    _M(
        "Customer",
        "customer",
        "customers",
        "/v1/customers",
        event_prefixes=("customer",),
        delete_events=("customer.deleted",),
    ),
    _M(
        "TaxId",
        "tax_id",
        "tax_ids",
        "/v1/customers/{parent}/tax_ids",
        parent="Customer",
        parent_field="customer",
        embedded="tax_ids",
        embedded_on_expand=True,
        created_filter=False,
        event_prefixes=("customer.tax_id",),
        delete_events=("customer.tax_id.deleted",),
    ),
    _M(
        "CustomerBalanceTransaction",
        "customer_balance_transaction",
        "customer_balance_transactions",
        "/v1/customers/{parent}/balance_transactions",
        parent="Customer",
        parent_field="customer",
        relist_on="balance",
        created_filter=False,
        event_prefixes=("customer_balance_transaction",),
    ),
    _M(
        "Card",
        "card",
        "cards",
        "/v1/customers/{parent}/sources",
        parent="Customer",
        parent_field="customer",
        embedded="sources",
        embedded_on_expand=True,
        created_filter=False,
        list_params={"object": "card"},
        event_prefixes=("customer.source",),
        delete_events=("customer.source.deleted",),
    ),
    _M(
        "PaymentMethod",
        "payment_method",
        "payment_methods",
        "/v1/payment_methods",
        created_filter=False,
        event_prefixes=("payment_method",),
    ),
    _M(
        "SetupIntent",
        "setup_intent",
        "setup_intents",
        "/v1/setup_intents",
        event_prefixes=("setup_intent",),
    ),
    _M(
        "SetupAttempt",
        "setup_attempt",
        "setup_attempts",
        "/v1/setup_attempts",
        parent="SetupIntent",
        parent_field="setup_intent",
        parent_param="setup_intent",
    ),
    # Catalog of things sold
    _M(
        "Product",
        "product",
        "products",
        "/v1/products",
        event_prefixes=("product",),
        delete_events=("product.deleted",),
    ),
    _M(
        "ProductFeature",
        "product_feature",
        "product_features",
        "/v1/products/{parent}/features",
        parent="Product",
        created_filter=False,
    ),
    _M(
        "Price",
        "price",
        "prices",
        "/v1/prices",
        event_prefixes=("price",),
        delete_events=("price.deleted",),
    ),
    _M(
        "Plan",
        "plan",
        "plans",
        "/v1/plans",
        event_prefixes=("plan",),
        delete_events=("plan.deleted",),
    ),
    _M(
        "Coupon",
        "coupon",
        "coupons",
        "/v1/coupons",
        event_prefixes=("coupon",),
        delete_events=("coupon.deleted",),
    ),
    _M(
        "PromotionCode",
        "promotion_code",
        "promotion_codes",
        "/v1/promotion_codes",
        event_prefixes=("promotion_code",),
    ),
    _M("TaxRate", "tax_rate", "tax_rates", "/v1/tax_rates", event_prefixes=("tax_rate",)),
    _M("TaxCode", "tax_code", "tax_codes", "/v1/tax_codes", created_filter=False),
    _M("ShippingRate", "shipping_rate", "shipping_rates", "/v1/shipping_rates"),
    _M(
        "Feature",
        "entitlements.feature",
        "entitlements_features",
        "/v1/entitlements/features",
        created_filter=False,
        permission="entitlements",
    ),
    # Billing
    _M(
        "Subscription",
        "subscription",
        "subscriptions",
        "/v1/subscriptions",
        list_params={"status": "all"},
        event_prefixes=("customer.subscription",),
    ),
    _M(
        "SubscriptionItem",
        "subscription_item",
        "subscription_items",
        "/v1/subscription_items",
        parent="Subscription",
        parent_field="subscription",
        parent_param="subscription",
        embedded="items",
        created_filter=False,
    ),
    _M(
        "SubscriptionSchedule",
        "subscription_schedule",
        "subscription_schedules",
        "/v1/subscription_schedules",
        event_prefixes=("subscription_schedule",),
    ),
    _M(
        "Invoice",
        "invoice",
        "invoices",
        "/v1/invoices",
        event_prefixes=("invoice",),
        delete_events=("invoice.deleted",),
    ),
    _M(
        "InvoiceLineItem",
        "line_item",
        "invoice_line_items",
        "/v1/invoices/{parent}/lines",
        parent="Invoice",
        parent_field="invoice",
        embedded="lines",
        created_filter=False,
    ),
    _M(
        "InvoiceItem",
        "invoiceitem",
        "invoice_items",
        "/v1/invoiceitems",
        created_field="date",
        event_prefixes=("invoiceitem",),
        delete_events=("invoiceitem.deleted",),
    ),
    _M(
        "CreditNote",
        "credit_note",
        "credit_notes",
        "/v1/credit_notes",
        event_prefixes=("credit_note",),
    ),
    _M(
        "CreditNoteLineItem",
        "credit_note_line_item",
        "credit_note_line_items",
        "/v1/credit_notes/{parent}/lines",
        parent="CreditNote",
        embedded="lines",
        created_filter=False,
    ),
    _M("Quote", "quote", "quotes", "/v1/quotes", created_filter=False, event_prefixes=("quote",)),
    _M(
        "QuoteLineItem",
        "item",
        "quote_line_items",
        "/v1/quotes/{parent}/line_items",
        parent="Quote",
        embedded="line_items",
        embedded_on_expand=True,
        created_filter=False,
    ),
    _M(
        "Meter",
        "billing.meter",
        "billing_meters",
        "/v1/billing/meters",
        created_filter=False,
        event_prefixes=("billing.meter",),
        permission="billing_meters",
    ),
    _M(
        "CreditGrant",
        "billing.credit_grant",
        "billing_credit_grants",
        "/v1/billing/credit_grants",
        created_filter=False,
        event_prefixes=("billing.credit_grant",),
    ),
    _M(
        "BillingPortalConfiguration",
        "billing_portal.configuration",
        "billing_portal_configurations",
        "/v1/billing_portal/configurations",
        created_filter=False,
        event_prefixes=("billing_portal.configuration",),
    ),
    # Payments
    _M(
        "PaymentIntent",
        "payment_intent",
        "payment_intents",
        "/v1/payment_intents",
        event_prefixes=("payment_intent",),
    ),
    _M("Charge", "charge", "charges", "/v1/charges", event_prefixes=("charge",)),
    _M("Refund", "refund", "refunds", "/v1/refunds", event_prefixes=("refund", "charge.refund")),
    _M("Dispute", "dispute", "disputes", "/v1/disputes", event_prefixes=("charge.dispute",)),
    _M("Review", "review", "reviews", "/v1/reviews", event_prefixes=("review",)),
    _M(
        "EarlyFraudWarning",
        "radar.early_fraud_warning",
        "early_fraud_warnings",
        "/v1/radar/early_fraud_warnings",
        event_prefixes=("radar.early_fraud_warning",),
    ),
    _M("ValueList", "radar.value_list", "radar_value_lists", "/v1/radar/value_lists"),
    _M(
        "Session",
        "checkout.session",
        "checkout_sessions",
        "/v1/checkout/sessions",
        event_prefixes=("checkout.session",),
    ),
    _M(
        "CheckoutSessionLineItem",
        "item",
        "checkout_session_line_items",
        "/v1/checkout/sessions/{parent}/line_items",
        parent="Session",
        embedded="line_items",
        embedded_on_expand=True,
        created_filter=False,
    ),
    _M(
        "PaymentLink",
        "payment_link",
        "payment_links",
        "/v1/payment_links",
        created_filter=False,
        event_prefixes=("payment_link",),
    ),
    _M(
        "PaymentLinkLineItem",
        "item",
        "payment_link_line_items",
        "/v1/payment_links/{parent}/line_items",
        parent="PaymentLink",
        embedded="line_items",
        embedded_on_expand=True,
        created_filter=False,
    ),
    # Files and developer objects
    _M("File", "file", "files", "/v1/files", event_prefixes=("file",), permission="files"),
    _M("FileLink", "file_link", "file_links", "/v1/file_links", permission="files"),
    _M(
        "WebhookEndpoint",
        "webhook_endpoint",
        "webhook_endpoints",
        "/v1/webhook_endpoints",
        created_filter=False,
        permission="webhooks",
    ),
    # Issuing
    _M(
        "IssuingCardholder",
        "issuing.cardholder",
        "issuing_cardholders",
        "/v1/issuing/cardholders",
        event_prefixes=("issuing_cardholder",),
        permission="issuing",
    ),
    _M(
        "IssuingCard",
        "issuing.card",
        "issuing_cards",
        "/v1/issuing/cards",
        event_prefixes=("issuing_card",),
        permission="issuing",
    ),
    _M(
        "IssuingAuthorization",
        "issuing.authorization",
        "issuing_authorizations",
        "/v1/issuing/authorizations",
        event_prefixes=("issuing_authorization",),
        permission="issuing",
    ),
    _M(
        "IssuingTransaction",
        "issuing.transaction",
        "issuing_transactions",
        "/v1/issuing/transactions",
        event_prefixes=("issuing_transaction",),
        permission="issuing",
    ),
    _M(
        "IssuingDispute",
        "issuing.dispute",
        "issuing_disputes",
        "/v1/issuing/disputes",
        event_prefixes=("issuing_dispute",),
        permission="issuing",
    ),
    # Identity
    _M(
        "VerificationSession",
        "identity.verification_session",
        "identity_verification_sessions",
        "/v1/identity/verification_sessions",
        event_prefixes=("identity.verification_session",),
        permission="identity",
    ),
    _M(
        "VerificationReport",
        "identity.verification_report",
        "identity_verification_reports",
        "/v1/identity/verification_reports",
        permission="identity",
    ),
)

MODELS_BY_NAME: dict[str, Model] = {model.name: model for model in MODELS}

EVENT_MODEL = Model("Event", "event", "events", "/v1/events")
"""Events are read for changes and kept 30 days by Stripe; they are not a model to sync."""

MODEL_BY_EVENT_TYPE: dict[str, Model] = {
    event_type: model for model in MODELS for event_type in model.event_types
}


def children_of(parent: Model) -> tuple[Model, ...]:
    return tuple(model for model in MODELS if model.parent == parent.name)


def find_model(text: str) -> Model | None:
    """Find a model by class name, object type or table name, ignoring case.

    Object types shared by several models (`item`) resolve by class or table name only.
    """
    wanted = text.strip().lower()
    for model in MODELS:
        if wanted in (model.name.lower(), model.table.lower()):
            return model
    matches = [model for model in MODELS if model.object.lower() == wanted]
    return matches[0] if len(matches) == 1 else None

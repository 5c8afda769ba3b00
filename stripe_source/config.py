"""Where keys and the API address come from: dlt's config and secrets, or `STRIPE_API_KEY`."""

from __future__ import annotations

import os
from collections.abc import Sequence

import dlt
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException

from stripe_source.api import DEFAULT_API_BASE
from stripe_source.catalog import MODELS, Model, find_model
from stripe_source.keys import ApiKey, BadKeyError, mask_key, parse_key

KEYS_SETTING = "sources.stripe_source.api_keys"
API_BASE_SETTING = "sources.stripe_source.api_base"
HARD_DELETES_SETTING = "sources.stripe_source.hard_deletes"
DUCKDB_MEMORY_SETTING = "sources.stripe_source.duckdb_memory_limit"
DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"


class BadInputError(ValueError):
    """Input the user can fix: the message names the value, the valid choices and the fix."""


def configured_keys() -> list[ApiKey]:
    """Keys from `.dlt/secrets.toml` or the dlt environment variable, else `STRIPE_API_KEY`."""
    try:
        raw = dlt.secrets.get(KEYS_SETTING, list)
    except ConfigValueCannotBeCoercedException:
        # a single key given as a plain string rather than a list
        raw = [dlt.secrets.get(KEYS_SETTING, str)]
    if not raw and os.environ.get("STRIPE_API_KEY"):
        raw = [os.environ["STRIPE_API_KEY"]]
    try:
        return [parse_key(key) for key in raw or []]
    except BadKeyError as error:
        raise BadInputError(f"{error}; fix the key in {KEYS_SETTING}") from None


def configured_api_base(override: str | None = None) -> str:
    return override or dlt.config.get(API_BASE_SETTING) or DEFAULT_API_BASE


def configured_hard_deletes() -> bool:
    """Remove deleted objects' rows instead of keeping them with `is_deleted` (the default)."""
    return bool(dlt.config.get(HARD_DELETES_SETTING, bool) or False)


def configured_duckdb_memory_limit() -> str:
    """How much memory DuckDB may take while loading, in DuckDB's notation (`256MB`, `1GB`)."""
    return str(dlt.config.get(DUCKDB_MEMORY_SETTING, str) or DEFAULT_DUCKDB_MEMORY_LIMIT)


def choose_keys(configured: list[ApiKey], wanted: Sequence[str] | None) -> list[ApiKey]:
    """The configured keys named on the command line, by full key; account ids pass through.

    A wanted value starting with `acct_` is resolved later, once each key's account is known.
    """
    if not configured:
        raise BadInputError(
            f"no Stripe API key configured; set {KEYS_SETTING} in .dlt/secrets.toml, "
            "SOURCES__STRIPE_SOURCE__API_KEYS or STRIPE_API_KEY"
        )
    if not wanted:
        return configured
    by_secret = {key.secret: key for key in configured}
    unknown = [w for w in wanted if not w.startswith("acct_") and w not in by_secret]
    if unknown:
        configured_list = ", ".join(key.masked for key in configured)
        raise BadInputError(
            f"API key {mask_key(unknown[0])} is not configured; configured keys: "
            f"{configured_list}; add it to {KEYS_SETTING} or pick one of those"
        )
    account_ids = [w for w in wanted if w.startswith("acct_")]
    if account_ids and len(account_ids) < len(wanted):
        raise BadInputError(
            "--api-keys takes either keys or account ids, not both; "
            f"got {len(account_ids)} account ids and {len(wanted) - len(account_ids)} keys"
        )
    if account_ids:
        return configured
    return [by_secret[w] for w in dict.fromkeys(wanted)]


def choose_models(names: Sequence[str] | None) -> list[Model]:
    """Models by class name, object type or table name, any case; all of them when none named."""
    if not names:
        return list(MODELS)
    chosen = []
    for name in names:
        model = find_model(name)
        if model is None:
            valid = ", ".join(m.name for m in MODELS)
            raise BadInputError(
                f"unknown model {name!r}; valid models: {valid}; "
                "run `stripe-sync models` for their tables and object types"
            )
        chosen.append(model)
    return list(dict.fromkeys(chosen))

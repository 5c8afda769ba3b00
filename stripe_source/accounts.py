"""The Stripe accounts a run reads: each configured key resolved to its `acct_…` id."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import stripe

from stripe_source.api import DEFAULT_API_BASE, KeyRejectedError, StripeApi
from stripe_source.fetch import STRIPE_EPOCH
from stripe_source.keys import ApiKey
from stripe_source.report import SyncReport

logger = logging.getLogger(__name__)


class ApiUnreachableError(Exception):
    """Nothing answers at the API base address."""


@dataclass
class StripeAccount:
    """One key, the account it belongs to, and the request budget and threads it owns.

    `server_time` is Stripe's clock when the run began: the cursors the run saves.
    """

    key: ApiKey
    account_id: str
    created: int
    server_time: float
    api: StripeApi
    pool: ThreadPoolExecutor = field(repr=False)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def connect_accounts(
    keys: list[ApiKey],
    *,
    api_base: str = DEFAULT_API_BASE,
    rate_limit: float | None = None,
    report: SyncReport | None = None,
) -> list[StripeAccount]:
    """Ask Stripe which account each key belongs to; a rejected key is reported and left out.

    Threads per key follow the rate limit: enough requests in flight to use the whole budget when
    each takes up to a second.
    """
    accounts = []
    for key in keys:
        api = StripeApi(key, api_base=api_base, rate_limit=rate_limit)
        try:
            response = api.request("/v1/account", model="Account", attempts=3)
        except stripe.APIConnectionError:
            raise ApiUnreachableError(
                f"cannot reach the Stripe API at {api_base}; check --api-base or the network"
            ) from None
        except KeyRejectedError as error:
            logger.error("%s; its accounts are not synced, other keys go on", error)
            if report is not None:
                report.reject_key(key.masked, str(error))
            continue
        workers = math.ceil(api.limiter.rate) + 4
        pool = ThreadPoolExecutor(workers, thread_name_prefix=f"stripe-{key.masked}")
        account = response.data
        created = account.get("created") or STRIPE_EPOCH
        accounts.append(StripeAccount(key, account["id"], created, response.served_at, api, pool))
        logger.info("key %s reads account %s", key.masked, account["id"])
    return accounts

"""Cost model: AWS prices per Region and the billing arithmetic applied to usage.

``pricing`` loads the dated, sourced price files in ``data/``; ``tiers`` prices monthly volume
tiers; ``bill`` turns aggregate monthly usage into a :class:`CostBreakdown`.

>>> from simulator.cost import analytic_monthly_cost
>>> round(analytic_monthly_cost("REST", 1e6, 100, 128).total_usd, 2)
3.99
"""

from __future__ import annotations

from simulator.cost.bill import (
    CostBreakdown,
    CostLine,
    LambdaUsage,
    analytic_monthly_cost,
    api_gateway_cost,
    data_transfer_cost,
    gb_seconds,
    http_metered_requests,
    lambda_billed_ms,
    lambda_cost,
    logs_cost,
    provisioned_billed_seconds,
    websocket_metered_messages,
)
from simulator.cost.pricing import (
    PriceDataError,
    PriceItem,
    PriceTable,
    available_regions,
    load_price_file,
    load_prices,
    unconfirmed_items,
)
from simulator.cost.tiers import Tier, tiered_cost
from simulator.cost.usage import RunCost, run_cost

__all__ = [
    "CostBreakdown",
    "CostLine",
    "LambdaUsage",
    "PriceDataError",
    "PriceItem",
    "PriceTable",
    "RunCost",
    "Tier",
    "analytic_monthly_cost",
    "api_gateway_cost",
    "available_regions",
    "data_transfer_cost",
    "gb_seconds",
    "http_metered_requests",
    "lambda_billed_ms",
    "lambda_cost",
    "load_price_file",
    "load_prices",
    "logs_cost",
    "provisioned_billed_seconds",
    "run_cost",
    "tiered_cost",
    "unconfirmed_items",
    "websocket_metered_messages",
]

"""What an SMS costs: a provider's price per part, per destination country where set.

A provider without a currency has no prices, and its messages no cost (shown as unknown,
never as zero). With one, a number's price is its country's (``ProviderPrice``), else the
provider's ``price_per_part``. Prices are read once per :class:`PriceList`, so composing
10,000 messages is one query, not 10,000.

No gateway we speak reports what it charged for a message, so the final cost of an
accepted message is the parts it was composed with × the price when it was composed (its
``estimated_cost``); a message that was never accepted (failed, suppressed, canceled, a
test) costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from phonenumbers import NumberParseException

from .models import Provider
from .phones import PhoneNumberError, region_of


@dataclass
class PriceList:
    """One provider's prices, read once."""

    currency: str = ""
    default: Decimal | None = None
    by_region: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def for_provider(cls, provider: Provider) -> PriceList:
        """The provider's prices: no query when it has no currency (so no prices at all)."""
        if not provider.currency or provider.pk is None:
            return cls()
        rows = provider.prices.values_list("region", "price_per_part")
        return cls(provider.currency, provider.price_per_part, dict(rows))

    def price(self, e164: str = "") -> Decimal | None:
        """The price of one part to ``e164`` (the default price without a number)."""
        if self.by_region and e164:
            try:
                region = region_of(e164)
            except (PhoneNumberError, NumberParseException):
                region = ""
            if region in self.by_region:
                return self.by_region[region]
        return self.default

    def estimate(self, parts: int, e164: str = "") -> Decimal | None:
        """``parts`` × the price to ``e164``; None when there is no price."""
        price = self.price(e164)
        return None if price is None else price * parts

    def for_region(self, region: str) -> Decimal | None:
        """The price of one part to numbers in ``region`` (the default price elsewhere)."""
        return self.by_region.get(region.upper(), self.default)

    @property
    def has_prices(self) -> bool:
        return self.default is not None or bool(self.by_region)


def format_cost(amount: Decimal, currency: str = "") -> str:
    """``0.0035 EUR``, ``0.30 INR``: at least two decimals, no trailing zeros beyond them."""
    shown = amount.normalize()
    if shown.as_tuple().exponent > -2:  # type: ignore[operator]
        shown = amount.quantize(Decimal("0.01"))
    return f"{shown:f} {currency}".strip()

"""Run parameters, derived sizes and the salts that keep pseudo-random streams independent."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum, auto
from functools import cached_property

EPOCH = date(1970, 1, 1)
SECONDS_PER_DAY = 86_400
HISTORY_YEARS = 3


class Salt(IntEnum):
    """One salt per independent random decision; ``sqlkit.unif`` spaces them 64 apart."""

    COUNTRY = auto()
    GENDER = auto()
    FIRST_NAME = auto()
    LAST_NAME = auto()
    EMAIL_PATTERN = auto()
    EMAIL_DOMAIN = auto()
    BIRTH = auto()
    ACTIVITY = auto()
    SIGNUP_TIME = auto()
    BUYER = auto()
    FIRST_ORDER_DELAY = auto()
    RATE = auto()
    DROPOUT_A = auto()
    DROPOUT_B = auto()
    POISSON = auto()
    DROPOUT_DRAW = auto()
    PRICE_TIER = auto()
    BASKET = auto()
    LOYALTY = auto()
    N_IDS = auto()
    HARD_DUP = auto()
    COOKIES = auto()
    MAIN_SYSTEM = auto()
    STREET = auto()
    CITY = auto()
    POSTAL = auto()
    BROWSE_COUNT = auto()
    REC_NAME = auto()
    REC_EMAIL = auto()
    REC_PHONE = auto()
    REC_LOYALTY = auto()
    REC_BIRTH = auto()
    REC_GENDER = auto()
    REC_ADDRESS = auto()
    REC_COUNTRY = auto()
    REC_CREATED = auto()
    REC_VERSIONS = auto()
    REC_SYSTEM = auto()
    VERSION_TIME = auto()
    VERSION_CHANGE = auto()
    CRM_DIRT = auto()
    CRM_DIRT_KIND = auto()
    PRODUCT = auto()
    ORDER_DAY = auto()
    ORDER_TIME = auto()
    ORDER_MODE = auto()
    ORDER_CHANNEL = auto()
    ORDER_STATUS = auto()
    ORDER_SLOT = auto()
    ORDER_EMAIL = auto()
    ORDER_COOKIE = auto()
    ORDER_LINES = auto()
    ORDER_DISCOUNT = auto()
    ORDER_TZ = auto()
    ORDER_DIRT = auto()
    ORDER_DIRT_KIND = auto()
    ORDER_TRACKED = auto()
    LINE_PRODUCT = auto()
    LINE_QTY = auto()
    LINE_DIRT = auto()
    SESSION_DAY = auto()
    SESSION_TIME = auto()
    SESSION_LEN = auto()
    SESSION_LOGIN = auto()
    SESSION_CART = auto()
    SESSION_COOKIE = auto()
    SESSION_DEVICE = auto()
    SESSION_SOURCE = auto()
    SESSION_SLOT = auto()
    VISITOR = auto()
    EVENT = auto()
    EVENT_PRODUCT = auto()
    EVENT_TZ = auto()
    EVENT_DIRT = auto()
    CONSENT = auto()
    CONSENT_KEY = auto()
    CONSENT_TIME = auto()
    CONSENT_DIRT = auto()
    CAMPAIGN_TARGET = auto()
    CAMPAIGN_FUNNEL = auto()
    CAMPAIGN_TIME = auto()
    CAMPAIGN_KEY = auto()
    CAMPAIGN_DIRT = auto()
    ERASURE = auto()


@dataclass(frozen=True)
class Perm:
    """An affine bijection ``x -> (x * mult + add) % mod`` used to turn keys into opaque ids."""

    mult: int
    add: int
    mod: int

    @classmethod
    def for_modulus(cls, mod: int, seed: int, tag: int) -> Perm:
        """Build a bijection on ``[0, mod)`` whose multiplier is coprime with ``mod``."""
        mult = int(mod * 0.6180339887) + 1 + tag
        while math.gcd(mult, mod) != 1:
            mult += 1
        add = (seed * 2_654_435_761 + tag * 40_503) % mod
        return cls(mult=mult, add=add, mod=mod)

    def sql(self, expr: str) -> str:
        """SQL expression applying the bijection to ``expr`` (HUGEINT to avoid overflow)."""
        return f"((({expr})::HUGEINT * {self.mult} + {self.add}) % {self.mod})::BIGINT"


def digits_for(n: int) -> int:
    """Smallest number of decimal digits ``k`` with ``10**k > n``."""
    return max(1, len(str(max(n, 1))))


@dataclass(frozen=True)
class Params:
    """User parameters plus everything derived from them (sizes, dates, id formats)."""

    customers: int
    seed: int
    end_date: date

    @cached_property
    def start_date(self) -> date:
        """First day of the three-year history window (inclusive)."""
        try:
            anchor = self.end_date.replace(year=self.end_date.year - HISTORY_YEARS)
        except ValueError:  # 29 February
            anchor = self.end_date.replace(year=self.end_date.year - HISTORY_YEARS, day=28)
        return anchor + timedelta(days=1)

    @property
    def day0(self) -> int:
        """Epoch day number of ``start_date``."""
        return (self.start_date - EPOCH).days

    @property
    def day_end(self) -> int:
        """Epoch day number of ``end_date``."""
        return (self.end_date - EPOCH).days

    @property
    def n_days(self) -> int:
        """Number of days in the history window."""
        return self.day_end - self.day0 + 1

    @property
    def end_sec(self) -> int:
        """Epoch second just after the end of ``end_date`` (exclusive upper bound)."""
        return (self.day_end + 1) * SECONDS_PER_DAY

    @property
    def n_products(self) -> int:
        """Catalogue size."""
        return min(5000, max(200, self.customers // 200))

    @property
    def n_campaigns(self) -> int:
        """Number of marketing campaigns in the last year."""
        return max(4, min(40, self.customers // 25_000))

    @property
    def n_visitors(self) -> int:
        """Anonymous visitors who never identify themselves."""
        return max(1, round(0.2 * self.customers))

    @property
    def seed_mix(self) -> int:
        """Seed contribution added inside every hash (keeps streams distinct per seed)."""
        return (self.seed * 7919) % 1_000_000_007

    @cached_property
    def customer_perm(self) -> Perm:
        """Customer key -> customer number."""
        return Perm.for_modulus(10 ** (digits_for(4 * self.customers) + 1), self.seed, 1)

    @property
    def customer_digits(self) -> int:
        """Width of the numeric part of a customer_id."""
        return len(str(self.customer_perm.mod)) - 1

    @cached_property
    def email_perm(self) -> Perm:
        """Person -> number embedded in the canonical e-mail (unique per person)."""
        return Perm.for_modulus(10 ** digits_for(self.customers), self.seed, 2)

    @cached_property
    def alt_email_perm(self) -> Perm:
        """Customer key -> number embedded in secondary e-mail addresses."""
        return Perm.for_modulus(10 ** digits_for(4 * self.customers), self.seed, 3)

    @cached_property
    def phone_perm(self) -> Perm:
        """Person phone slot -> 9 significant digits of a 10-digit national number."""
        return Perm.for_modulus(7_000_000_000, self.seed, 4)

    @cached_property
    def loyalty_perm(self) -> Perm:
        """Person -> loyalty number."""
        return Perm.for_modulus(10 ** max(8, digits_for(self.customers) + 1), self.seed, 5)

    @cached_property
    def cookie_perm(self) -> Perm:
        """Cookie key -> 40-bit number rendered in hex."""
        return Perm.for_modulus(2**40, self.seed, 6)

    @cached_property
    def session_perm(self) -> Perm:
        """Session key -> session number."""
        max_key = 2 * (self.customers + self.n_visitors) * 256 + 2
        return Perm.for_modulus(10 ** digits_for(max_key), self.seed, 7)

    def order_perm(self, n_orders: int) -> Perm:
        """Order key -> order number; leaves room for orphan order ids above ``n_orders``."""
        return Perm.for_modulus(10 ** (digits_for(2 * n_orders + 10) + 1), self.seed, 8)

"""Contact identifiers as each destination matches them: normalised, then unsalted SHA-256.

Phones are parsed by the maintained `phonenumbers` library (Google's libphonenumber metadata)
from the number as it landed and the customer's country, so national conventions are right:
an Italian landline keeps its leading 0 (`06 1234 5678`, IT -> `+390612345678`), which the
hand-written SQL normaliser of staging drops. The rules, and where the platforms document them,
are in docs/activation.md ("Destination formats").
"""

from __future__ import annotations

import hashlib

import phonenumbers

EMAIL_RULES = ("basic", "google")
PHONE_FORMATS = ("e164", "e164_digits")
_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def normalize_email(raw: str | None, rule: str) -> str | None:
    """The email as a platform hashes it: trimmed and lower-case ('basic'); 'google' also
    drops the dots of the local part of gmail.com / googlemail.com addresses. None when empty."""
    if rule not in EMAIL_RULES:
        raise ValueError(f"unknown email_normalization {rule!r}: use one of {EMAIL_RULES}")
    email = (raw or "").strip().lower()
    if not email:
        return None
    local, at, domain = email.rpartition("@")
    if rule == "google" and at and domain in _GMAIL_DOMAINS:
        return local.replace(".", "") + "@" + domain
    return email


def to_e164(raw: str | None, country_code: str | None) -> str | None:
    """E.164 ('+', country calling code, national significant number) of a phone as it landed,
    read in the numbering plan of `country_code` (ISO 3166 alpha-2) unless it is written
    internationally ('+', the country's international prefix, or '00'). None when phonenumbers
    cannot parse it or its length is not possible in that country's plan (no platform can
    match it). Possible, not valid: validity follows number-range allocations that change
    and would drop real numbers whenever the library's metadata is older than the range."""
    text = (raw or "").strip()
    if not text:
        return None
    region = (country_code or "").strip().upper() or None
    number = _possible(text, region)
    if number is None and text.startswith("00"):
        # '00' is the international prefix in most of the world, and people write it even
        # where their own country dials another one (US 011): read it as '+'.
        number = _possible("+" + text[2:], None)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _possible(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def phone_for(e164: str | None, phone_format: str) -> str | None:
    """The E.164 phone as a platform hashes it: 'e164' keeps the '+' (Google), 'e164_digits'
    is country code and number digits only (Meta)."""
    if phone_format not in PHONE_FORMATS:
        raise ValueError(f"unknown phone_format {phone_format!r}: use one of {PHONE_FORMATS}")
    if not e164:
        return None
    return e164 if phone_format == "e164" else e164.lstrip("+")


def sha256_hex(value: str | None) -> str | None:
    """Lower-case hex SHA-256 of the UTF-8 value, unsalted (what the ads platforms match on)."""
    if value is None:
        return None
    return hashlib.sha256(value.encode("utf-8")).hexdigest()

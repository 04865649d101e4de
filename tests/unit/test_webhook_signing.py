"""Webhook signatures and the retry schedule: pure functions, stated in one screen.

The Standard Webhooks signature is checked with the ``standardwebhooks`` package, as a
receiver would, not with our own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.errors import InvalidValue
from service.config.settings import SettingsInvalid, load_settings
from service.webhooks.policy import THREE_DAYS, DeliveryPolicy
from service.webhooks.signing import (
    LEGACY_HEADER,
    fingerprint,
    legacy_header,
    new_secret,
    signature_headers,
    signing_key,
    standard_secret,
    verify_legacy,
)

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = b'{"id":"e-1","sequence":"0000000000000000042"}'
NOW = 1_767_600_000
EVENT_ID = "0b0f5a5e-5d3c-4c53-9a57-7f6f0e4f4b11"


def test_the_standard_signature_is_hmac_of_id_dot_timestamp_dot_body_in_base64() -> None:
    headers = signature_headers(SECRET, EVENT_ID, NOW, BODY)
    mac = hmac.new(b"k" * 32, f"{EVENT_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    assert headers["webhook-id"] == EVENT_ID and headers["webhook-timestamp"] == str(NOW)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()


def test_the_standardwebhooks_package_verifies_a_delivery_with_the_secret_as_issued() -> None:
    secret, now = new_secret(), int(time.time())
    headers = signature_headers(secret, EVENT_ID, now, BODY)
    assert Webhook(secret).verify(BODY, headers) == {"id": "e-1", "sequence": "0000000000000000042"}
    for forged in (
        {**headers, "webhook-id": "another-event"},
        {**headers, "webhook-timestamp": str(now + 1)},
        signature_headers(new_secret(), EVENT_ID, now, BODY),
        signature_headers(secret, EVENT_ID, now - 3600, BODY),  # a replayed capture
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(BODY, forged)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)


@given(st.binary(min_size=32, max_size=32))
def test_a_legacy_url_safe_secret_verifies_once_written_in_the_standard_alphabet(
    key: bytes,
) -> None:
    legacy = "whsec_" + base64.urlsafe_b64encode(key).decode().rstrip("=")  # as issued before
    now = int(time.time())
    headers = signature_headers(legacy, EVENT_ID, now, BODY)
    assert signing_key(legacy) == key
    Webhook(standard_secret(legacy)).verify(BODY, headers, json_parse=False)


def test_secrets_are_new_each_time_standard_base64_and_their_fingerprint_hides_them() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and one.startswith("whsec_") and standard_secret(one) == one
    assert len(signing_key(one)) == 32
    assert base64.b64decode(one.removeprefix("whsec_"), validate=True) == signing_key(one)
    assert fingerprint(one) != fingerprint(two) and fingerprint(one) not in one


# -- the legacy header, sent for one more release ----------------------------------------------


def test_the_legacy_header_is_t_and_v1_over_timestamp_dot_body_keyed_with_the_string() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert legacy_header(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"
    assert signature_headers(SECRET, EVENT_ID, NOW, BODY)[LEGACY_HEADER] == f"t={NOW},v1={expected}"


def test_a_legacy_signature_verifies_with_the_same_secret_body_and_a_recent_time() -> None:
    header = legacy_header(SECRET, NOW, BODY)
    assert verify_legacy(SECRET, header, BODY, now=NOW + 299)
    assert not verify_legacy(SECRET, header, BODY, now=NOW + 301)  # too old: a replayed capture
    assert not verify_legacy("whsec_other", header, BODY, now=NOW)
    assert not verify_legacy(SECRET, header, BODY + b" ", now=NOW)
    assert not verify_legacy(SECRET, header.replace(f"t={NOW}", f"t={NOW + 1}"), BODY, now=NOW)
    assert not verify_legacy(SECRET, "v1=abc", BODY, now=NOW)
    assert not verify_legacy(SECRET, "", BODY, now=NOW)
    assert verify_legacy(SECRET, f"{header},v1={'0' * 64}", BODY, now=NOW)  # any v1 may match
    assert not verify_legacy(SECRET, legacy_header(secrets.token_hex(), NOW, BODY), BODY, NOW)


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_full_jitter_under_an_exponential_ceiling(failures: int, seed: int) -> None:
    policy = DeliveryPolicy(backoff_base=2.0, backoff_cap=600.0)
    delay = policy.backoff(failures, random.Random(seed))
    assert 0 <= delay <= min(600.0, 2.0 * 2 ** min(failures - 1, 20))


def test_backoff_grows_on_average_until_the_cap() -> None:
    policy = DeliveryPolicy(backoff_base=1.0, backoff_cap=64.0)
    rng = random.Random(7)

    def mean(failures: int) -> float:
        return sum(policy.backoff(failures, rng) for _ in range(2000)) / 2000

    means = [mean(n) for n in (1, 3, 5, 7, 9)]
    assert means[0] == pytest.approx(0.5, rel=0.1)
    assert means[2] == pytest.approx(8.0, rel=0.1)
    assert means[3] == pytest.approx(32.0, rel=0.1) == pytest.approx(means[4], rel=0.1)


def test_an_endpoint_is_given_up_on_after_the_count_or_three_days() -> None:
    policy = DeliveryPolicy(disable_after_failures=5)
    assert not policy.exhausted(4, failing_since=0, now=3600)
    assert policy.exhausted(5, failing_since=0, now=1)
    defaults = DeliveryPolicy()
    assert defaults.give_up_after == THREE_DAYS
    assert not defaults.exhausted(150, failing_since=0, now=THREE_DAYS - 1)
    assert defaults.exhausted(2, failing_since=0, now=THREE_DAYS)


def test_with_the_defaults_three_days_come_before_the_count() -> None:
    policy, rng = DeliveryPolicy(), random.Random(3)
    elapsed, failures = 0.0, 0
    while not policy.exhausted(failures, 0, elapsed):
        failures += 1
        elapsed += policy.backoff(failures, rng)
    assert elapsed >= THREE_DAYS and failures < policy.disable_after_failures


def test_the_policy_reads_the_environment_and_refuses_nonsense() -> None:
    policy = DeliveryPolicy.from_settings(
        load_settings(
            {
                "SUBLEDGER_WEBHOOK_BACKOFF_BASE": "0.5",
                "SUBLEDGER_WEBHOOK_DISABLE_AFTER_FAILURES": "9",
            }
        )
    )
    assert (policy.backoff_base, policy.disable_after_failures, policy.timeout) == (0.5, 9, 10.0)
    with pytest.raises(SettingsInvalid, match=r"SUBLEDGER_WEBHOOK_TIMEOUT: .*number, got 'soon'"):
        load_settings({"SUBLEDGER_WEBHOOK_TIMEOUT": "soon"})
    with pytest.raises(InvalidValue):
        DeliveryPolicy(timeout=0)
    with pytest.raises(InvalidValue):
        DeliveryPolicy(backoff_base=10, backoff_cap=1)

"""Webhook signatures and the retry schedule: pure functions, stated in one screen."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidValue
from service.webhooks.policy import THREE_DAYS, DeliveryPolicy
from service.webhooks.signing import fingerprint, new_secret, signature_header, verify

SECRET = "whsec_test"
BODY = b'{"id":"e-1","sequence":"0000000000000000042"}'
NOW = 1_767_600_000


def test_the_header_is_t_and_v1_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


def test_a_signature_verifies_with_the_same_secret_body_and_a_recent_time() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify(SECRET, header, BODY, now=NOW + 299)
    assert not verify(SECRET, header, BODY, now=NOW + 301)  # too old: a replayed capture
    assert not verify("whsec_other", header, BODY, now=NOW)
    assert not verify(SECRET, header, BODY + b" ", now=NOW)
    assert not verify(SECRET, header.replace(f"t={NOW}", f"t={NOW + 1}"), BODY, now=NOW)
    assert not verify(SECRET, "v1=abc", BODY, now=NOW)
    assert not verify(SECRET, "", BODY, now=NOW)


def test_any_of_several_v1_signatures_may_match() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify(SECRET, f"{header},v1={'0' * 64}", BODY, now=NOW)


def test_secrets_are_new_each_time_and_their_fingerprint_does_not_show_them() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and one.startswith("whsec_") and len(one) > 40
    assert fingerprint(one) != fingerprint(two) and fingerprint(one) not in one


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
    policy = DeliveryPolicy.from_environ(
        {"SUBLEDGER_WEBHOOK_BACKOFF_BASE": "0.5", "SUBLEDGER_WEBHOOK_DISABLE_AFTER_FAILURES": "9"}
    )
    assert (policy.backoff_base, policy.disable_after_failures, policy.timeout) == (0.5, 9, 10.0)
    with pytest.raises(InvalidValue):
        DeliveryPolicy.from_environ({"SUBLEDGER_WEBHOOK_TIMEOUT": "soon"})
    with pytest.raises(InvalidValue):
        DeliveryPolicy(timeout=0)
    with pytest.raises(InvalidValue):
        DeliveryPolicy(backoff_base=10, backoff_cap=1)

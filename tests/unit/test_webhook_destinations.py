"""Which addresses webhooks may be sent to, decided without any network: literal IPs in
every form a resolver reads, and names through a resolver the test substitutes."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from adapters.webhook_destinations import (
    DestinationRefused,
    Destinations,
    ip_literal,
    networks,
)
from service.config.settings import SettingsInvalid, load_settings
from tests.destinations import offline_resolver

STRICT = Destinations((), offline_resolver)

REFUSED = [
    "127.0.0.1",
    "127.1",  # short forms, decimal, hexadecimal, octal: all 127.0.0.1
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "127.0.0.1.",
    "0",  # 0.0.0.0
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # a cloud's metadata service
    "100.64.0.1",  # shared address space
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "198.51.100.10",  # documentation
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",  # 169.254.169.254, mapped
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "localhost",  # a name: what it resolves to
    "crm.example.com",  # resolves (in the tests) to documentation space
]


@pytest.mark.parametrize("host", REFUSED)
def test_internal_addresses_are_refused_in_every_form(host: str) -> None:
    with pytest.raises(DestinationRefused):
        STRICT.addresses(host, 443)


@pytest.mark.parametrize("host", ["93.184.215.14", "[2606:4700:4700::1111]", "1.1.1.1"])
def test_public_addresses_are_accepted(host: str) -> None:
    assert STRICT.addresses(host, 443) == [ip_literal(host)]


def test_a_name_is_refused_if_any_of_its_addresses_is_or_if_it_does_not_resolve() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return {"mixed.test": ["93.184.215.14", "10.0.0.7"]}.get(host, [])

    with pytest.raises(DestinationRefused, match=r"10\.0\.0\.7"):
        Destinations((), resolver).addresses("mixed.test", 443)
    with pytest.raises(DestinationRefused, match="does not resolve"):
        STRICT.addresses("nowhere.invalid", 443)


def test_the_operator_may_allow_networks_and_only_those() -> None:
    allowed = Destinations(networks("10.1.2.0/24, 127.0.0.1/32"), offline_resolver)
    assert allowed.addresses("10.1.2.3", 80) == [ip_address("10.1.2.3")]
    assert allowed.permits(ip_address("::ffff:127.0.0.1"))  # the same host, mapped
    for host in ("10.1.3.1", "[::1]", "169.254.169.254"):
        with pytest.raises(DestinationRefused):
            allowed.addresses(host, 80)
    env = {"SUBLEDGER_WEBHOOK_ALLOWED_NETWORKS": "10.1.2.0/24,::1/128"}
    assert load_settings(env).destinations().allowed == networks("10.1.2.0/24,::1/128")
    assert load_settings({}).destinations().allowed == ()
    with pytest.raises(SettingsInvalid, match=r"SUBLEDGER_WEBHOOK_ALLOWED_NETWORKS: .*10.1.2.3/8"):
        load_settings({"SUBLEDGER_WEBHOOK_ALLOWED_NETWORKS": "10.1.2.3/8"})


@pytest.mark.parametrize("host", ["256.1", "1.2.3.4.5", "0x", "08", "1..2", "example", "1e5"])
def test_what_is_not_an_address_is_a_name(host: str) -> None:
    assert ip_literal(host) is None

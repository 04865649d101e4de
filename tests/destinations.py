"""Webhook destinations for tests: no real name is ever resolved, and what is allowed is
said explicitly. Tests send traffic only to 127.0.0.1 and ::1.

- ``LOOPBACK``: the operator allows loopback, where the tests' receivers listen; for
  every test in which a delivery worker runs.
- ``REGISTRATION_ONLY``: also lets a test register ``*.example.com`` (resolved here to
  TEST-NET-2, 198.51.100.10, where nothing listens), for tests in which no worker runs.
"""

from __future__ import annotations

import socket

from adapters.webhook_destinations import Destinations, networks

EXAMPLE_ADDRESS = "198.51.100.10"


def offline_resolver(host: str, port: int) -> list[str]:
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    if host == "example.com" or host.endswith(".example.com"):
        return [EXAMPLE_ADDRESS]
    raise socket.gaierror(socket.EAI_NONAME, f"{host} is not known to the tests")


LOOPBACK = Destinations(networks("127.0.0.1/32,::1/128"), offline_resolver)
REGISTRATION_ONLY = Destinations(networks("127.0.0.1/32,::1/128,198.51.100.0/24"), offline_resolver)

"""Where webhooks may be sent: public addresses only, unless the operator allows networks.

A webhook URL names a host the service will connect to from inside its own network, so
an endpoint pointed at ``127.0.0.1``, a private network, a link-local address (a cloud's
metadata service at ``169.254.169.254``), multicast or a reserved range would let whoever
registers it reach what only the service can reach ("server-side request forgery").
Such addresses are refused unless they lie in a network the operator allows
(``SUBLEDGER_WEBHOOK_ALLOWED_NETWORKS``, e.g. ``10.1.2.0/24,127.0.0.1/32``).

A host is checked as the address it is, or as every address its name resolves to; the
check is made when an endpoint is registered or changed and again at each connection
(the name may resolve elsewhere by then), and the connection goes to an address that
passed. Literal hosts are read as a resolver reads them: ``2130706433``, ``0x7f000001``,
``0177.0.0.1`` and ``127.1`` are all 127.0.0.1; an IPv6 address carrying an IPv4 one
(IPv4-mapped, 6to4, Teredo, NAT64) is checked as that IPv4 address too.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from domain.errors import InvalidValue

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> addresses, as text

NAT64 = IPv6Network("64:ff9b::/96")
ENVIRONMENT = "SUBLEDGER_WEBHOOK_ALLOWED_NETWORKS"


class DestinationRefused(InvalidValue):
    code = "webhook-destination-refused"


class DestinationsMisconfigured(ValueError):
    pass


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class Destinations:
    allowed: tuple[Network, ...] = ()
    resolve: Resolver = field(default=system_resolver, compare=False)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for ``host``, every one of them permitted;
        ``DestinationRefused`` if any is not, or if the name does not resolve."""
        literal = ip_literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = [ip_address(text.split("%")[0]) for text in self.resolve(host, port)]
            except (OSError, UnicodeError, ValueError):
                found = []
            if not found:
                raise DestinationRefused(f"the webhook host {host!r} does not resolve")
        for address in found:
            if not self.permits(address):
                raise DestinationRefused(
                    f"the webhook host {host!r} is {address}, an address the service does not "
                    f"send to (loopback, private, link-local, multicast or reserved) unless "
                    f"the operator allows its network ({ENVIRONMENT})"
                )
        return found

    def permits(self, address: IPAddress) -> bool:
        inner = embedded_ipv4(address)
        seen = [address] if inner is None else [address, inner]
        if any(a in network for a in seen for network in self.allowed):
            return True
        return all(a.is_global and not (a.is_multicast or a.is_reserved) for a in seen)


def networks(text: str) -> tuple[Network, ...]:
    try:
        return tuple(ip_network(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise DestinationsMisconfigured(f"{ENVIRONMENT}: {error}") from None


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, if it carries one."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def ip_literal(host: str) -> IPAddress | None:
    """``host`` as an IP address, if it is written as one in any form a resolver accepts."""
    host = host.strip().removeprefix("[").removesuffix("]").removesuffix(".")
    try:
        return ip_address(host.split("%")[0])
    except ValueError:
        return numeric_ipv4(host)


def numeric_ipv4(host: str) -> IPv4Address | None:
    """The classic ``inet_aton`` forms: one to four parts, each decimal, octal (leading 0)
    or hexadecimal (0x); the last part fills the remaining bytes."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                values.append(int(part[2:], 16))
            elif part.startswith("0") and len(part) > 1:
                values.append(int(part[1:], 8))
            else:
                values.append(int(part, 10) if part.isdigit() else -1)
        except ValueError:
            return None
    *leading, last = values
    if any(not 0 <= value <= 255 for value in leading) or last < 0:
        return None
    if last >= 1 << (8 * (4 - len(leading))):
        return None
    number = last
    for position, value in enumerate(leading):
        number |= value << (8 * (3 - position))
    return IPv4Address(number)

"""Which callback URLs we may POST to (outbound webhooks, docs/WEBHOOKS.md): the SSRF policy, pure.

A callback URL is the caller's, and our function POSTs to it from inside our network: without a policy a
caller could make us reach the instance metadata endpoint (169.254.169.254), a database on a private
address, or a service on the function's own loopback. The rule is one: ``https://`` to a host whose every
address is public. It is checked twice: at create on the URL as written (a literal address in any form
C's ``inet_aton`` or ``ipaddress`` reads, and ``localhost`` names), and at delivery on every address DNS gives
for the host, right before we connect to the address that was checked (``adapters/callback_http.py``).

The local stack (and only it, ``CALLBACK_ALLOW_LOOPBACK_HTTP``) also accepts ``http://127.0.0.1:<port>``,
so tests can run a receiver; no other private, loopback or link-local address is accepted there either.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

MAX_CALLBACK_URL_CHARS = 2048
LOOPBACK_ALLOWANCE_HOST = "127.0.0.1"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Why a URL or an address is refused: each a key of domain/messages.py ("callback_url_<reason>").
Reason = Literal["scheme", "host", "credentials", "address", "port"]

# Ranges ipaddress does not already call non-global (or calls global although nobody may route to them).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
        "100::/64",  # discard-only
    )
)
# IPv6 forms that carry an IPv4 address a router or the host may end up using: NAT64's well-known prefix
# (and its local-use one) embed it in the last 32 bits.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class CallbackUrlRefusedError(ValueError):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        return ipaddress.IPv4Address(int(address))
    return None


def is_public(address: Address) -> bool:
    """Whether anyone on the internet may be reached at ``address``: not loopback, private, link-local
    (169.254.0.0/16, the metadata endpoint), CGNAT, multicast, unspecified, reserved or documentation, in
    IPv4 or IPv6, nor an IPv6 form that carries such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    ):
        return False
    return not any(address.version == net.version and address in net for net in _NOT_PUBLIC)


def literal_address(host: str) -> Address | None:
    """``host`` as an IP address when it is one in any form a resolver would read as one: dotted IPv4,
    the shortened (``127.1``), decimal (``2130706433``), octal (``0177.0.0.1``) and hex (``0x7f.0.0.1``)
    forms, and IPv6 (with or without a zone). None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    number = _inet_aton(host)
    return ipaddress.IPv4Address(number) if number is not None else None


def _inet_aton(host: str) -> int | None:
    """The number C's ``inet_aton`` (which resolvers and HTTP clients use) reads ``host`` as: one to four
    parts, each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes."""
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:  # a trailing dot
        parts = parts[:-1]
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        lowered = part.lower()
        try:
            if lowered.startswith("0x"):
                value = int(lowered[2:] or "0", 16)
            elif len(lowered) > 1 and lowered.startswith("0"):
                value = int(lowered[1:], 8)
            else:
                value = int(lowered, 10) if lowered.isdigit() else -1
        except ValueError:
            return None
        if value < 0:
            return None
        values.append(value)
    *head, last = values
    if any(value > 0xFF for value in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = 0
    for value in head:
        number = number << 8 | value
    return number << (8 * (4 - len(head))) | last


def _is_localhost_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost") or name in {"localhost.localdomain", "ip6-localhost"}


def check_callback_url(url: str, *, allow_loopback_http: bool = False) -> str:
    """``url`` when we may POST to it as far as the URL itself tells; raises CallbackUrlRefusedError otherwise.
    A name is checked again, after DNS, at delivery (``check_resolved``)."""
    if any(char.isspace() or ord(char) < 0x20 for char in url) or "\\" in url:
        raise CallbackUrlRefusedError("host")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:  # a port that is no number, or out of range
        raise CallbackUrlRefusedError("port") from None
    if scheme not in {"https", "http"}:
        raise CallbackUrlRefusedError("scheme")
    if parts.username is not None or parts.password is not None:
        raise CallbackUrlRefusedError("credentials")
    if not host:
        raise CallbackUrlRefusedError("host")
    if scheme == "http":
        # The one local exception: exactly 127.0.0.1 (with a port), never another loopback form.
        if allow_loopback_http and parts.netloc.rsplit("@", 1)[-1].split(":")[0] == LOOPBACK_ALLOWANCE_HOST and port:
            return url
        raise CallbackUrlRefusedError("scheme")
    if _is_localhost_name(host):
        raise CallbackUrlRefusedError("address")
    address = literal_address(host)
    if address is not None and not is_public(address):
        raise CallbackUrlRefusedError("address")
    if address is None and ("." not in host.rstrip(".") or "%" in host):
        # A bare name (``intranet``) is resolved through the search domains: it names a private host.
        raise CallbackUrlRefusedError("host")
    return url


def check_resolved(url: str, addresses: list[Address], *, allow_loopback_http: bool = False) -> Address:
    """The address to connect to for ``url``, given every address DNS gave for its host: refused when ANY
    of them is not public (a name with one private record may be answered with it next time)."""
    if not addresses:
        raise CallbackUrlRefusedError("host")
    if allow_loopback_http and urlsplit(url).scheme.lower() == "http":
        loopback = ipaddress.ip_address(LOOPBACK_ALLOWANCE_HOST)
        if all(address == loopback for address in addresses):
            return loopback
        raise CallbackUrlRefusedError("address")
    if not all(is_public(address) for address in addresses):
        raise CallbackUrlRefusedError("address")
    return addresses[0]

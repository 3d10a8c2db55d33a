"""Which URLs a webhook may target: http(s), no credentials, and (unless private targets are allowed) a
host whose every address is public, so the dispatcher cannot be aimed at the network it runs in (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class UrlRefused(Exception):
    code: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise `UrlRefused` with a precise reason for a URL the dispatcher must not call."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused("url_too_long", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused("malformed_url", f"the URL is malformed: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("unsupported_scheme", "the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials_in_url", "the URL must not carry credentials (user:password@)")
    host = parts.hostname
    if not host or any(ch.isspace() for ch in url):
        raise UrlRefused("malformed_url", "the URL has no valid host")
    if allow_private:
        return
    for address in resolve(host, port or (443 if parts.scheme == "https" else 80)):
        if not is_public(address):
            raise UrlRefused(
                "private_address",
                f"the host {host} resolves to {address}, a loopback, link-local, private or otherwise"
                " non-public address",
            )


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        raise UrlRefused("unresolvable_host", f"the host {host} does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UrlRefused("unresolvable_host", f"the host {host} does not resolve")
    return addresses


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )

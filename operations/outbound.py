"""The webhooks' HTTP POST (SPEC §12, issue 20): one deadline for the whole request, to checked addresses only.

Why not urllib: its timeout bounds each socket operation, so a receiver that sends a byte every few seconds
held a worker for as long as it liked; and it resolves the host itself, so the address it connects to is
not the one that was checked (DNS rebinding). Here the host is resolved once, every address it has must be
allowed, the socket connects to one of those, and each connect, TLS handshake, send and receive is given
only what is left of the deadline. Nothing of the answer is needed but its status line.

An address is allowed when it is public (not loopback, link-local with the cloud metadata services,
private, shared, reserved, unspecified or multicast), or inside WEBHOOK_ALLOWED_PRIVATE_NETWORKS (on-premise
receivers; the tests' receivers on 127.0.0.1). Errors say "unreachable" or "timed out", never what answered:
"refused" against "reset" would map the ports of whatever the URL points at.
"""

import ipaddress
import re
import socket
import ssl
import time
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = {"http": 80, "https": 443}
MAX_HEAD_BYTES = 16384
STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])[ \r]")

UNREACHABLE = "unreachable"
TIMED_OUT = "timed out"
NOT_ALLOWED = "unreachable: the host has an address that is not public (WEBHOOK_ALLOWED_PRIVATE_NETWORKS)"

_tls = ssl.create_default_context()
resolve = socket.getaddrinfo  # tests give names the addresses they need


class AddressNotAllowed(Exception):
    pass


@lru_cache(maxsize=8)
def _allowed_networks(networks: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.version == 6 and address.ipv4_mapped:  # ::ffff:127.0.0.1 is 127.0.0.1
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks(tuple(settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS))):
        return True
    return address.is_global and not address.is_multicast


def _socket_addresses(url: str) -> list[tuple]:
    """Where the URL's host is, as getaddrinfo answers; refuses the scheme, or any address not allowed."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("only http and https URLs with a host")
    found = resolve(parts.hostname, parts.port or SCHEMES[parts.scheme], type=socket.SOCK_STREAM)
    # A host with one private address among public ones is refused whole: which one answers is up to DNS.
    if not found or not all(address_allowed(ipaddress.ip_address(info[4][0].split("%")[0])) for info in found):
        raise AddressNotAllowed
    return found


def url_problem(url: str) -> str | None:
    """Why an endpoint URL cannot be saved, or None: checked again at every POST (DNS may change)."""
    try:
        _socket_addresses(url)
    except ValueError:
        return "Only http:// and https:// URLs with a host and a valid port."
    except AddressNotAllowed:
        return (
            "The host has an address that is not public (loopback, private, link-local, metadata…); "
            "list its network in WEBHOOK_ALLOWED_PRIVATE_NETWORKS to allow it."
        )
    except OSError:
        return "The host name does not resolve."
    return None


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _connect(addresses: list[tuple], deadline: float) -> socket.socket:
    failure = OSError(UNREACHABLE)
    for family, kind, protocol, _, address in addresses:
        sock = socket.socket(family, kind, protocol)
        try:
            sock.settimeout(_left(deadline))
            sock.connect(address)
            return sock
        except OSError as error:  # TimeoutError included: the next address gets what is left
            sock.close()
            failure = error
    raise failure


def _status(sock: socket.socket, deadline: float) -> int:
    """The status of the first final answer (an informational 1xx is skipped); the rest is not read."""
    head = b""
    while True:
        match = STATUS_LINE.match(head)
        if match and not match.group(1).startswith(b"1"):
            return int(match.group(1))
        if match and b"\r\n\r\n" in head:
            head = head.split(b"\r\n\r\n", 1)[1]
            continue
        if len(head) > MAX_HEAD_BYTES or (len(head) >= 13 and not match):
            raise ValueError("not an HTTP answer")
        sock.settimeout(_left(deadline))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed without an answer")
        head += chunk


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """(HTTP status, error): the status is None when no answer came within `timeout` seconds, all told."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    try:
        sock = _connect(_socket_addresses(url), deadline)
        try:
            if parts.scheme == "https":
                sock = _tls.wrap_socket(sock, server_hostname=parts.hostname, do_handshake_on_connect=False)
                sock.settimeout(_left(deadline))
                sock.do_handshake()
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            lines.append(f"Content-Length: {len(body)}")
            request = memoryview(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body)
            while request:  # sendall would give a receiver that reads slowly the whole timeout at each step
                sock.settimeout(_left(deadline))
                request = request[sock.send(request) :]
            return _status(sock, deadline), ""
        finally:
            sock.close()
    except AddressNotAllowed:
        return None, NOT_ALLOWED
    except TimeoutError:
        return None, TIMED_OUT
    except (OSError, ValueError):  # refused, reset, no route, TLS, not HTTP, no such host: all "try later"
        return None, UNREACHABLE

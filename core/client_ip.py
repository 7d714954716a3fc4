"""The client's IP address (SPEC §8): from the trusted-proxy setting, not REMOTE_ADDR alone.

Behind a load balancer every request comes from the balancer's address; counting failures per
REMOTE_ADDR would count one NAT or one proxy for everybody. With TRUSTED_PROXIES set, X-Forwarded-For
is read from the right (each proxy appends the address it was called from), skipping the trusted
proxies: the first address that is not one of them is the client. Addresses left of it were written
by the client itself and are never believed.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str | None):
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))

    def is_trusted(address) -> bool:
        return any(address in network for network in trusted)

    nearest = _address(remote)
    if nearest is None or not is_trusted(nearest):
        return remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:  # garbage in the chain: the last proxy that wrote something sane is all we know
            break
        nearest = address
        if not is_trusted(address):
            break
    return str(nearest)

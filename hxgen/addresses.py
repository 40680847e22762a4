"""host:port and URLs for addresses that may be IPv6: the one place that brackets them.

`listen ::1:443` is not an address nginx (or a URL parser) can read; `[::1]:443` is. Every
renderer and every role variable that joins an address and a port goes through here.
"""

from __future__ import annotations

# A check on the host reaches a wildcard listener through the loopback of the same family:
# nginx binds `[::]` IPv6-only by default, so 127.0.0.1 would not reach it.
_LOOPBACK_OF_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1", "": "127.0.0.1"}


def is_ipv6(address: str) -> bool:
    """An IPv6 literal (hostnames and IPv4 addresses hold no colon)."""
    return ":" in address


def host(address: str) -> str:
    """The address as it stands before `:port` or in a URL: IPv6 literals in brackets."""
    return f"[{address}]" if is_ipv6(address) and not address.startswith("[") else address


def host_port(address: str, port: int) -> str:
    """`127.0.0.1:80`, `[::1]:443`: what nginx's `listen` and `--web.listen-address` take."""
    return f"{host(address)}:{port}"


def local_address(listen_address: str) -> str:
    """The address a client on the same host uses to reach a service bound to listen_address."""
    return _LOOPBACK_OF_WILDCARD.get(listen_address, listen_address)


def url(scheme: str, address: str, port: int, path: str = "") -> str:
    """`http://[::1]:9090/-/ready`; path, if any, starts with a slash."""
    if path and not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    return f"{scheme}://{host_port(address, port)}{path}"


def local_url(scheme: str, listen_address: str, port: int, path: str = "") -> str:
    """The URL of a health check run on the host against a service bound to listen_address."""
    return url(scheme, local_address(listen_address), port, path)

"""host:port and URLs: IPv6 literals in brackets, wildcards reached through the loopback of
their own family."""

from __future__ import annotations

import pytest

from hxgen import addresses


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [
        ("127.0.0.1", 80, "127.0.0.1:80"),
        ("0.0.0.0", 443, "0.0.0.0:443"),
        ("::1", 443, "[::1]:443"),
        ("::", 8443, "[::]:8443"),
        ("fd00::5", 9090, "[fd00::5]:9090"),
        ("[::1]", 80, "[::1]:80"),  # already bracketed: not twice
        ("llm.example.internal", 443, "llm.example.internal:443"),
    ],
)
def test_host_port_brackets_ipv6_only(address, port, expected):
    assert addresses.host_port(address, port) == expected


@pytest.mark.parametrize(
    ("listen", "expected"),
    [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("*", "127.0.0.1"), ("10.0.0.5", "10.0.0.5"), ("fd00::5", "fd00::5")],
)
def test_a_wildcard_listener_is_reached_on_the_loopback_of_its_family(listen, expected):
    assert addresses.local_address(listen) == expected


def test_local_urls_as_the_health_checks_call_them():
    assert addresses.local_url("https", "::", 443, "/healthz") == "https://[::1]:443/healthz"
    assert addresses.local_url("http", "0.0.0.0", 9090, "/-/ready") == "http://127.0.0.1:9090/-/ready"
    assert addresses.local_url("http", "fd00::5", 6333) == "http://[fd00::5]:6333"


def test_a_path_must_be_absolute():
    with pytest.raises(ValueError, match="must start with '/'"):
        addresses.url("http", "127.0.0.1", 80, "healthz")

"""The sandbox's firewall: off (security.firewall.enabled: false), and off means nothing loaded.

The sandbox container shares this machine's network namespace (--network host), so a table
loaded there would filter this machine. The firewall itself is exercised for real by
tests/test_firewall_netns.py, inside network namespaces of its own.
"""

from __future__ import annotations


def test_the_disabled_firewall_installs_nothing(host):
    assert not host.file("/etc/systemd/system/hx-firewall.service").exists
    assert not host.file("/usr/local/sbin/hx-firewall-apply").exists
    assert not host.file("/etc/hx/firewall/hx.nft").exists

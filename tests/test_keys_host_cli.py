"""`hxgen keys --host`: the key commands on a live host, end to end through the real gateway
(staged nginx) in front of the real hx-control on a real PostgreSQL, called in-process like the
rest of the CLI's tests; and the mistakes that never reach a host, each with what to do."""

from __future__ import annotations

import sys

import pytest
from pg_harness import free_port

pytestmark = pytest.mark.tools


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("HX_API_KEY", raising=False)


# --- before any request -------------------------------------------------------------------------
def test_help_explains_the_host_mode_its_credentials_and_exit_codes(hxgen):
    text = hxgen("keys", "--help").out
    for needle in ("--host URL", "--api-key-file FILE", "HX_API_KEY", "--ca-file", "never from the", "rotate",
                   "removes the id", "5 the API key was refused (401)", "4 the host"):  # fmt: skip
        assert needle in " ".join(text.split()), needle
    rotate = " ".join(hxgen("keys", "rotate", "--help").out.split())
    assert "--overlap-hours N" in rotate and "0 to 720" in rotate


def test_without_an_api_key_nothing_is_sent_and_the_message_says_how_to_give_one(hxgen, no_key):
    result = hxgen("keys", "list", "--host", f"https://127.0.0.1:{free_port()}")
    assert result.code == 2 and result.out == ""
    assert "no API key" in result.err and "--api-key-file FILE or set HX_API_KEY" in result.err


def test_the_key_is_never_taken_from_the_command_line(hxgen):
    result = hxgen("keys", "list", "--host", "https://127.0.0.1:1", "--api-key", "hx-00000000-x")
    assert result.code == 2 and "unrecognized arguments" in result.err


def test_a_key_file_that_cannot_be_read_or_is_not_one_word(hxgen, tmp_path, no_key):
    host = ("--host", f"https://127.0.0.1:{free_port()}")
    missing = hxgen("keys", "list", *host, "--api-key-file", tmp_path / "nope")
    assert missing.code == 2 and f"--api-key-file {tmp_path / 'nope'}: cannot read" in missing.err
    (tmp_path / "two").write_text("hx-a\nhx-b\n")
    two = hxgen("keys", "list", *host, "--api-key-file", tmp_path / "two")
    assert two.code == 2 and "not one word on one line" in two.err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("rotate", "0123abcd"), "rotate needs --host URL"),
        (("whoami",), "whoami needs --host URL"),
        (("create", "--tenant", "acme", "--json"), "--json needs --host URL"),
        (("revoke", "0123abcd", "--ca-file", "ca.crt"), "--ca-file needs --host URL"),
    ],
)
def test_host_only_commands_and_options_say_they_need_host(hxgen, args, said):
    result = hxgen("keys", *args)
    assert result.code == 2 and said in result.err


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("gw.example:8443", "is not an http(s) URL"),
        ("https://gw.example:8443/admin/api/v1", "has a path"),
    ],
)
def test_host_is_the_gateways_base_url(hxgen, monkeypatch, url, said):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    result = hxgen("keys", "list", "--host", url)
    assert result.code == 2 and said in result.err and "https://gw.example:8443" in result.err


def test_a_ca_file_that_is_not_a_certificate(hxgen, tmp_path, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    (tmp_path / "ca.crt").write_text("not a certificate\n")
    result = hxgen("keys", "list", "--host", "https://127.0.0.1:1", "--ca-file", tmp_path / "ca.crt")
    assert result.code == 2 and "not a readable PEM CA certificate" in result.err and "/etc/hx/tls/ca.crt" in result.err


def test_nothing_listening_is_a_connection_failure_with_a_hint(hxgen, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    result = hxgen("keys", "list", "--host", f"https://127.0.0.1:{free_port()}")
    assert result.code == 4 and result.out == ""
    assert "cannot connect to https://127.0.0.1:" in result.err and "check --host" in result.err


def test_without_the_client_extra_the_message_names_it(hxgen, monkeypatch):
    monkeypatch.setenv("HX_API_KEY", "hx-00000000-x")
    for name in [m for m in sys.modules if m.startswith("hxgen.control_client")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "httpx", None)  # what an install without httpx looks like to an import
    result = hxgen("keys", "whoami", "--host", "https://127.0.0.1:1")
    assert result.code == 2 and "pip install 'hxgen[client]'" in result.err


def test_a_key_given_where_its_file_belongs_is_not_echoed(hxgen, no_key):
    result = hxgen("keys", "list", "--host", "https://127.0.0.1:1", "--api-key-file", "hx-00000000-secretpart")
    assert result.code == 2 and "not the key" in result.err and "secretpart" not in result.err

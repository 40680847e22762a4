"""API keys of the gateway: make them, hash them, and keep only the hashes in a YAML file.

The gateway checks `Authorization: Bearer <key>` by the SHA-256 of the whole key, so the
hash is all it needs. The key itself is shown once, by whoever calls new_key(), and never
written anywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .files import write_atomically

KEYS_VARIABLE = "gateway_api_keys"
HEADER = (
    "# API keys of the hx gateway: SHA-256 hashes only, never the keys. Managed by `hxgen keys`.\n"
    "# Keep this file out of git. Encrypt it with `ansible-vault encrypt`; hxgen keeps it encrypted.\n"
)
VAULT_MARKER = b"$ANSIBLE_VAULT;"
ID_PATTERN = re.compile(r"[0-9a-f]{8}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
# Words that YAML 1.1 readers (Ansible's PyYAML) turn into booleans or null when unquoted.
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}

OK, EXPIRED, UNKNOWN_TENANT = "ok", "expired", "unknown-tenant"
_REPAIR_HINT = "fix the file by hand, or move it away and create the keys again"


class KeysFileError(Exception):
    """The keys file cannot be read or written; the message names the file and the hint says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class KeyEntry:
    id: str
    tenant: str
    sha256: str
    created: dt.date
    expires: dt.date | None = None
    note: str | None = None

    def status(self, tenants: Collection[str], today: dt.date) -> str:
        """unknown-tenant first: a key whose tenant left the spec is dead whatever its date."""
        if self.tenant not in tenants:
            return UNKNOWN_TENANT
        if self.expires is not None and self.expires <= today:
            return EXPIRED
        return OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "sha256": self.sha256,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "note": self.note,
        }


def new_key(taken_ids: Collection[str] = ()) -> tuple[str, str]:
    """A fresh (id, key). The id is public (it names the key in the file and in logs); the rest is secret."""
    key_id = secrets.token_hex(4)
    while key_id in taken_ids:
        key_id = secrets.token_hex(4)
    return key_id, f"hx-{key_id}-{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def find(entries: Iterable[KeyEntry], key_id: str) -> KeyEntry | None:
    return next((e for e in entries if e.id == key_id), None)


# --- reading -----------------------------------------------------------------


def load_entries(path: Path) -> list[KeyEntry]:
    """The entries of the keys file, in file order; none when the file does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    text = vault_view(path) if is_vaulted(raw) else _decode(raw, path)
    return parse(text, path)


def is_vaulted(raw: bytes) -> bool:
    return raw.startswith(VAULT_MARKER)


def parse(text: str, path: Path) -> list[KeyEntry]:
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise KeysFileError(f"{path}: not valid YAML: {_yaml_problem(exc)}", _REPAIR_HINT) from exc
    if data is None:  # empty, or comments only
        return []
    if not isinstance(data, dict) or not isinstance(data.get(KEYS_VARIABLE, []), list):
        raise KeysFileError(f"{path}: expected a mapping with a '{KEYS_VARIABLE}' list", _REPAIR_HINT)
    entries = [_entry(item, index, path) for index, item in enumerate(data.get(KEYS_VARIABLE) or [])]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise KeysFileError(f"{path}: key id '{entry.id}' appears twice", _REPAIR_HINT)
        seen.add(entry.id)
    return entries


def _entry(item: Any, index: int, path: Path) -> KeyEntry:
    where = f"{path}: {KEYS_VARIABLE}[{index}]"
    if not isinstance(item, dict):
        raise KeysFileError(f"{where}: expected a mapping", _REPAIR_HINT)
    unknown = set(item) - {"id", "tenant", "sha256", "created", "expires", "note"}
    if unknown:
        raise KeysFileError(f"{where}: unknown field '{sorted(map(str, unknown))[0]}'", _REPAIR_HINT)
    try:
        return KeyEntry(
            id=_text(item, "id", ID_PATTERN),
            tenant=_text(item, "tenant"),
            sha256=_text(item, "sha256", SHA256_PATTERN),
            created=_date(item.get("created"), "created"),
            expires=None if item.get("expires") is None else _date(item["expires"], "expires"),
            note=None if item.get("note") is None else str(item["note"]),
        )
    except ValueError as exc:
        raise KeysFileError(f"{where}: {exc}", _REPAIR_HINT) from exc


def _text(item: dict, field: str, pattern: re.Pattern[str] | None = None) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value)):
        form = f" matching {pattern.pattern}" if pattern else ""
        raise ValueError(f"'{field}' must be a string{form} (got {value!r})")
    return value


def _date(value: Any, field: str) -> dt.date:
    # Quoted dates arrive as strings; a hand-edited unquoted one arrives as a date.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"'{field}' must be a date YYYY-MM-DD (got {value!r})") from None


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeysFileError(f"{path}: not UTF-8 text (byte {exc.start})", _REPAIR_HINT) from exc


def _yaml_problem(exc: YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 1})" if mark is not None else problem


# --- writing -----------------------------------------------------------------


def render(entries: Iterable[KeyEntry]) -> str:
    """The file's text: fixed field order, entries in creation order, so diffs stay small."""
    lines = [HEADER.rstrip("\n"), f"{KEYS_VARIABLE}:"]
    for entry in entries:
        lines += [
            f"  - id: {_scalar(entry.id)}",
            f"    tenant: {_scalar(entry.tenant)}",
            f"    sha256: {_scalar(entry.sha256)}",
            f"    created: {_quoted(entry.created.isoformat())}",
            f"    expires: {_quoted(entry.expires.isoformat()) if entry.expires else 'null'}",
        ]
        if entry.note is not None:
            lines.append(f"    note: {_quoted(entry.note)}")
    if len(lines) == 2:
        lines[-1] += " []"
    return "\n".join(lines) + "\n"


def save_entries(path: Path, entries: Iterable[KeyEntry], encrypt: bool | None = None) -> None:
    """Replace the file atomically, mode 0600. encrypt=None keeps it vaulted if it is vaulted now."""
    if encrypt is None:
        encrypt = _currently_vaulted(path)
    _make_private_dir(path.parent)

    def encrypt_in_place(temp: Path) -> None:
        vault_encrypt(temp)
        os.chmod(temp, 0o600)  # whatever mode ansible-vault left behind

    # The temporary file is removed whatever happens: never a plaintext copy left behind.
    try:
        write_atomically(path, render(entries), 0o600, encrypt_in_place if encrypt else None)
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def _currently_vaulted(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return is_vaulted(handle.read(len(VAULT_MARKER)))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _make_private_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    try:
        directory.mkdir(mode=0o700, parents=True)
    except OSError as exc:
        raise KeysFileError(f"{directory}: cannot create the directory: {exc.strerror or exc}") from exc


def _scalar(text: str) -> str:
    """Plain when every YAML reader (1.1 and 1.2) reads it back as this string, quoted otherwise."""
    if re.fullmatch(r"[a-z][a-z0-9-]*", text):
        return _quoted(text) if text in YAML_WORDS else text
    # Hex ids and hashes: all digits is a number, digits around an 'e' a float, 0b... binary.
    if re.fullmatch(r"[0-9a-f]+", text) and re.search(r"[a-df]", text) and not text.startswith("0b"):
        return text
    return _quoted(text)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar; anything not printable is escaped so the file stays one entry per line."""
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def _escape(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    if ch.isprintable():  # excludes control characters and the Unicode line separators
        return ch
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


# --- ansible-vault -----------------------------------------------------------

NO_VAULT_HINT = "install Ansible so that ansible-vault is on PATH (e.g. pip install ansible-core)"
VAULT_HINT = (
    "give ansible-vault the vault password, e.g. ANSIBLE_VAULT_PASSWORD_FILE=~/.hx-vault-pass, "
    "or vault_password_file in ansible.cfg"
)


def vault_view(path: Path) -> str:
    """The decrypted text; ansible-vault reads the password the usual way (env, ansible.cfg, prompt)."""
    result = _vault("view", path, f"{path}: cannot decrypt")
    return result.decode("utf-8", errors="replace")


def vault_encrypt(path: Path) -> None:
    """Encrypt `path` in place."""
    _vault("encrypt", path, f"{path}: cannot encrypt")


def _vault(command: str, path: Path, failure: str) -> bytes:
    program = shutil.which("ansible-vault")
    if program is None:
        raise KeysFileError(f"{failure}: ansible-vault is not on PATH", NO_VAULT_HINT)
    try:
        # stdin and stderr stay the user's: ansible-vault may prompt, and its errors say what went wrong.
        result = subprocess.run([program, command, str(path)], stdout=subprocess.PIPE, check=False)
    except OSError as exc:
        raise KeysFileError(f"{failure}: cannot run ansible-vault: {exc.strerror or exc}", NO_VAULT_HINT) from exc
    if result.returncode != 0:
        raise KeysFileError(f"{failure}: ansible-vault {command} exited with {result.returncode}", VAULT_HINT)
    return result.stdout

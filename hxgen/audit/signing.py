"""The signed head: Ed25519 (the `cryptography` package) over the canonical encoding of
{seq, sha256, time} of the chain's last record."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .records import canonical

HEAD_VERSION = "hx-audit-head/v1"


def generate_key(path: Path, public_path: Path | None = None) -> bool:
    """Write a new private key (PEM, mode 0600) and its public key (default <path>.pub, 0644).
    False when the private key exists already (its public key is written if missing)."""
    public_path = public_path or public_key_path(path)
    if path.exists():
        if not public_path.exists():
            write_public_key(load_private_key(path).public_key(), public_path)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    write_public_key(key.public_key(), public_path)
    return True


def public_key_path(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def write_public_key(public: Ed25519PublicKey, path: Path) -> None:
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o644)
    tmp.replace(path)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short name of the signing key (the public key's SHA-256, 16 hex digits), so that a head
    signed by another key says so."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def head_body(seq: int, sha256: str, time: str) -> dict[str, Any]:
    return {"seq": seq, "sha256": sha256, "time": time}


def sign_head(key: Ed25519PrivateKey, seq: int, sha256: str, time: str) -> dict[str, Any]:
    body = head_body(seq, sha256, time)
    signature = key.sign(canonical(body).encode("utf-8"))
    return {
        "version": HEAD_VERSION,
        **body,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def head_signature_problem(head: dict[str, Any], public: Ed25519PublicKey) -> str | None:
    """None when the head's signature verifies with the public key; else what is wrong."""
    try:
        body = head_body(int(head["seq"]), str(head["sha256"]), str(head["time"]))
        signature = base64.b64decode(head["signature"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        return f"the head is malformed ({exc})"
    try:
        public.verify(signature, canonical(body).encode("utf-8"))
    except InvalidSignature:
        expected = key_id(public)
        if head.get("key_id") not in (None, expected):
            return f"the head was signed by another key ({head.get('key_id')}, expected {expected})"
        return f"the head's signature does not verify with key {expected} (the head was altered)"
    return None

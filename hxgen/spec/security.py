"""Network exposure, audit and secret handling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import IpNetwork, Port, PositiveInt, StrictModel


class AllowRule(StrictModel):
    source: IpNetwork
    ports: list[Port] = Field(min_length=1)
    comment: str = ""


class Firewall(StrictModel):
    enabled: bool = True
    allow: list[AllowRule] = Field(default=[], description="Everything not allowed here (and not loopback) is dropped.")
    ssh_port: Port = 22
    ssh_sources: list[IpNetwork] = Field(
        default=[], description="Networks allowed to reach ssh; empty keeps ssh open to all."
    )


class AuditLog(StrictModel):
    enabled: bool = True
    retention_days: PositiveInt = 365


class Fail2ban(StrictModel):
    enabled: bool = True
    max_retry: PositiveInt = Field(
        default=5, description="Failed ssh logins or gateway 401s from one address within find_minutes that ban it."
    )
    ban_minutes: PositiveInt = Field(default=60, description="How long a ban lasts.")
    find_minutes: PositiveInt = Field(
        default=10, description="The window in which max_retry failures ban an address (fail2ban's findtime)."
    )


class Secrets(StrictModel):
    source: Literal["ansible-vault", "files"] = Field(
        default="ansible-vault",
        description="ansible-vault: an encrypted vars file beside the inventory. files: plain files on the host.",
    )
    vault_file: str = Field(
        default="secrets.vault.yml",
        pattern=r"^[^/].*$",
        description="Path of the vault file, relative to the inventory directory; never committed in plain text.",
    )


class DataRetention(StrictModel):
    access_log_days: PositiveInt = 30
    store_prompts: bool = Field(default=False, description="Keep request and response bodies; off by default.")


class Security(StrictModel):
    firewall: Firewall = Field(default_factory=Firewall)
    audit_log: AuditLog = Field(default_factory=AuditLog)
    fail2ban: Fail2ban = Field(default_factory=Fail2ban)
    secrets: Secrets = Field(default_factory=Secrets)
    data_retention: DataRetention = Field(default_factory=DataRetention)

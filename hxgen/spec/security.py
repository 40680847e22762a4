"""Network exposure, audit and secret handling."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .common import IpNetwork, Port, PositiveInt, StrictModel


class AllowRule(StrictModel):
    source: IpNetwork
    ports: list[Port] = Field(min_length=1)
    comment: str = Field(
        default="",
        max_length=128,
        pattern=r"^[ !#-\[\]-~]*$",
        description="Kept as the nftables rule's comment: printable ASCII without quotes or backslashes, at most 128.",
    )


class Firewall(StrictModel):
    enabled: bool = Field(
        default=True,
        description="Load hx's nftables table (inet hx) on the host; false loads no packet filter at all.",
    )
    allow: list[AllowRule] = Field(default=[], description="Everything not allowed here (and not loopback) is dropped.")
    ssh_port: Port = Field(default=22, description="The port the table opens to ssh_sources (sshd's port).")
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
    access_log_days: PositiveInt = Field(
        default=30, description="Days of the gateway's JSON access log kept; logrotate deletes older files daily."
    )

    # Keys earlier versions of hx.yaml accepted, with what to do about them (hxgen.validation).
    removed_keys: ClassVar[dict[str, str]] = {
        "store_prompts": "store_prompts was removed: hx never records prompt or response bodies (the access "
        "log keeps tenants, models and token counts; gateway.cache holds responses only until they expire); "
        "delete the line",
    }


class Security(StrictModel):
    firewall: Firewall = Field(default_factory=Firewall)
    audit_log: AuditLog = Field(default_factory=AuditLog)
    fail2ban: Fail2ban = Field(default_factory=Fail2ban)
    secrets: Secrets = Field(default_factory=Secrets)
    data_retention: DataRetention = Field(default_factory=DataRetention)

"""What the configuration files of hx's services share: where a service listens and how it reaches
PostgreSQL. hx-usage's (usage_config) and hx-control's (control_config) models build on these."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(Strict):
    address: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class Database(Strict):
    host: str
    """Where PgBouncer (or PostgreSQL without it) listens."""
    port: int = Field(ge=1, le=65535)
    dbname: str
    user: str
    """The database's owner: hx_retention prunes only tables it owns."""
    password_file: str
    """Root-owned on the host, readable by the service's group (the postgresql role writes it)."""

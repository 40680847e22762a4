"""The control plane: hx-control, the management API (REST, GraphQL) and the operator's page behind
the gateway, which keeps the API keys and the live route weights in PostgreSQL and hands them to
nginx without a converge. hx-control runs whenever the gateway and PostgreSQL both do
(hxgen.components)."""

from __future__ import annotations

from pydantic import Field

from ..contracts.control import ROTATE_OVERLAP_HOURS_MAX
from .common import StrictModel
from .databases import PgIdentifier


class Control(StrictModel):
    enabled: bool = Field(
        default=True,
        description="Run hx-control: keys created, rotated and revoked on the host, live route weights, the "
        "management API at /admin/api and /admin/graphql and the page at /admin/ui. Needs the gateway and PostgreSQL.",
    )
    database: PgIdentifier | None = Field(
        default=None,
        description="The databases.postgres.databases entry that holds hx-control's tables (schema hx_control); "
        "defaults to the first. The service logs in as its owner, through PgBouncer.",
    )
    rotate_overlap_hours: int = Field(
        default=24,
        ge=0,
        le=ROTATE_OVERLAP_HOURS_MAX,
        description="How long a rotated key keeps working beside its successor when the caller does not say "
        f"(0 to {ROTATE_OVERLAP_HOURS_MAX}).",
    )

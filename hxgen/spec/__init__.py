"""The hx.yaml contract (version hx/v1): pydantic models in the user's vocabulary."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .analytics import Analytics
from .business import Business
from .common import StrictModel
from .control import Control
from .databases import Databases
from .engines import Engines
from .gateway import Gateway
from .host import Host
from .models import Model
from .monitoring import Monitoring
from .security import Security
from .targets import Targets
from .usage import Usage

SPEC_VERSION = "hx/v1"


class Spec(StrictModel):
    """One inference host, everything it serves, and what it promises."""

    version: Literal["hx/v1"] = Field(description="Schema version of this file.")
    host: Host
    engines: Engines = Field(default_factory=Engines)
    models: list[Model] = Field(min_length=1)
    gateway: Gateway = Field(default_factory=Gateway)
    databases: Databases = Field(default_factory=Databases)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    analytics: Analytics = Field(default_factory=Analytics)
    business: Business | None = None
    security: Security = Field(default_factory=Security)
    targets: Targets = Field(default_factory=Targets)
    usage: Usage = Field(default_factory=Usage)
    control: Control = Field(default_factory=Control)


__all__ = ["SPEC_VERSION", "Spec"]

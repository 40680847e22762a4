"""Building blocks shared by every section of the spec."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Names become systemd unit names, PostgreSQL identifiers and Prometheus label
# values, so they are held to the narrowest form all of those accept.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,46}[a-z0-9]$|^[a-z]$"

Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(description="Lower-case letters, digits and '-', starting with a letter (max 48)."),
]
Port = Annotated[int, Field(ge=1, le=65535, description="TCP port.")]
Percent = Annotated[float, Field(gt=0, lt=100)]
PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
# Upper bounds keep absurd values out of unit files (MemoryMax=1e+307G) and arithmetic.
MemoryGb = Annotated[float, Field(ge=0.1, le=65536, description="Memory in GB (decimal), 0.1 to 65536.")]
CpuCores = Annotated[float, Field(gt=0, le=4096, description="CPU cores, fractions allowed.")]
AbsolutePath = Annotated[
    str,
    StringConstraints(pattern=r"^/.*$"),
    Field(description="Absolute path on the target host."),
]


def _ip_address(text: str) -> str:
    return str(ipaddress.ip_address(text))


def _ip_network(text: str) -> str:
    return str(ipaddress.ip_network(text, strict=False))


# Plain strings checked by the standard library: pydantic's own IP types cost import time
# and answer with less readable messages.
IpAddress = Annotated[str, AfterValidator(_ip_address), Field(description="An IPv4 or IPv6 address.")]
IpNetwork = Annotated[str, AfterValidator(_ip_network), Field(description="A network such as 192.168.10.0/24.")]

HttpUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$"),
    Field(description="An http:// or https:// URL."),
]


class StrictModel(BaseModel):
    """Unknown keys are errors; parsed specs are immutable."""

    # Infinity and NaN would slip past range checks into unit files and budgets.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)

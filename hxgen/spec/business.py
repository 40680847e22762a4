"""What the host costs, and what the same tokens would cost elsewhere."""

from __future__ import annotations

from pydantic import Field, model_validator

from .common import Name, PositiveFloat, StrictModel


class GpuCost(StrictModel):
    """Either an hourly price per GPU, or a purchase price amortised over years."""

    hourly: PositiveFloat | None = None
    purchase_price: PositiveFloat | None = None
    amortisation_years: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_way(self) -> GpuCost:
        bought = self.purchase_price is not None or self.amortisation_years is not None
        if (self.hourly is not None) == bought:
            raise ValueError("give either 'hourly' or 'purchase_price' with 'amortisation_years'")
        if bought and (self.purchase_price is None or self.amortisation_years is None):
            raise ValueError("'purchase_price' and 'amortisation_years' go together")
        return self

    @property
    def per_gpu_hour(self) -> float:
        if self.hourly is not None:
            return self.hourly
        return self.purchase_price / (self.amortisation_years * 365 * 24)


class Power(StrictModel):
    price_per_kwh: PositiveFloat
    host_watts: PositiveFloat | None = Field(
        default=None, description="Average draw of the host without GPUs, when no meter reports it."
    )


class ReferencePrice(StrictModel):
    name: Name
    input_per_million_tokens: float = Field(ge=0)
    output_per_million_tokens: float = Field(ge=0)
    compare_with: list[str] = Field(
        min_length=1, description="Models whose tokens are priced at this reference for the savings report."
    )


class Business(StrictModel):
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    gpu_cost: GpuCost
    power: Power | None = None
    reference_prices: list[ReferencePrice] = []

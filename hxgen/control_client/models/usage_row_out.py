from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="UsageRowOut")



@_attrs_define
class UsageRowOut:
    """ 
        Attributes:
            completion_tokens (int):
            cost (float | None): The tenant's share of the model's cost over the period (the host's cost model, without
                measured energy), in `currency`; null when the spec prices nothing.
            model (str): The hx.yaml name of the model that answered.
            prompt_tokens (int):
            requests (int):
            tenant (str):
     """

    completion_tokens: int
    cost: float | None
    model: str
    prompt_tokens: int
    requests: int
    tenant: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        completion_tokens = self.completion_tokens

        cost: float | None
        cost = self.cost

        model = self.model

        prompt_tokens = self.prompt_tokens

        requests = self.requests

        tenant = self.tenant


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "completion_tokens": completion_tokens,
            "cost": cost,
            "model": model,
            "prompt_tokens": prompt_tokens,
            "requests": requests,
            "tenant": tenant,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        completion_tokens = d.pop("completion_tokens")

        def _parse_cost(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        cost = _parse_cost(d.pop("cost"))


        model = d.pop("model")

        prompt_tokens = d.pop("prompt_tokens")

        requests = d.pop("requests")

        tenant = d.pop("tenant")

        usage_row_out = cls(
            completion_tokens=completion_tokens,
            cost=cost,
            model=model,
            prompt_tokens=prompt_tokens,
            requests=requests,
            tenant=tenant,
        )


        usage_row_out.additional_properties = d
        return usage_row_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

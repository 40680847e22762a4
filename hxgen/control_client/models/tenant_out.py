from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="TenantOut")



@_attrs_define
class TenantOut:
    """ 
        Attributes:
            daily_tokens (int | None): The daily token quota; null: none.
            models (list[str]): Models or route aliases the tenant may use; ["*"] for all.
            name (str):
            role (str): admin, operator, user or readonly.
            tier (str): The rate-limit tier.
     """

    daily_tokens: int | None
    models: list[str]
    name: str
    role: str
    tier: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        daily_tokens: int | None
        daily_tokens = self.daily_tokens

        models = self.models



        name = self.name

        role = self.role

        tier = self.tier


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "daily_tokens": daily_tokens,
            "models": models,
            "name": name,
            "role": role,
            "tier": tier,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_daily_tokens(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        daily_tokens = _parse_daily_tokens(d.pop("daily_tokens"))


        models = cast(list[str], d.pop("models"))


        name = d.pop("name")

        role = d.pop("role")

        tier = d.pop("tier")

        tenant_out = cls(
            daily_tokens=daily_tokens,
            models=models,
            name=name,
            role=role,
            tier=tier,
        )


        tenant_out.additional_properties = d
        return tenant_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime






T = TypeVar("T", bound="QuotaOut")



@_attrs_define
class QuotaOut:
    """ 
        Attributes:
            daily_tokens (int | None): The quota; null: none.
            day (datetime.date): The quota day, in the usage time zone.
            tenant (str):
            used_tokens (int): Prompt and completion tokens of the day so far.
     """

    daily_tokens: int | None
    day: datetime.date
    tenant: str
    used_tokens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        daily_tokens: int | None
        daily_tokens = self.daily_tokens

        day = self.day.isoformat()

        tenant = self.tenant

        used_tokens = self.used_tokens


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "daily_tokens": daily_tokens,
            "day": day,
            "tenant": tenant,
            "used_tokens": used_tokens,
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


        day = datetime.date.fromisoformat(d.pop("day"))




        tenant = d.pop("tenant")

        used_tokens = d.pop("used_tokens")

        quota_out = cls(
            daily_tokens=daily_tokens,
            day=day,
            tenant=tenant,
            used_tokens=used_tokens,
        )


        quota_out.additional_properties = d
        return quota_out

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

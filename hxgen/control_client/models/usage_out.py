from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.usage_row_out import UsageRowOut





T = TypeVar("T", bound="UsageOut")



@_attrs_define
class UsageOut:
    """ 
        Attributes:
            currency (None | str):
            end (datetime.datetime):
            rows (list[UsageRowOut]): One per tenant and model with requests in the period.
            start (datetime.datetime):
     """

    currency: None | str
    end: datetime.datetime
    rows: list[UsageRowOut]
    start: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.usage_row_out import UsageRowOut # noqa: PLC0415
        currency: None | str
        currency = self.currency

        end = self.end.isoformat()

        rows = []
        for rows_item_data in self.rows:
            rows_item = rows_item_data.to_dict()
            rows.append(rows_item)



        start = self.start.isoformat()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "currency": currency,
            "end": end,
            "rows": rows,
            "start": start,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_row_out import UsageRowOut # noqa: PLC0415
        d = dict(src_dict)
        def _parse_currency(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        currency = _parse_currency(d.pop("currency"))


        end = datetime.datetime.fromisoformat(d.pop("end"))




        rows = []
        _rows = d.pop("rows")
        for rows_item_data in (_rows):
            rows_item = UsageRowOut.from_dict(rows_item_data)



            rows.append(rows_item)


        start = datetime.datetime.fromisoformat(d.pop("start"))




        usage_out = cls(
            currency=currency,
            end=end,
            rows=rows,
            start=start,
        )


        usage_out.additional_properties = d
        return usage_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.alert_out_labels import AlertOutLabels





T = TypeVar("T", bound="AlertOut")



@_attrs_define
class AlertOut:
    """ 
        Attributes:
            labels (AlertOutLabels):
            name (str):
            severity (None | str):
            starts_at (datetime.datetime):
            state (str):
            summary (None | str):
     """

    labels: AlertOutLabels
    name: str
    severity: None | str
    starts_at: datetime.datetime
    state: str
    summary: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.alert_out_labels import AlertOutLabels # noqa: PLC0415
        labels = self.labels.to_dict()

        name = self.name

        severity: None | str
        severity = self.severity

        starts_at = self.starts_at.isoformat()

        state = self.state

        summary: None | str
        summary = self.summary


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "labels": labels,
            "name": name,
            "severity": severity,
            "starts_at": starts_at,
            "state": state,
            "summary": summary,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.alert_out_labels import AlertOutLabels # noqa: PLC0415
        d = dict(src_dict)
        labels = AlertOutLabels.from_dict(d.pop("labels"))




        name = d.pop("name")

        def _parse_severity(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        severity = _parse_severity(d.pop("severity"))


        starts_at = datetime.datetime.fromisoformat(d.pop("starts_at"))




        state = d.pop("state")

        def _parse_summary(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        summary = _parse_summary(d.pop("summary"))


        alert_out = cls(
            labels=labels,
            name=name,
            severity=severity,
            starts_at=starts_at,
            state=state,
            summary=summary,
        )


        alert_out.additional_properties = d
        return alert_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.audit_record_out_detail import AuditRecordOutDetail





T = TypeVar("T", bound="AuditRecordOut")



@_attrs_define
class AuditRecordOut:
    """ 
        Attributes:
            action (str):
            actor (str): <tenant>/<key id> for a call through hx-control.
            detail (AuditRecordOutDetail):
            seq (int):
            time (datetime.datetime):
     """

    action: str
    actor: str
    detail: AuditRecordOutDetail
    seq: int
    time: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.audit_record_out_detail import AuditRecordOutDetail # noqa: PLC0415
        action = self.action

        actor = self.actor

        detail = self.detail.to_dict()

        seq = self.seq

        time = self.time.isoformat()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "action": action,
            "actor": actor,
            "detail": detail,
            "seq": seq,
            "time": time,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_record_out_detail import AuditRecordOutDetail # noqa: PLC0415
        d = dict(src_dict)
        action = d.pop("action")

        actor = d.pop("actor")

        detail = AuditRecordOutDetail.from_dict(d.pop("detail"))




        seq = d.pop("seq")

        time = datetime.datetime.fromisoformat(d.pop("time"))




        audit_record_out = cls(
            action=action,
            actor=actor,
            detail=detail,
            seq=seq,
            time=time,
        )


        audit_record_out.additional_properties = d
        return audit_record_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.health_out import HealthOut





T = TypeVar("T", bound="ModelOut")



@_attrs_define
class ModelOut:
    """ 
        Attributes:
            engine (str):
            health (HealthOut):
            name (str): The model's name in hx.yaml.
            served_name (str): The name clients send as `model`.
            task (str): generate or embed.
            version (None | str):
     """

    engine: str
    health: HealthOut
    name: str
    served_name: str
    task: str
    version: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.health_out import HealthOut # noqa: PLC0415
        engine = self.engine

        health = self.health.to_dict()

        name = self.name

        served_name = self.served_name

        task = self.task

        version: None | str
        version = self.version


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "engine": engine,
            "health": health,
            "name": name,
            "served_name": served_name,
            "task": task,
            "version": version,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.health_out import HealthOut # noqa: PLC0415
        d = dict(src_dict)
        engine = d.pop("engine")

        health = HealthOut.from_dict(d.pop("health"))




        name = d.pop("name")

        served_name = d.pop("served_name")

        task = d.pop("task")

        def _parse_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        version = _parse_version(d.pop("version"))


        model_out = cls(
            engine=engine,
            health=health,
            name=name,
            served_name=served_name,
            task=task,
            version=version,
        )


        model_out.additional_properties = d
        return model_out

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

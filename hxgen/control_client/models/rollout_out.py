from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.rollout_out_checks import RolloutOutChecks





T = TypeVar("T", bound="RolloutOut")



@_attrs_define
class RolloutOut:
    """ 
        Attributes:
            alias (str): The route.
            canary (str): The variant under test (its hx.yaml model name).
            canary_weight (int): The canary's percent of the route's requests in this state.
            changed (datetime.datetime):
            changed_by (str): hx-rollout (the controller), or <tenant>/<key id> for a promotion or restart.
            checks (RolloutOutChecks): The failing checks of the last check, their values and the evidence; {} when the gate
                held.
            current (bool): false when the configuration's canary is another model or version: the next check starts its
                rollout.
            failed_checks (int): Consecutive checks whose gate failed.
            failed_checks_limit (int): This many failing checks in a row roll back.
            phase (str): progressing (at a step), waiting (the step held; promotion is manual), succeeded (the canary takes
                all the traffic) or rolled_back (the spec's split).
            promotion (str): auto, or manual (each held step waits for a promotion).
            reason (str): Why the rollout is where it is.
            since (datetime.datetime): When the current step (or the rollback) began.
            step (int): The current step, from 1.
            steps (int): How many steps there are.
            steps_percent (list[int]): The canary's weight at each step.
            verified (datetime.datetime | None): When the gateway was seen serving this split; null: not yet (a step counts
                only once it is).
            version (str): The canary's models[].version this rollout is of.
     """

    alias: str
    canary: str
    canary_weight: int
    changed: datetime.datetime
    changed_by: str
    checks: RolloutOutChecks
    current: bool
    failed_checks: int
    failed_checks_limit: int
    phase: str
    promotion: str
    reason: str
    since: datetime.datetime
    step: int
    steps: int
    steps_percent: list[int]
    verified: datetime.datetime | None
    version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.rollout_out_checks import RolloutOutChecks # noqa: PLC0415
        alias = self.alias

        canary = self.canary

        canary_weight = self.canary_weight

        changed = self.changed.isoformat()

        changed_by = self.changed_by

        checks = self.checks.to_dict()

        current = self.current

        failed_checks = self.failed_checks

        failed_checks_limit = self.failed_checks_limit

        phase = self.phase

        promotion = self.promotion

        reason = self.reason

        since = self.since.isoformat()

        step = self.step

        steps = self.steps

        steps_percent = self.steps_percent



        verified: None | str
        if isinstance(self.verified, datetime.datetime):
            verified = self.verified.isoformat()
        else:
            verified = self.verified

        version = self.version


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "alias": alias,
            "canary": canary,
            "canary_weight": canary_weight,
            "changed": changed,
            "changed_by": changed_by,
            "checks": checks,
            "current": current,
            "failed_checks": failed_checks,
            "failed_checks_limit": failed_checks_limit,
            "phase": phase,
            "promotion": promotion,
            "reason": reason,
            "since": since,
            "step": step,
            "steps": steps,
            "steps_percent": steps_percent,
            "verified": verified,
            "version": version,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rollout_out_checks import RolloutOutChecks # noqa: PLC0415
        d = dict(src_dict)
        alias = d.pop("alias")

        canary = d.pop("canary")

        canary_weight = d.pop("canary_weight")

        changed = datetime.datetime.fromisoformat(d.pop("changed"))




        changed_by = d.pop("changed_by")

        checks = RolloutOutChecks.from_dict(d.pop("checks"))




        current = d.pop("current")

        failed_checks = d.pop("failed_checks")

        failed_checks_limit = d.pop("failed_checks_limit")

        phase = d.pop("phase")

        promotion = d.pop("promotion")

        reason = d.pop("reason")

        since = datetime.datetime.fromisoformat(d.pop("since"))




        step = d.pop("step")

        steps = d.pop("steps")

        steps_percent = cast(list[int], d.pop("steps_percent"))


        def _parse_verified(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                verified_type_0 = datetime.datetime.fromisoformat(data)



                return verified_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        verified = _parse_verified(d.pop("verified"))


        version = d.pop("version")

        rollout_out = cls(
            alias=alias,
            canary=canary,
            canary_weight=canary_weight,
            changed=changed,
            changed_by=changed_by,
            checks=checks,
            current=current,
            failed_checks=failed_checks,
            failed_checks_limit=failed_checks_limit,
            phase=phase,
            promotion=promotion,
            reason=reason,
            since=since,
            step=step,
            steps=steps,
            steps_percent=steps_percent,
            verified=verified,
            version=version,
        )


        rollout_out.additional_properties = d
        return rollout_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.audit_break import AuditBreak


T = TypeVar("T", bound="AuditVerification")


@_attrs_define
class AuditVerification:
    """What checking the whole chain found.

    Attributes:
        checked (int): Entries checked (up to the first broken one).
        head_hash (str): Its hash: keep it elsewhere, and a later check can show the log was not
            cut back past it.
        head_seq (int): The newest entry's place, as the last append recorded it.
        intact (bool): True when every entry is as it was written, in order, up to the head.
        broken (AuditBreak | None | Unset):
    """

    checked: int
    head_hash: str
    head_seq: int
    intact: bool
    broken: AuditBreak | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.audit_break import AuditBreak  # noqa: PLC0415

        checked = self.checked

        head_hash = self.head_hash

        head_seq = self.head_seq

        intact = self.intact

        broken: dict[str, Any] | None | Unset
        if isinstance(self.broken, Unset):
            broken = UNSET
        elif isinstance(self.broken, AuditBreak):
            broken = self.broken.to_dict()
        else:
            broken = self.broken

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checked": checked,
                "head_hash": head_hash,
                "head_seq": head_seq,
                "intact": intact,
            }
        )
        if broken is not UNSET:
            field_dict["broken"] = broken

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_break import AuditBreak  # noqa: PLC0415

        d = dict(src_dict)
        checked = d.pop("checked")

        head_hash = d.pop("head_hash")

        head_seq = d.pop("head_seq")

        intact = d.pop("intact")

        def _parse_broken(data: object) -> AuditBreak | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                broken_type_1 = AuditBreak.from_dict(data)

                return broken_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuditBreak | None | Unset, data)

        broken = _parse_broken(d.pop("broken", UNSET))

        audit_verification = cls(
            checked=checked,
            head_hash=head_hash,
            head_seq=head_seq,
            intact=intact,
            broken=broken,
        )

        audit_verification.additional_properties = d
        return audit_verification

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

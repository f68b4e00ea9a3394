from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UsageBucketView")


@_attrs_define
class UsageBucketView:
    """The answers in one hour or day, summed over every node.

    Attributes:
        forbidden (int):
        rate_limited (int):
        start (str): Its start, RFC 3339.
        usage_exhausted (int):
        valid (int):
    """

    forbidden: int
    rate_limited: int
    start: str
    usage_exhausted: int
    valid: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        forbidden = self.forbidden

        rate_limited = self.rate_limited

        start = self.start

        usage_exhausted = self.usage_exhausted

        valid = self.valid

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "forbidden": forbidden,
                "rate_limited": rate_limited,
                "start": start,
                "usage_exhausted": usage_exhausted,
                "valid": valid,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        forbidden = d.pop("forbidden")

        rate_limited = d.pop("rate_limited")

        start = d.pop("start")

        usage_exhausted = d.pop("usage_exhausted")

        valid = d.pop("valid")

        usage_bucket_view = cls(
            forbidden=forbidden,
            rate_limited=rate_limited,
            start=start,
            usage_exhausted=usage_exhausted,
            valid=valid,
        )

        usage_bucket_view.additional_properties = d
        return usage_bucket_view

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

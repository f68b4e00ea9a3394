from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.rate_limit_body_type_0_profile import RateLimitBodyType0Profile

T = TypeVar("T", bound="RateLimitBodyType0")


@_attrs_define
class RateLimitBodyType0:
    """
    Attributes:
        profile (RateLimitBodyType0Profile):
    """

    profile: RateLimitBodyType0Profile

    def to_dict(self) -> dict[str, Any]:
        profile = self.profile.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "profile": profile,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        profile = RateLimitBodyType0Profile(d.pop("profile"))

        rate_limit_body_type_0 = cls(
            profile=profile,
        )

        return rate_limit_body_type_0

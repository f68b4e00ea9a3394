from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.profile_info import ProfileInfo
    from ..models.scope_info import ScopeInfo


T = TypeVar("T", bound="Catalogue")


@_attrs_define
class Catalogue:
    """What this deployment offers: for forms that pick scopes and profiles, and for scripts.

    Attributes:
        rate_limit_profiles (list[ProfileInfo]):
        scopes (list[ScopeInfo]):
        token_prefix (str):
        max_token_lifetime (int | None | Unset): Seconds; `null` when tokens may live for ever.
    """

    rate_limit_profiles: list[ProfileInfo]
    scopes: list[ScopeInfo]
    token_prefix: str
    max_token_lifetime: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        rate_limit_profiles = []
        for rate_limit_profiles_item_data in self.rate_limit_profiles:
            rate_limit_profiles_item = rate_limit_profiles_item_data.to_dict()
            rate_limit_profiles.append(rate_limit_profiles_item)

        scopes = []
        for scopes_item_data in self.scopes:
            scopes_item = scopes_item_data.to_dict()
            scopes.append(scopes_item)

        token_prefix = self.token_prefix

        max_token_lifetime: int | None | Unset
        if isinstance(self.max_token_lifetime, Unset):
            max_token_lifetime = UNSET
        else:
            max_token_lifetime = self.max_token_lifetime

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "rate_limit_profiles": rate_limit_profiles,
                "scopes": scopes,
                "token_prefix": token_prefix,
            }
        )
        if max_token_lifetime is not UNSET:
            field_dict["max_token_lifetime"] = max_token_lifetime

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.profile_info import ProfileInfo  # noqa: PLC0415
        from ..models.scope_info import ScopeInfo  # noqa: PLC0415

        d = dict(src_dict)
        rate_limit_profiles = []
        _rate_limit_profiles = d.pop("rate_limit_profiles")
        for rate_limit_profiles_item_data in _rate_limit_profiles:
            rate_limit_profiles_item = ProfileInfo.from_dict(rate_limit_profiles_item_data)

            rate_limit_profiles.append(rate_limit_profiles_item)

        scopes = []
        _scopes = d.pop("scopes")
        for scopes_item_data in _scopes:
            scopes_item = ScopeInfo.from_dict(scopes_item_data)

            scopes.append(scopes_item)

        token_prefix = d.pop("token_prefix")

        def _parse_max_token_lifetime(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_token_lifetime = _parse_max_token_lifetime(d.pop("max_token_lifetime", UNSET))

        catalogue = cls(
            rate_limit_profiles=rate_limit_profiles,
            scopes=scopes,
            token_prefix=token_prefix,
            max_token_lifetime=max_token_lifetime,
        )

        catalogue.additional_properties = d
        return catalogue

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

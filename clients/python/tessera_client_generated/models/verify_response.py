from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.verify_code import VerifyCode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.missing import Missing
    from ..models.rate_limit_state import RateLimitState
    from ..models.usage_left import UsageLeft
    from ..models.verify_response_meta_type_0 import VerifyResponseMetaType0


T = TypeVar("T", bound="VerifyResponse")


@_attrs_define
class VerifyResponse:
    """Always `200`; `valid` and `code` say the outcome. Details only when the token exists.

    Attributes:
        code (VerifyCode): Why a token may or may not do what it was asked: `VALID`, else the first reason
            not, in the order they are checked.
        valid (bool):
        access (None | str | Unset):
        expires_at (None | str | Unset): When the token expires, or when the secret presented stops working if that
            comes first (a rotated secret's grace end): keep no answer past it.
        meta (None | Unset | VerifyResponseMetaType0): As JSON text: the index keeps it so (or the store, when it is
            long).
        missing (Missing | None | Unset):
        name (None | str | Unset):
        owner (None | str | Unset):
        rate_limit (None | RateLimitState | Unset):
        resources (list[str] | None | Unset):
        scopes (list[str] | None | Unset):
        token_id (None | str | Unset):
        usage (None | Unset | UsageLeft):
    """

    code: VerifyCode
    valid: bool
    access: None | str | Unset = UNSET
    expires_at: None | str | Unset = UNSET
    meta: None | Unset | VerifyResponseMetaType0 = UNSET
    missing: Missing | None | Unset = UNSET
    name: None | str | Unset = UNSET
    owner: None | str | Unset = UNSET
    rate_limit: None | RateLimitState | Unset = UNSET
    resources: list[str] | None | Unset = UNSET
    scopes: list[str] | None | Unset = UNSET
    token_id: None | str | Unset = UNSET
    usage: None | Unset | UsageLeft = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.missing import Missing  # noqa: PLC0415
        from ..models.rate_limit_state import RateLimitState  # noqa: PLC0415
        from ..models.usage_left import UsageLeft  # noqa: PLC0415
        from ..models.verify_response_meta_type_0 import VerifyResponseMetaType0  # noqa: PLC0415

        code = self.code.value

        valid = self.valid

        access: None | str | Unset
        if isinstance(self.access, Unset):
            access = UNSET
        else:
            access = self.access

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        else:
            expires_at = self.expires_at

        meta: dict[str, Any] | None | Unset
        if isinstance(self.meta, Unset):
            meta = UNSET
        elif isinstance(self.meta, VerifyResponseMetaType0):
            meta = self.meta.to_dict()
        else:
            meta = self.meta

        missing: dict[str, Any] | None | Unset
        if isinstance(self.missing, Unset):
            missing = UNSET
        elif isinstance(self.missing, Missing):
            missing = self.missing.to_dict()
        else:
            missing = self.missing

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        rate_limit: dict[str, Any] | None | Unset
        if isinstance(self.rate_limit, Unset):
            rate_limit = UNSET
        elif isinstance(self.rate_limit, RateLimitState):
            rate_limit = self.rate_limit.to_dict()
        else:
            rate_limit = self.rate_limit

        resources: list[str] | None | Unset
        if isinstance(self.resources, Unset):
            resources = UNSET
        elif isinstance(self.resources, list):
            resources = self.resources

        else:
            resources = self.resources

        scopes: list[str] | None | Unset
        if isinstance(self.scopes, Unset):
            scopes = UNSET
        elif isinstance(self.scopes, list):
            scopes = self.scopes

        else:
            scopes = self.scopes

        token_id: None | str | Unset
        if isinstance(self.token_id, Unset):
            token_id = UNSET
        else:
            token_id = self.token_id

        usage: dict[str, Any] | None | Unset
        if isinstance(self.usage, Unset):
            usage = UNSET
        elif isinstance(self.usage, UsageLeft):
            usage = self.usage.to_dict()
        else:
            usage = self.usage

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "valid": valid,
            }
        )
        if access is not UNSET:
            field_dict["access"] = access
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if meta is not UNSET:
            field_dict["meta"] = meta
        if missing is not UNSET:
            field_dict["missing"] = missing
        if name is not UNSET:
            field_dict["name"] = name
        if owner is not UNSET:
            field_dict["owner"] = owner
        if rate_limit is not UNSET:
            field_dict["rate_limit"] = rate_limit
        if resources is not UNSET:
            field_dict["resources"] = resources
        if scopes is not UNSET:
            field_dict["scopes"] = scopes
        if token_id is not UNSET:
            field_dict["token_id"] = token_id
        if usage is not UNSET:
            field_dict["usage"] = usage

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.missing import Missing  # noqa: PLC0415
        from ..models.rate_limit_state import RateLimitState  # noqa: PLC0415
        from ..models.usage_left import UsageLeft  # noqa: PLC0415
        from ..models.verify_response_meta_type_0 import VerifyResponseMetaType0  # noqa: PLC0415

        d = dict(src_dict)
        code = VerifyCode(d.pop("code"))

        valid = d.pop("valid")

        def _parse_access(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        access = _parse_access(d.pop("access", UNSET))

        def _parse_expires_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_meta(data: object) -> None | Unset | VerifyResponseMetaType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                meta_type_0 = VerifyResponseMetaType0.from_dict(data)

                return meta_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | VerifyResponseMetaType0, data)

        meta = _parse_meta(d.pop("meta", UNSET))

        def _parse_missing(data: object) -> Missing | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                missing_type_1 = Missing.from_dict(data)

                return missing_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Missing | None | Unset, data)

        missing = _parse_missing(d.pop("missing", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))

        def _parse_rate_limit(data: object) -> None | RateLimitState | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                rate_limit_type_1 = RateLimitState.from_dict(data)

                return rate_limit_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RateLimitState | Unset, data)

        rate_limit = _parse_rate_limit(d.pop("rate_limit", UNSET))

        def _parse_resources(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                resources_type_0 = cast(list[str], data)

                return resources_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        resources = _parse_resources(d.pop("resources", UNSET))

        def _parse_scopes(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                scopes_type_0 = cast(list[str], data)

                return scopes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        scopes = _parse_scopes(d.pop("scopes", UNSET))

        def _parse_token_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token_id = _parse_token_id(d.pop("token_id", UNSET))

        def _parse_usage(data: object) -> None | Unset | UsageLeft:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                usage_type_1 = UsageLeft.from_dict(data)

                return usage_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UsageLeft, data)

        usage = _parse_usage(d.pop("usage", UNSET))

        verify_response = cls(
            code=code,
            valid=valid,
            access=access,
            expires_at=expires_at,
            meta=meta,
            missing=missing,
            name=name,
            owner=owner,
            rate_limit=rate_limit,
            resources=resources,
            scopes=scopes,
            token_id=token_id,
            usage=usage,
        )

        verify_response.additional_properties = d
        return verify_response

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

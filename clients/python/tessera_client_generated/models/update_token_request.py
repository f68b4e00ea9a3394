from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.scope_pattern import ScopePattern
from ..models.update_token_request_access_type_1 import UpdateTokenRequestAccessType1
from ..models.update_token_request_access_type_2_type_1 import UpdateTokenRequestAccessType2Type1
from ..models.update_token_request_access_type_3_type_1 import UpdateTokenRequestAccessType3Type1
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.credits_body import CreditsBody
    from ..models.rate_limit_body_type_0 import RateLimitBodyType0
    from ..models.rate_limit_body_type_1 import RateLimitBodyType1
    from ..models.update_token_request_meta_type_0 import UpdateTokenRequestMetaType0


T = TypeVar("T", bound="UpdateTokenRequest")


@_attrs_define
class UpdateTokenRequest:
    """`PATCH /v1/tokens/{id}`: only the fields given change; `null` clears a field.

    Example:
        {'expires_in': 86400, 'name': 'ci-deploy-2', 'scopes': ['repo:read']}

    Attributes:
        access (None | Unset | UpdateTokenRequestAccessType1 | UpdateTokenRequestAccessType2Type1 |
            UpdateTokenRequestAccessType3Type1): Replaces the scopes with an access level.
        allowed_cidrs (list[str] | None | Unset): The networks the token may be used from; `[]`: anywhere. Within its
            maker's.
        credits_ (CreditsBody | None | Unset):
        description (None | str | Unset):
        expires_at (datetime.datetime | None | Unset): `null`: never expires.
        expires_in (int | None | Unset):
        max_descendants (int | None | Unset): `null`: no bound of its own (its maker's still holds).
        max_uses (int | None | Unset): `null`: no cap. The uses so far still count.
        meta (None | Unset | UpdateTokenRequestMetaType0):
        name (None | str | Unset):
        not_before (datetime.datetime | None | Unset): `null`: valid at once.
        owner (None | str | Unset):
        rate_limit (None | RateLimitBodyType0 | RateLimitBodyType1 | Unset):
        resources (list[str] | None | Unset): `null`: every resource.
        scopes (list[ScopePattern] | None | Unset): Replaces the scopes (and clears `access`).
    """

    access: (
        None
        | Unset
        | UpdateTokenRequestAccessType1
        | UpdateTokenRequestAccessType2Type1
        | UpdateTokenRequestAccessType3Type1
    ) = UNSET
    allowed_cidrs: list[str] | None | Unset = UNSET
    credits_: CreditsBody | None | Unset = UNSET
    description: None | str | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    expires_in: int | None | Unset = UNSET
    max_descendants: int | None | Unset = UNSET
    max_uses: int | None | Unset = UNSET
    meta: None | Unset | UpdateTokenRequestMetaType0 = UNSET
    name: None | str | Unset = UNSET
    not_before: datetime.datetime | None | Unset = UNSET
    owner: None | str | Unset = UNSET
    rate_limit: None | RateLimitBodyType0 | RateLimitBodyType1 | Unset = UNSET
    resources: list[str] | None | Unset = UNSET
    scopes: list[ScopePattern] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.credits_body import CreditsBody  # noqa: PLC0415
        from ..models.rate_limit_body_type_0 import RateLimitBodyType0  # noqa: PLC0415
        from ..models.rate_limit_body_type_1 import RateLimitBodyType1  # noqa: PLC0415
        from ..models.update_token_request_meta_type_0 import UpdateTokenRequestMetaType0  # noqa: PLC0415

        access: None | str | Unset
        if isinstance(self.access, Unset):
            access = UNSET
        elif isinstance(self.access, UpdateTokenRequestAccessType1):
            access = self.access.value
        elif isinstance(self.access, UpdateTokenRequestAccessType2Type1):
            access = self.access.value
        elif isinstance(self.access, UpdateTokenRequestAccessType3Type1):
            access = self.access.value
        else:
            access = self.access

        allowed_cidrs: list[str] | None | Unset
        if isinstance(self.allowed_cidrs, Unset):
            allowed_cidrs = UNSET
        elif isinstance(self.allowed_cidrs, list):
            allowed_cidrs = self.allowed_cidrs

        else:
            allowed_cidrs = self.allowed_cidrs

        credits_: dict[str, Any] | None | Unset
        if isinstance(self.credits_, Unset):
            credits_ = UNSET
        elif isinstance(self.credits_, CreditsBody):
            credits_ = self.credits_.to_dict()
        else:
            credits_ = self.credits_

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        expires_in: int | None | Unset
        if isinstance(self.expires_in, Unset):
            expires_in = UNSET
        else:
            expires_in = self.expires_in

        max_descendants: int | None | Unset
        if isinstance(self.max_descendants, Unset):
            max_descendants = UNSET
        else:
            max_descendants = self.max_descendants

        max_uses: int | None | Unset
        if isinstance(self.max_uses, Unset):
            max_uses = UNSET
        else:
            max_uses = self.max_uses

        meta: dict[str, Any] | None | Unset
        if isinstance(self.meta, Unset):
            meta = UNSET
        elif isinstance(self.meta, UpdateTokenRequestMetaType0):
            meta = self.meta.to_dict()
        else:
            meta = self.meta

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        not_before: None | str | Unset
        if isinstance(self.not_before, Unset):
            not_before = UNSET
        elif isinstance(self.not_before, datetime.datetime):
            not_before = self.not_before.isoformat()
        else:
            not_before = self.not_before

        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        rate_limit: dict[str, Any] | None | Unset
        if isinstance(self.rate_limit, Unset):
            rate_limit = UNSET
        elif isinstance(self.rate_limit, RateLimitBodyType0):
            rate_limit = self.rate_limit.to_dict()
        elif isinstance(self.rate_limit, RateLimitBodyType1):
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
            scopes = []
            for scopes_type_0_item_data in self.scopes:
                scopes_type_0_item = scopes_type_0_item_data.value
                scopes.append(scopes_type_0_item)

        else:
            scopes = self.scopes

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if access is not UNSET:
            field_dict["access"] = access
        if allowed_cidrs is not UNSET:
            field_dict["allowed_cidrs"] = allowed_cidrs
        if credits_ is not UNSET:
            field_dict["credits"] = credits_
        if description is not UNSET:
            field_dict["description"] = description
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if expires_in is not UNSET:
            field_dict["expires_in"] = expires_in
        if max_descendants is not UNSET:
            field_dict["max_descendants"] = max_descendants
        if max_uses is not UNSET:
            field_dict["max_uses"] = max_uses
        if meta is not UNSET:
            field_dict["meta"] = meta
        if name is not UNSET:
            field_dict["name"] = name
        if not_before is not UNSET:
            field_dict["not_before"] = not_before
        if owner is not UNSET:
            field_dict["owner"] = owner
        if rate_limit is not UNSET:
            field_dict["rate_limit"] = rate_limit
        if resources is not UNSET:
            field_dict["resources"] = resources
        if scopes is not UNSET:
            field_dict["scopes"] = scopes

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.credits_body import CreditsBody  # noqa: PLC0415
        from ..models.rate_limit_body_type_0 import RateLimitBodyType0  # noqa: PLC0415
        from ..models.rate_limit_body_type_1 import RateLimitBodyType1  # noqa: PLC0415
        from ..models.update_token_request_meta_type_0 import UpdateTokenRequestMetaType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_access(
            data: object,
        ) -> (
            None
            | Unset
            | UpdateTokenRequestAccessType1
            | UpdateTokenRequestAccessType2Type1
            | UpdateTokenRequestAccessType3Type1
        ):
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                access_type_1 = UpdateTokenRequestAccessType1(data)

                return access_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                access_type_2_type_1 = UpdateTokenRequestAccessType2Type1(data)

                return access_type_2_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                access_type_3_type_1 = UpdateTokenRequestAccessType3Type1(data)

                return access_type_3_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                None
                | Unset
                | UpdateTokenRequestAccessType1
                | UpdateTokenRequestAccessType2Type1
                | UpdateTokenRequestAccessType3Type1,
                data,
            )

        access = _parse_access(d.pop("access", UNSET))

        def _parse_allowed_cidrs(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                allowed_cidrs_type_0 = cast(list[str], data)

                return allowed_cidrs_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        allowed_cidrs = _parse_allowed_cidrs(d.pop("allowed_cidrs", UNSET))

        def _parse_credits_(data: object) -> CreditsBody | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                credits_type_1 = CreditsBody.from_dict(data)

                return credits_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreditsBody | None | Unset, data)

        credits_ = _parse_credits_(d.pop("credits", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_expires_in(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        expires_in = _parse_expires_in(d.pop("expires_in", UNSET))

        def _parse_max_descendants(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_descendants = _parse_max_descendants(d.pop("max_descendants", UNSET))

        def _parse_max_uses(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_uses = _parse_max_uses(d.pop("max_uses", UNSET))

        def _parse_meta(data: object) -> None | Unset | UpdateTokenRequestMetaType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                meta_type_0 = UpdateTokenRequestMetaType0.from_dict(data)

                return meta_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UpdateTokenRequestMetaType0, data)

        meta = _parse_meta(d.pop("meta", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_not_before(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                not_before_type_0 = datetime.datetime.fromisoformat(data)

                return not_before_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        not_before = _parse_not_before(d.pop("not_before", UNSET))

        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))

        def _parse_rate_limit(data: object) -> None | RateLimitBodyType0 | RateLimitBodyType1 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_rate_limit_body_type_0 = RateLimitBodyType0.from_dict(data)

                return componentsschemas_rate_limit_body_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_rate_limit_body_type_1 = RateLimitBodyType1.from_dict(data)

                return componentsschemas_rate_limit_body_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RateLimitBodyType0 | RateLimitBodyType1 | Unset, data)

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

        def _parse_scopes(data: object) -> list[ScopePattern] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                scopes_type_0 = []
                _scopes_type_0 = data
                for scopes_type_0_item_data in _scopes_type_0:
                    scopes_type_0_item = ScopePattern(scopes_type_0_item_data)

                    scopes_type_0.append(scopes_type_0_item)

                return scopes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[ScopePattern] | None | Unset, data)

        scopes = _parse_scopes(d.pop("scopes", UNSET))

        update_token_request = cls(
            access=access,
            allowed_cidrs=allowed_cidrs,
            credits_=credits_,
            description=description,
            expires_at=expires_at,
            expires_in=expires_in,
            max_descendants=max_descendants,
            max_uses=max_uses,
            meta=meta,
            name=name,
            not_before=not_before,
            owner=owner,
            rate_limit=rate_limit,
            resources=resources,
            scopes=scopes,
        )

        return update_token_request

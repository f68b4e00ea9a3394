from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.credits_view import CreditsView
    from ..models.rate_limit_view import RateLimitView
    from ..models.token_view_meta_type_0 import TokenViewMetaType0


T = TypeVar("T", bound="CreatedToken")


@_attrs_define
class CreatedToken:
    """The answer to a create: the only response that ever holds the token's text.
    No `Debug`: it carries the token.

        Attributes:
            admin (bool):
            created_at (str):
            id (str):
            name (str):
            start (str): The prefix and first characters, for recognition.
            status (str): `active`, `pending` (not valid yet), `expired` or `revoked`.
            updated_at (str):
            use_count (int):
            token (str): The token. Shown once: store it now, it cannot be shown again.
            access (None | str | Unset):
            allowed_cidrs (list[str] | Unset): The networks it may be used from; empty: anywhere.
            credits_ (CreditsView | None | Unset):
            description (None | str | Unset):
            expires_at (None | str | Unset):
            last_used_at (None | str | Unset):
            last_used_ip (None | str | Unset): Where it was last used from: the end client's address of its first use in
                the newest second it was used (`trusted_proxies` decides which address
                counts; a verify call passes it as `client_ip`); `null` when never known.
            max_descendants (int | None | Unset): How many live tokens may be made through this one; `null`: no bound of its
                own.
            max_uses (int | None | Unset): Its lifetime cap on uses; `null`: none.
            meta (None | TokenViewMetaType0 | Unset):
            not_before (None | str | Unset): Before this, the token is not valid yet; `null`: valid from its creation.
            owner (None | str | Unset):
            parent_id (None | str | Unset): The token that created this one; `null` for the admin token.
            rate_limit (None | RateLimitView | Unset):
            resources (list[str] | None | Unset): `null`: every resource.
            revoked_at (None | str | Unset):
            scopes (list[str] | None | Unset): Granted scope patterns; `null` when the token is granted an `access` level.
            uses_remaining (int | None | Unset): The uses left under `max_uses`.
    """

    admin: bool
    created_at: str
    id: str
    name: str
    start: str
    status: str
    updated_at: str
    use_count: int
    token: str
    access: None | str | Unset = UNSET
    allowed_cidrs: list[str] | Unset = UNSET
    credits_: CreditsView | None | Unset = UNSET
    description: None | str | Unset = UNSET
    expires_at: None | str | Unset = UNSET
    last_used_at: None | str | Unset = UNSET
    last_used_ip: None | str | Unset = UNSET
    max_descendants: int | None | Unset = UNSET
    max_uses: int | None | Unset = UNSET
    meta: None | TokenViewMetaType0 | Unset = UNSET
    not_before: None | str | Unset = UNSET
    owner: None | str | Unset = UNSET
    parent_id: None | str | Unset = UNSET
    rate_limit: None | RateLimitView | Unset = UNSET
    resources: list[str] | None | Unset = UNSET
    revoked_at: None | str | Unset = UNSET
    scopes: list[str] | None | Unset = UNSET
    uses_remaining: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.credits_view import CreditsView  # noqa: PLC0415
        from ..models.rate_limit_view import RateLimitView  # noqa: PLC0415
        from ..models.token_view_meta_type_0 import TokenViewMetaType0  # noqa: PLC0415

        admin = self.admin

        created_at = self.created_at

        id = self.id

        name = self.name

        start = self.start

        status = self.status

        updated_at = self.updated_at

        use_count = self.use_count

        token = self.token

        access: None | str | Unset
        if isinstance(self.access, Unset):
            access = UNSET
        else:
            access = self.access

        allowed_cidrs: list[str] | Unset = UNSET
        if not isinstance(self.allowed_cidrs, Unset):
            allowed_cidrs = self.allowed_cidrs

        credits_: dict[str, Any] | None | Unset
        if isinstance(self.credits_, Unset):
            credits_ = UNSET
        elif isinstance(self.credits_, CreditsView):
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
        else:
            expires_at = self.expires_at

        last_used_at: None | str | Unset
        if isinstance(self.last_used_at, Unset):
            last_used_at = UNSET
        else:
            last_used_at = self.last_used_at

        last_used_ip: None | str | Unset
        if isinstance(self.last_used_ip, Unset):
            last_used_ip = UNSET
        else:
            last_used_ip = self.last_used_ip

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
        elif isinstance(self.meta, TokenViewMetaType0):
            meta = self.meta.to_dict()
        else:
            meta = self.meta

        not_before: None | str | Unset
        if isinstance(self.not_before, Unset):
            not_before = UNSET
        else:
            not_before = self.not_before

        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        parent_id: None | str | Unset
        if isinstance(self.parent_id, Unset):
            parent_id = UNSET
        else:
            parent_id = self.parent_id

        rate_limit: dict[str, Any] | None | Unset
        if isinstance(self.rate_limit, Unset):
            rate_limit = UNSET
        elif isinstance(self.rate_limit, RateLimitView):
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

        revoked_at: None | str | Unset
        if isinstance(self.revoked_at, Unset):
            revoked_at = UNSET
        else:
            revoked_at = self.revoked_at

        scopes: list[str] | None | Unset
        if isinstance(self.scopes, Unset):
            scopes = UNSET
        elif isinstance(self.scopes, list):
            scopes = self.scopes

        else:
            scopes = self.scopes

        uses_remaining: int | None | Unset
        if isinstance(self.uses_remaining, Unset):
            uses_remaining = UNSET
        else:
            uses_remaining = self.uses_remaining

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "admin": admin,
                "created_at": created_at,
                "id": id,
                "name": name,
                "start": start,
                "status": status,
                "updated_at": updated_at,
                "use_count": use_count,
                "token": token,
            }
        )
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
        if last_used_at is not UNSET:
            field_dict["last_used_at"] = last_used_at
        if last_used_ip is not UNSET:
            field_dict["last_used_ip"] = last_used_ip
        if max_descendants is not UNSET:
            field_dict["max_descendants"] = max_descendants
        if max_uses is not UNSET:
            field_dict["max_uses"] = max_uses
        if meta is not UNSET:
            field_dict["meta"] = meta
        if not_before is not UNSET:
            field_dict["not_before"] = not_before
        if owner is not UNSET:
            field_dict["owner"] = owner
        if parent_id is not UNSET:
            field_dict["parent_id"] = parent_id
        if rate_limit is not UNSET:
            field_dict["rate_limit"] = rate_limit
        if resources is not UNSET:
            field_dict["resources"] = resources
        if revoked_at is not UNSET:
            field_dict["revoked_at"] = revoked_at
        if scopes is not UNSET:
            field_dict["scopes"] = scopes
        if uses_remaining is not UNSET:
            field_dict["uses_remaining"] = uses_remaining

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.credits_view import CreditsView  # noqa: PLC0415
        from ..models.rate_limit_view import RateLimitView  # noqa: PLC0415
        from ..models.token_view_meta_type_0 import TokenViewMetaType0  # noqa: PLC0415

        d = dict(src_dict)
        admin = d.pop("admin")

        created_at = d.pop("created_at")

        id = d.pop("id")

        name = d.pop("name")

        start = d.pop("start")

        status = d.pop("status")

        updated_at = d.pop("updated_at")

        use_count = d.pop("use_count")

        token = d.pop("token")

        def _parse_access(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        access = _parse_access(d.pop("access", UNSET))

        allowed_cidrs = cast(list[str], d.pop("allowed_cidrs", UNSET))

        def _parse_credits_(data: object) -> CreditsView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                credits_type_1 = CreditsView.from_dict(data)

                return credits_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreditsView | None | Unset, data)

        credits_ = _parse_credits_(d.pop("credits", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_expires_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_last_used_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_used_at = _parse_last_used_at(d.pop("last_used_at", UNSET))

        def _parse_last_used_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_used_ip = _parse_last_used_ip(d.pop("last_used_ip", UNSET))

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

        def _parse_meta(data: object) -> None | TokenViewMetaType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                meta_type_0 = TokenViewMetaType0.from_dict(data)

                return meta_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TokenViewMetaType0 | Unset, data)

        meta = _parse_meta(d.pop("meta", UNSET))

        def _parse_not_before(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        not_before = _parse_not_before(d.pop("not_before", UNSET))

        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))

        def _parse_parent_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_id = _parse_parent_id(d.pop("parent_id", UNSET))

        def _parse_rate_limit(data: object) -> None | RateLimitView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                rate_limit_type_1 = RateLimitView.from_dict(data)

                return rate_limit_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RateLimitView | Unset, data)

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

        def _parse_revoked_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revoked_at = _parse_revoked_at(d.pop("revoked_at", UNSET))

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

        def _parse_uses_remaining(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        uses_remaining = _parse_uses_remaining(d.pop("uses_remaining", UNSET))

        created_token = cls(
            admin=admin,
            created_at=created_at,
            id=id,
            name=name,
            start=start,
            status=status,
            updated_at=updated_at,
            use_count=use_count,
            token=token,
            access=access,
            allowed_cidrs=allowed_cidrs,
            credits_=credits_,
            description=description,
            expires_at=expires_at,
            last_used_at=last_used_at,
            last_used_ip=last_used_ip,
            max_descendants=max_descendants,
            max_uses=max_uses,
            meta=meta,
            not_before=not_before,
            owner=owner,
            parent_id=parent_id,
            rate_limit=rate_limit,
            resources=resources,
            revoked_at=revoked_at,
            scopes=scopes,
            uses_remaining=uses_remaining,
        )

        created_token.additional_properties = d
        return created_token

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

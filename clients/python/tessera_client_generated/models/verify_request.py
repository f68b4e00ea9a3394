from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.required_scope import RequiredScope
from ..types import UNSET, Unset

T = TypeVar("T", bound="VerifyRequest")


@_attrs_define
class VerifyRequest:
    """`POST /v1/verify`, borrowed from the body where it can be: this is read on every
    call. No `Debug`: it carries a token.

        Example:
            {'resource': 'repo:42', 'scopes': ['repo:read'], 'token': 'tsr_4Jq9ZbX0aLm7Yw2kTq3n8RcV1pD6sF0hG5uE_0aB3c9'}

        Attributes:
            token (str):
            client_ip (None | str | Unset): The address of the end client the request comes from (`203.0.113.7`,
                `2001:db8::7`), for a token bound to networks (`allowed_cidrs`): a backend
                that verifies for its own clients passes it on. Such a token is `FORBIDDEN`
                without it. Example: 203.0.113.7.
            cost (int | None | Unset): The credits this request spends from a token that has them (0 spends none
                but still counts a use); omitted: 1.
            resource (None | str | Unset): The resource the request touches, `type:id`.
            scopes (list[RequiredScope] | None | Unset): Scopes the request needs; all are required.
    """

    token: str
    client_ip: None | str | Unset = UNSET
    cost: int | None | Unset = UNSET
    resource: None | str | Unset = UNSET
    scopes: list[RequiredScope] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        token = self.token

        client_ip: None | str | Unset
        if isinstance(self.client_ip, Unset):
            client_ip = UNSET
        else:
            client_ip = self.client_ip

        cost: int | None | Unset
        if isinstance(self.cost, Unset):
            cost = UNSET
        else:
            cost = self.cost

        resource: None | str | Unset
        if isinstance(self.resource, Unset):
            resource = UNSET
        else:
            resource = self.resource

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

        field_dict.update(
            {
                "token": token,
            }
        )
        if client_ip is not UNSET:
            field_dict["client_ip"] = client_ip
        if cost is not UNSET:
            field_dict["cost"] = cost
        if resource is not UNSET:
            field_dict["resource"] = resource
        if scopes is not UNSET:
            field_dict["scopes"] = scopes

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        token = d.pop("token")

        def _parse_client_ip(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        client_ip = _parse_client_ip(d.pop("client_ip", UNSET))

        def _parse_cost(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        cost = _parse_cost(d.pop("cost", UNSET))

        def _parse_resource(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource = _parse_resource(d.pop("resource", UNSET))

        def _parse_scopes(data: object) -> list[RequiredScope] | None | Unset:
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
                    scopes_type_0_item = RequiredScope(scopes_type_0_item_data)

                    scopes_type_0.append(scopes_type_0_item)

                return scopes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[RequiredScope] | None | Unset, data)

        scopes = _parse_scopes(d.pop("scopes", UNSET))

        verify_request = cls(
            token=token,
            client_ip=client_ip,
            cost=cost,
            resource=resource,
            scopes=scopes,
        )

        return verify_request

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery_view_payload import DeliveryViewPayload


T = TypeVar("T", bound="DeliveryView")


@_attrs_define
class DeliveryView:
    """One event on its way to an endpoint, and how its attempts went.

    Attributes:
        attempts (int):
        audit_seq (int): The audit entry it announces.
        created_at (str):
        id (str): The `webhook-id` of every attempt.
        payload (DeliveryViewPayload): The body sent.
        status (str): `pending`, `delivered` or `failed` (given up after a day of attempts).
        type_ (str):
        delivered_at (None | str | Unset):
        first_attempt_at (None | str | Unset):
        last_error (None | str | Unset):
        last_status (int | None | Unset): The HTTP status the endpoint last answered; `null` if it never answered.
        next_attempt_at (None | str | Unset): When it is tried next; `null` once delivered or failed.
    """

    attempts: int
    audit_seq: int
    created_at: str
    id: str
    payload: DeliveryViewPayload
    status: str
    type_: str
    delivered_at: None | str | Unset = UNSET
    first_attempt_at: None | str | Unset = UNSET
    last_error: None | str | Unset = UNSET
    last_status: int | None | Unset = UNSET
    next_attempt_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        audit_seq = self.audit_seq

        created_at = self.created_at

        id = self.id

        payload = self.payload.to_dict()

        status = self.status

        type_ = self.type_

        delivered_at: None | str | Unset
        if isinstance(self.delivered_at, Unset):
            delivered_at = UNSET
        else:
            delivered_at = self.delivered_at

        first_attempt_at: None | str | Unset
        if isinstance(self.first_attempt_at, Unset):
            first_attempt_at = UNSET
        else:
            first_attempt_at = self.first_attempt_at

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        last_status: int | None | Unset
        if isinstance(self.last_status, Unset):
            last_status = UNSET
        else:
            last_status = self.last_status

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        else:
            next_attempt_at = self.next_attempt_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "audit_seq": audit_seq,
                "created_at": created_at,
                "id": id,
                "payload": payload,
                "status": status,
                "type": type_,
            }
        )
        if delivered_at is not UNSET:
            field_dict["delivered_at"] = delivered_at
        if first_attempt_at is not UNSET:
            field_dict["first_attempt_at"] = first_attempt_at
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if last_status is not UNSET:
            field_dict["last_status"] = last_status
        if next_attempt_at is not UNSET:
            field_dict["next_attempt_at"] = next_attempt_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery_view_payload import DeliveryViewPayload  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        audit_seq = d.pop("audit_seq")

        created_at = d.pop("created_at")

        id = d.pop("id")

        payload = DeliveryViewPayload.from_dict(d.pop("payload"))

        status = d.pop("status")

        type_ = d.pop("type")

        def _parse_delivered_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        delivered_at = _parse_delivered_at(d.pop("delivered_at", UNSET))

        def _parse_first_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        first_attempt_at = _parse_first_attempt_at(d.pop("first_attempt_at", UNSET))

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_last_status(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        last_status = _parse_last_status(d.pop("last_status", UNSET))

        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at", UNSET))

        delivery_view = cls(
            attempts=attempts,
            audit_seq=audit_seq,
            created_at=created_at,
            id=id,
            payload=payload,
            status=status,
            type_=type_,
            delivered_at=delivered_at,
            first_attempt_at=first_attempt_at,
            last_error=last_error,
            last_status=last_status,
            next_attempt_at=next_attempt_at,
        )

        delivery_view.additional_properties = d
        return delivery_view

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

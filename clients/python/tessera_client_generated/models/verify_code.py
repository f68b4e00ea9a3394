from enum import StrEnum


class VerifyCode(StrEnum):
    EXPIRED = "EXPIRED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    NOT_YET_VALID = "NOT_YET_VALID"
    RATE_LIMITED = "RATE_LIMITED"
    REVOKED = "REVOKED"
    ROTATED = "ROTATED"
    USAGE_EXHAUSTED = "USAGE_EXHAUSTED"
    VALID = "VALID"

    def __str__(self) -> str:
        return str(self.value)

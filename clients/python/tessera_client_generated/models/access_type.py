from enum import StrEnum


class AccessType(StrEnum):
    ADMIN = "ADMIN"
    READ = "READ"
    WRITE = "WRITE"

    def __str__(self) -> str:
        return str(self.value)

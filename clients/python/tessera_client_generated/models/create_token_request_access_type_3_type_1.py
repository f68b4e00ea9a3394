from enum import StrEnum


class CreateTokenRequestAccessType3Type1(StrEnum):
    ADMIN = "ADMIN"
    READ = "READ"
    WRITE = "WRITE"

    def __str__(self) -> str:
        return str(self.value)

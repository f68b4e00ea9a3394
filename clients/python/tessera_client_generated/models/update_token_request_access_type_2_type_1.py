from enum import StrEnum


class UpdateTokenRequestAccessType2Type1(StrEnum):
    ADMIN = "ADMIN"
    READ = "READ"
    WRITE = "WRITE"

    def __str__(self) -> str:
        return str(self.value)

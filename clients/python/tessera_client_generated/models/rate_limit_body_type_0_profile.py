from enum import StrEnum


class RateLimitBodyType0Profile(StrEnum):
    API_HEAVY = "api_heavy"
    BURST_FRIENDLY = "burst_friendly"
    RESTRICTED = "restricted"
    STEADY_STREAM = "steady_stream"

    def __str__(self) -> str:
        return str(self.value)

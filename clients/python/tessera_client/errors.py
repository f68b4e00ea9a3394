"""What a call can fail with: tessera's refusal (a problem document, with the stable
``code`` to branch on), or no answer at all (``status == 0``)."""

from __future__ import annotations

from typing import Any

import httpx

from tessera_client_generated.models import Problem


class TesseraError(Exception):
    """A call tessera refused, or one it never answered."""

    def __init__(
        self,
        status: int,
        problem: Problem | None = None,
        retry_after: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.status = status
        self.problem = problem
        self.retry_after = retry_after
        if problem is not None:
            message = f"tessera answered {status}: {problem.detail} ({problem.code.value})"
        else:
            message = detail or f"tessera: HTTP {status}"
        super().__init__(message)

    @property
    def code(self) -> str | None:
        """The problem's stable code (``invalid_token``, ``not_found``, ...): branch on this."""
        return self.problem.code.value if self.problem is not None else None

    @property
    def field(self) -> str | None:
        """The request field at fault, when one is."""
        value: Any = self.problem.field if self.problem is not None else None
        return value if isinstance(value, str) else None

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed: no answer, 429 or 503."""
        return self.status in (0, 429, 503)


def refusal(response: httpx.Response | Any) -> TesseraError:
    """A generated ``Response`` whose status is not a success, as a ``TesseraError``."""
    retry_after = response.headers.get("retry-after")
    parsed = response.parsed
    if not isinstance(parsed, Problem):
        try:
            parsed = Problem.from_dict(httpx.Response(200, content=response.content).json())
        except (ValueError, KeyError, TypeError):
            parsed = None
    return TesseraError(
        int(response.status_code),
        parsed,
        int(retry_after) if retry_after and retry_after.isdigit() else None,
        detail=None if parsed else response.content[:200].decode("utf-8", "replace"),
    )

"""A typed client for tessera: ``Tessera`` (blocking) and ``AsyncTessera`` (asyncio) on
httpx, over code generated from tessera's OpenAPI document by openapi-python-client
(``tessera_client_generated``: its models are the request and answer types).
Every refusal raises ``TesseraError``; ``tessera_client.fastapi`` verifies requests."""

from tessera_client.client import AsyncTessera, Tessera
from tessera_client.errors import TesseraError
from tessera_client import models

__all__ = ["AsyncTessera", "Tessera", "TesseraError", "models"]

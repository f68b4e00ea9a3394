"""The request and answer types, as generated from tessera's OpenAPI document."""

from tessera_client_generated.models import *  # noqa: F403
from tessera_client_generated.models import __all__  # noqa: F401

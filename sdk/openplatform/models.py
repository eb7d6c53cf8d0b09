"""The API's models (msgspec structs), generated from the spec."""

from openplatform._generated.models import *  # noqa: F403
from openplatform._generated.models import __all__ as __all__

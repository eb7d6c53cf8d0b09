"""The Python SDK of the brokerage's open platform.

```python
from openplatform import Client

client = Client.from_file("credentials.json", base_url="http://127.0.0.1:8000")
for fund in client.market.list_funds(limit=5):
    print(fund.name)
```
"""

from openplatform import errors, models, webhooks
from openplatform._core.delegation import AuthorizationRequest
from openplatform._core.environment import Environment
from openplatform._core.hooks import RequestInfo, ResponseInfo, RetryInfo
from openplatform._core.jose import ClientAssertionSigner, DPoPKey, access_token_hash
from openplatform._core.pagination import AsyncPager, SyncPager
from openplatform._core.resource import ApiResponse
from openplatform._core.serialize import to_dict, to_json
from openplatform._core.tokens import DelegatedGrant
from openplatform.client import AsyncClient, Client
from openplatform.errors import APIError, OpenPlatformError

__version__ = "1.0.0"
__all__ = [
    "APIError",
    "ApiResponse",
    "AsyncClient",
    "AsyncPager",
    "AuthorizationRequest",
    "Client",
    "ClientAssertionSigner",
    "DPoPKey",
    "DelegatedGrant",
    "Environment",
    "OpenPlatformError",
    "RequestInfo",
    "ResponseInfo",
    "RetryInfo",
    "SyncPager",
    "access_token_hash",
    "errors",
    "models",
    "to_dict",
    "to_json",
    "webhooks",
]

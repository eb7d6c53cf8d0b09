"""A developer's first sandbox calls: a token, a list, a screening, and a typed error.

Run from the repository root after `make run`: `python sdk/examples/developer.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from openplatform import Client
from openplatform.errors import APIError, NotFoundError

# Where `make run` serves and keeps its demo credentials.
BASE_URL = os.environ.get("GATEWAY_BASE_URL", "http://127.0.0.1:8000")
VAR_DIR = Path(os.environ.get("GATEWAY_VAR_DIR", "var"))


def main() -> None:
    credentials = json.loads((VAR_DIR / "demo" / "credentials.json").read_text())
    demo = next(c for c in credentials if c["partner"] == "Demo Developer")
    with Client(demo["client_id"], demo["private_jwk"], base_url=BASE_URL) as client:
        print(f"{client.environment} at {client.issuer}")
        for fund in client.market.list_funds(limit=3).first_page().data:
            print(fund.id, fund.name, fund.currency)

        screening = client.compliance.create_screening(name="陳偉國", country="HK")
        print(screening.id, screening.decision, [hit.matched_name for hit in screening.hits])

        try:
            client.market.get_instrument("ins_0000000000")
        except NotFoundError as error:  # one class per problem type, all under APIError
            print(error.status, error.title, error.request_id)
        except APIError as error:
            print("unexpected", error)


if __name__ == "__main__":
    main()

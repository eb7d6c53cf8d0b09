"""Every page of the developer portal."""

from __future__ import annotations

from typing import Final

from gateway.web.portal.accounts import (
    portal_home,
    portal_login_page,
    portal_sign_in,
    portal_sign_out,
    sign_up,
    signup_page,
)
from gateway.web.portal.apps import app_list, create_app, new_app_page, request_review
from gateway.web.portal.overview import app_page
from gateway.web.portal.usage import usage_page
from gateway.web.portal.webhooks import webhooks_page

ROUTES: Final = [
    portal_home,
    signup_page,
    sign_up,
    portal_login_page,
    portal_sign_in,
    portal_sign_out,
    app_list,
    request_review,
    new_app_page,
    create_app,
    app_page,
    usage_page,
    webhooks_page,
]

"""The token endpoints (`POST auth/token`, `auth/token/refresh`): simplejwt's views with a failure limit.

Wrong passwords are counted per account, per spelling and per client IP (core/limits.py); past any limit the
login is refused with 429 and Retry-After until the window ends, even with the right password. The account is
the username as the database compares it (core.db.comparison_key): MariaDB's collation finds `víctim`,
`VICTIM` and `victim ` to be `victim`, so they are one account to guess (issue 20), whereas counting the
case-folded spelling alone gave every accent ten fresh tries. The key comes from the name, not from a user
row, so a name nobody has is limited exactly like one somebody has: neither the status nor the work done
tells them apart. The spelling (trimmed, case-folded) is counted too, whatever the database compares.
Refresh tokens rotate: a refresh answers a new one and blacklists the old, so a stolen one works once.
"""

import hashlib
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from core.client_ip import client_ip
from core.db import comparison_key
from core.errors import TooManyRequests
from core.limits import seconds_until_window_ends, slots_take

KEY_PREFIX = "login:failures"

clock = time.time  # tests move it


class TooManyLoginAttempts(TooManyRequests):
    code = "too_many_login_attempts"
    default_message = "Too many failed logins; try again later."


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _username_subjects(data) -> list[str]:
    username = data.get("username") if isinstance(data, dict) else None
    if not isinstance(username, str) or not username.strip():
        return []
    username = username.strip()  # as the serializer passes it on to authentication
    account = comparison_key(model=get_user_model(), field=get_user_model().USERNAME_FIELD, value=username)
    return ["name:" + _digest(username.casefold()), "account:" + _digest(account)]


class LoginView(TokenObtainPairView):
    extra_error_statuses = (401, 429)

    def post(self, request, *args, **kwargs):
        limits = dict.fromkeys(_username_subjects(request.data), settings.LOGIN_FAILURE_LIMIT)
        if ip := client_ip(request):
            limits[f"ip:{ip}"] = settings.LOGIN_IP_FAILURE_LIMIT
        window, now = settings.LOGIN_FAILURE_WINDOW_SECONDS, clock()
        slots = slots_take(prefix=KEY_PREFIX, limits=limits, window=window, now=now)
        if slots is None:
            raise TooManyLoginAttempts(retry_after_seconds=seconds_until_window_ends(window=window, now=now))
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            raise  # a wrong password: its slot stays counted
        except Exception:
            slots.release()
            raise
        slots.release()
        return response


class RefreshView(TokenRefreshView):
    extra_error_statuses = (401,)  # an expired, malformed or already used (blacklisted) refresh token

"""The token endpoints (`POST auth/token`, `auth/token/refresh`): simplejwt's views with a failure limit.

Wrong passwords are counted per username and per client IP (core/limits.py); past either limit the login is
refused with 429 and Retry-After until the window ends, even with the right password. Usernames are counted
case-folded: the database compares them without case, so `Alice` and `alice` are one account to guess.
Refresh tokens rotate: a refresh answers a new one and blacklists the old, so a stolen one works once.
"""

import hashlib
import time

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from core.client_ip import client_ip
from core.errors import TooManyRequests
from core.limits import seconds_until_window_ends, slots_take

KEY_PREFIX = "login:failures"

clock = time.time  # tests move it


class TooManyLoginAttempts(TooManyRequests):
    code = "too_many_login_attempts"
    default_message = "Too many failed logins; try again later."


def _username_subject(data) -> str | None:
    username = data.get("username") if isinstance(data, dict) else None
    if not isinstance(username, str) or not username.strip():
        return None
    return "user:" + hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


class LoginView(TokenObtainPairView):
    extra_error_statuses = (401, 429)

    def post(self, request, *args, **kwargs):
        limits = {}
        if subject := _username_subject(request.data):
            limits[subject] = settings.LOGIN_FAILURE_LIMIT
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

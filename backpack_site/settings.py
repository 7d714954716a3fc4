"""Settings, read from the environment; every variable is listed in the README."""

import ipaddress
import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# Off unless asked for (`make run` and the test settings ask): a deploy that forgets it is a production one,
# and production refuses to start half-configured (below: secrets, a shared cache).
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")

INSTALLED_APPS = [
    "backpack_site.apps.BackpackAdminConfig",  # django.contrib.admin, as the back office
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "core",
    "ledger",
    "items",
    "redemption",
    "market",
    "gifts",
    "legacy_inventory",
    "operations",
    "backpack_site",
    "bench",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.ApiJsonMiddleware",
    # Outside every middleware that may query: on a Galera cluster the request waits, once, for its node.
    "core.causal_reads.CausalReadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Innermost, so it sees a view's error first: the database or Redis away is a 503, not a 500.
    "core.unavailable.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "backpack_site.urls"
WSGI_APPLICATION = "backpack_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_env() -> dict:
    url = os.environ.get("DATABASE_URL")
    if not url:
        # Embedded development database. IMMEDIATE takes the write lock at BEGIN, so two
        # writers queue on the busy timeout instead of failing on a lock upgrade.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    # Health checks: a kept connection that a restarted database dropped is replaced, not used.
    config = dj_database_url.parse(
        url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")), conn_health_checks=True
    )
    if config["ENGINE"] == "django.db.backends.mysql":
        config["OPTIONS"] = {
            "charset": "utf8mb4",
            "isolation_level": "read committed",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO'",
        }
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return config


DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The admin's and Swagger UI's assets are served by the app itself (WhiteNoise), never a CDN:
# `manage.py collectstatic` fills STATIC_ROOT at deploy; in development they come straight from the apps.
STATIC_ROOT = None if DEBUG else os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
WHITENOISE_USE_FINDERS = DEBUG

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# The API takes and gives JSON only (SPEC §8): no forms, no browsable pages.
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.JSONWhateverAcceptNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.IssuerKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "15"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A refresh token works once: refreshing returns a new one and blacklists the old.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Backpack API",
    "DESCRIPTION": "Assets and items of the restaurant lottery platform.",
    "VERSION": "4.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request and response bodies are separate components (TokenObtainPairRequest has no `access`), so
    # generated clients can build requests.
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Operations
ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL", "")
ALERT_WEBHOOK_TIMEOUT = float(os.environ.get("ALERT_WEBHOOK_TIMEOUT", "5"))
RECONCILIATION_MAX_STORED = int(os.environ.get("RECONCILIATION_MAX_STORED", "200"))
# The longest a transaction may keep journal rows it wrote uncommitted: checkpoints and the sealer's
# low-water mark stay this far behind the newest entries, so an entry that commits late is still seen.
JOURNAL_COMMIT_GRACE_SECONDS = int(os.environ.get("JOURNAL_COMMIT_GRACE_SECONDS", "600"))
REDEMPTION_FAILURE_ALERT_RATE = float(os.environ.get("REDEMPTION_FAILURE_ALERT_RATE", "0.05"))
REDEMPTION_FAILURE_ALERT_MIN_ATTEMPTS = int(os.environ.get("REDEMPTION_FAILURE_ALERT_MIN_ATTEMPTS", "20"))

# Issuance limits per issuer and asset (SPEC §10): {"<asset code>" or "*": {"per_grant": n, "per_day": n}}.
# An issuer's own limits for an asset, set in the admin (Ledger → Issuance limits), override these.
ISSUANCE_LIMITS = json.loads(os.environ.get("ISSUANCE_LIMITS", '{"*": {"per_grant": 100000, "per_day": 10000000}}'))
if "*" not in ISSUANCE_LIMITS:
    raise ImproperlyConfigured('ISSUANCE_LIMITS needs a "*" entry: the limits of every asset not named.')

# Money: vouchers' face values (meta.value) are integers in minor units of this currency.
CURRENCY_SYMBOL = os.environ.get("CURRENCY_SYMBOL", "¥")
CURRENCY_DECIMALS = int(os.environ.get("CURRENCY_DECIMALS", "2"))

# Market
MARKET_FEE_BPS = int(os.environ.get("MARKET_FEE_BPS", "500"))
if not 0 <= MARKET_FEE_BPS <= 10_000:
    raise ImproperlyConfigured("MARKET_FEE_BPS is in basis points, between 0 and 10000.")
# The smallest fee of a purchase while the fee is on (SPEC §5); never more than the purchase's total.
MARKET_MIN_FEE = int(os.environ.get("MARKET_MIN_FEE", "1"))
if MARKET_MIN_FEE < 0:
    raise ImproperlyConfigured("MARKET_MIN_FEE is a number of minor units, 0 or more.")
MARKET_LISTING_TTL = timedelta(days=int(os.environ.get("MARKET_LISTING_TTL_DAYS", "14")))
MARKET_MAX_OPEN_LISTINGS = int(os.environ.get("MARKET_MAX_OPEN_LISTINGS", "50"))
MARKET_BUY_ORDER_TTL = timedelta(days=int(os.environ.get("MARKET_BUY_ORDER_TTL_DAYS", "30")))
MARKET_MAX_OPEN_BUY_ORDERS = int(os.environ.get("MARKET_MAX_OPEN_BUY_ORDERS", "50"))

# Gifts (SPEC §11): per sender and calendar day (TIME_ZONE), how many gifts, and how much of each asset
# ({"<asset code>" or "*": amount}).
GIFT_DAILY_COUNT = int(os.environ.get("GIFT_DAILY_COUNT", "20"))
GIFT_DAILY_AMOUNTS = json.loads(os.environ.get("GIFT_DAILY_AMOUNTS", '{"*": 100000}'))
if "*" not in GIFT_DAILY_AMOUNTS:
    raise ImproperlyConfigured('GIFT_DAILY_AMOUNTS needs a "*" entry: the daily amount of every asset not named.')

# Webhooks (SPEC §12): delivery of the outbox's events to the endpoints configured in the admin.
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "5"))
WEBHOOK_BACKOFF_BASE_SECONDS = int(os.environ.get("WEBHOOK_BACKOFF_BASE_SECONDS", "30"))
WEBHOOK_BACKOFF_MAX_SECONDS = int(os.environ.get("WEBHOOK_BACKOFF_MAX_SECONDS", "3600"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "30"))
WEBHOOK_ALERT_AFTER_FAILURES = int(os.environ.get("WEBHOOK_ALERT_AFTER_FAILURES", "10"))
# Endpoints must be public addresses: a URL pointing at loopback, private, link-local (cloud metadata) or
# other non-public addresses is refused when saved and when sent, unless its address is in one of these
# networks (comma-separated IPs or CIDR ranges: an on-premise receiver, e.g. 10.20.0.0/16). Checked at start.
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = [
    str(ipaddress.ip_network(network, strict=False)) for network in env_list("WEBHOOK_ALLOWED_PRIVATE_NETWORKS")
]

# Redemption
REDEMPTION_CODE_SECRET = os.environ.get("REDEMPTION_CODE_SECRET")
if not REDEMPTION_CODE_SECRET:
    if not DEBUG:
        raise ImproperlyConfigured("REDEMPTION_CODE_SECRET must be set when DEBUG is off.")
    REDEMPTION_CODE_SECRET = "dev-only-redemption-code-secret-do-not-use-in-production"
REDEMPTION_ORDER_TTL_DAYS = int(os.environ.get("REDEMPTION_ORDER_TTL_DAYS", "30"))
REDEMPTION_FAILURE_LIMIT = int(os.environ.get("REDEMPTION_FAILURE_LIMIT", "10"))
REDEMPTION_FAILURE_WINDOW_SECONDS = int(os.environ.get("REDEMPTION_FAILURE_WINDOW_SECONDS", "600"))
# A fulfil repeated by the staff user who made it, this soon after, gets the original success (a lost answer).
REDEMPTION_FULFIL_RETRY_SECONDS = int(os.environ.get("REDEMPTION_FULFIL_RETRY_SECONDS", "600"))
# Failure counters (redemption codes, logins) must be shared by every process: Redis in production
# (CACHE_URL, else REDIS_URL), a per-process memory cache in development and tests only.
CACHE_URL = os.environ.get("CACHE_URL") or (None if DEBUG else os.environ.get("REDIS_URL"))
if not CACHE_URL and not DEBUG:
    raise ImproperlyConfigured(
        "CACHE_URL (or REDIS_URL) must be set when DEBUG is off: every process must share the abuse counters."
    )
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # A stopped Redis fails a request fast (503) instead of holding a worker.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "backpack"}
    )
}

# API conventions (SPEC §8)
# Request bodies: at most this many bytes (413 past it), JSON nested at most this deep (400 past it;
# MariaDB refuses JSON nested 32 deep, so a body's `meta` must stay well under it).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("API_MAX_BODY_BYTES", str(256 * 1024)))
API_MAX_JSON_DEPTH = int(os.environ.get("API_MAX_JSON_DEPTH", "16"))
# The longest path and query string under /api/; past it, 414 in the envelope. gunicorn.conf.py lets request
# lines of up to 8190 bytes through to Django, so that this limit, not gunicorn's HTML page, answers.
API_MAX_URL_BYTES = int(os.environ.get("API_MAX_URL_BYTES", "4096"))
# How long a creating POST's Idempotency-Key is remembered with its response (at least 24 h, SPEC §8).
IDEMPOTENCY_KEY_TTL = timedelta(hours=max(24, int(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "24"))))
# Proxies whose X-Forwarded-For is believed (IPs or CIDR ranges, comma-separated). The client's IP is the
# nearest address in the chain that is not one of them; with none, it is REMOTE_ADDR.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
# Password logins: failures per username and per client IP in a window, then 429 until it ends.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_IP_FAILURE_LIMIT = int(os.environ.get("LOGIN_IP_FAILURE_LIMIT", "50"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off (404).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# HTTPS in production (`manage.py check --deploy` is clean). Behind a proxy that terminates TLS, list it in
# TRUSTED_PROXIES: its X-Forwarded-Proto then says whether the client used HTTPS.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes and scrapes from inside the network
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else str(365 * 24 * 3600)))
# For the API's own host name these cover only its own subdomains, and preloading takes a submission besides.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

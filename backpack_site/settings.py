"""Settings, read from the environment; every variable is listed in the README."""

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


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(",") if h.strip()
]

INSTALLED_APPS = [
    "backpack_site.apps.BackpackAdminConfig",  # django.contrib.admin, as the back office
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
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
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
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
    config = dj_database_url.parse(url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.IssuerKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "15"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Backpack API",
    "DESCRIPTION": "Assets and items of the restaurant lottery platform.",
    "VERSION": "4.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
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
MARKET_LISTING_TTL = timedelta(days=int(os.environ.get("MARKET_LISTING_TTL_DAYS", "14")))
MARKET_MAX_OPEN_LISTINGS = int(os.environ.get("MARKET_MAX_OPEN_LISTINGS", "50"))

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

# Redemption
REDEMPTION_CODE_SECRET = os.environ.get("REDEMPTION_CODE_SECRET")
if not REDEMPTION_CODE_SECRET:
    if not DEBUG:
        raise ImproperlyConfigured("REDEMPTION_CODE_SECRET must be set when DEBUG is off.")
    REDEMPTION_CODE_SECRET = "dev-only-redemption-code-secret-do-not-use-in-production"
REDEMPTION_ORDER_TTL_DAYS = int(os.environ.get("REDEMPTION_ORDER_TTL_DAYS", "30"))
REDEMPTION_FAILURE_LIMIT = int(os.environ.get("REDEMPTION_FAILURE_LIMIT", "10"))
REDEMPTION_FAILURE_WINDOW_SECONDS = int(os.environ.get("REDEMPTION_FAILURE_WINDOW_SECONDS", "600"))
# Failure counters must be shared by every process: Redis in production (CACHE_URL),
# a per-process memory cache in development and tests.
CACHE_URL = os.environ.get("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "backpack"}
    )
}

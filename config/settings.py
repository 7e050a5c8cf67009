"""Settings for the loyalty platform, read from the environment.

With nothing set the project runs on an embedded default: an SQLite file and a
Celery broker on the filesystem, both under the git-ignored ``var/``. Production
sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis or RabbitMQ),
SECRET_KEY, SECRETS_ENCRYPTION_KEY, ALLOWED_HOSTS, PUBLIC_BASE_URL and DEBUG=0.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# The default keys are public: fine for a laptop, refused in production.
DEFAULT_SECRET_KEY = "insecure-dev-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# Fernet keys (urlsafe base64, 32 bytes) encrypting secrets at rest: Apple
# certificates, Google service-account keys. Comma-separated; the first one
# encrypts, all of them decrypt (so a key can be rotated).
DEFAULT_SECRETS_ENCRYPTION_KEY = "ZGV2LW9ubHktc2VjcmV0cy1rZXktbm90LWZvci1wcm9k"
SECRETS_ENCRYPTION_KEYS = env_list("SECRETS_ENCRYPTION_KEY", [DEFAULT_SECRETS_ENCRYPTION_KEY])
if not DEBUG and DEFAULT_SECRETS_ENCRYPTION_KEY in SECRETS_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("SECRETS_ENCRYPTION_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Where customers and devices reach us: used in QR codes, e-mails and passes.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # GIN trigram indexes on expressions (OpClass) for the customer search; nothing on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    # Content-Security-Policy header (CONTENT_SECURITY_POLICY below).
    "csp",
    # Two-factor authentication (issue 13): TOTP devices, and static tokens as one-time recovery codes.
    # The TOTP keys live encrypted in merchants.AuthenticatorDevice (otp_totp stays for its migration history).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "merchants",
    "loyalty",
    "campaigns",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every response (CONTENT_SECURITY_POLICY); request.csp_nonce.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After LocaleMiddleware (its 400 is in the visitor's language), before anything reads the URL.
    "config.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): logged in with a second factor in this session.
    "django_otp.middleware.OTPMiddleware",
    # Platform staff reach admin only after the second factor (set-up page otherwise).
    "merchants.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "merchants.middleware.MerchantTimezoneMiddleware",
    # Who is acting and from which address, for the audit log (merchants.audit.record).
    "merchants.audit.AuditContextMiddleware",
    # Last: turns a login refused for too many failures into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "merchants.context_processors.merchant",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The quick start's web server, worker and demo loader share one file: readers never wait for the writer
    # (WAL), writers queue for the lock instead of failing at once ("database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    SILENCED_SYSTEM_CHECKS = [
        # NULLS NOT DISTINCT unique constraints (the analytics summaries'): on SQLite, unique indexes on
        # coalesce() of the nullable columns give the same guarantee (analytics migration 0010).
        "models.W047",
        # INCLUDE columns of covering indexes: a PostgreSQL speed detail; SQLite indexes the key columns.
        "models.W040",
    ]
# The POS purchase's two statements are prepared on the server, once per connection (loyalty/ledger/quick.py).
# Turn off behind a connection pooler in transaction mode that does not keep prepared statements
# (PgBouncer before 1.21, or without max_prepared_statements).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
# The POS purchase lane (loyalty/api/lane.py): a plain accrual answered in front of Django's request cycle.
POS_PURCHASE_LANE = env_bool("POS_PURCHASE_LANE", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "merchants.User"
# django-axes first: a locked-out account or address is refused before its password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (dashboard and admin log-in alike): after AXES_FAILURE_LIMIT wrong passwords in a row for
# one account, or from one address, every further attempt is refused unchecked until the cool-off has passed
# since the last counted failure. The address is the proxy-aware one (BEHIND_HTTPS_PROXY, see
# merchants.ratelimit.client_ip). Attempts are counted in the database, so every web worker sees them.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "merchants.ratelimit.login_client_ip"
AXES_USERNAME_FORM_FIELD = "username"  # the login forms' field (the e-mail), as authenticate() receives it
AXES_USERNAME_CALLABLE = "merchants.ratelimit.login_username"
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout do not push its end further: the owner of the account knows when it ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "merchants.views.login_locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# Password reset requests: per address, and per typed e-mail (known or not, so the limit reveals nothing).
PASSWORD_RESET_LIMIT_PER_IP = (env_int("PASSWORD_RESET_PER_IP_PER_HOUR", 10), 3600)
PASSWORD_RESET_LIMIT_PER_ACCOUNT = (env_int("PASSWORD_RESET_PER_ACCOUNT_PER_HOUR", 3), 3600)
LOGIN_URL = "login"
# The name authenticator apps show beside the code.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Loyalty")
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Staff invitations are valid this long.
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72)

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files served at the site root by WhiteNoise (/favicon.ico, which browsers ask for on every page).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Loyalty <noreply@localhost>")

# Celery. With no broker configured, messages go through the filesystem under
# var/broker so that a worker and beat run without any server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
for _folder in CELERY_BROKER_TRANSPORT_OPTIONS.values():
    if isinstance(_folder, str):
        Path(_folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
# Requests per API key ("600/min", "20/s"); counted in the cache, so set CACHE_URL with several workers.
POS_API_THROTTLE_RATE = env_str("POS_API_THROTTLE_RATE", "600/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty POS API",
    "DESCRIPTION": "Accrue and redeem points from a till. Authenticate with a location's API key.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "loyalty.api.schema.require_request_bodies",
        "loyalty.api.schema.free_item_purchases",
    ],
}

# Wallet integrations. Base URLs and hosts come from here so that tests can
# point the clients at fake servers on 127.0.0.1.
# APNs (Apple Wallet pass updates): HTTP/2 with the pass certificate as client cert.
APNS_HOST = env_str("APNS_HOST", "api.push.apple.com")
APNS_PORT = env_int("APNS_PORT", 443)
# Extra CA bundle (PEM) trusted for the APNs server; empty means the usual CAs.
APNS_CA_FILE = env_str("APNS_CA_FILE")
# Apple WWDR intermediate (PEM) embedded in pass signatures; empty means the
# G4 certificate shipped in loyalty/wallet/certs/.
APPLE_WWDR_CERT_FILE = env_str("APPLE_WWDR_CERT_FILE")
GOOGLE_WALLET_API_URL = env_str(
    "GOOGLE_WALLET_API_URL", "https://walletobjects.googleapis.com/walletobjects/v1"
).rstrip("/")
GOOGLE_WALLET_SAVE_URL = env_str("GOOGLE_WALLET_SAVE_URL", "https://pay.google.com/gp/v/save/")
# Platform-wide Apple pass certificate for merchants without their own: a
# PKCS#12 file (APPLE_PASS_CERT_FILE + password) or PEM certificate + key files.
APPLE_PASS_CERT_FILE = env_str("APPLE_PASS_CERT_FILE")
APPLE_PASS_KEY_FILE = env_str("APPLE_PASS_KEY_FILE")
APPLE_PASS_KEY_PASSWORD = env_str("APPLE_PASS_KEY_PASSWORD")
# Platform-wide Google Wallet issuer for merchants without their own.
GOOGLE_WALLET_ISSUER_ID = env_str("GOOGLE_WALLET_ISSUER_ID")
GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = env_str("GOOGLE_WALLET_SERVICE_ACCOUNT_FILE")
# Seconds the wallet pipeline waits after a card change, so a burst sends one update.
WALLET_SYNC_DEBOUNCE_SECONDS = env_int("WALLET_SYNC_DEBOUNCE_SECONDS", 2)

# Campaign channels (campaigns/channels/). E-mail goes through EMAIL_BACKEND unless
# CAMPAIGN_EMAIL_BACKEND names another (bulk mail through a different relay).
CAMPAIGN_EMAIL_BACKEND = env_str("CAMPAIGN_EMAIL_BACKEND")
# Customers per fan-out chunk; each chunk's deliveries are one send task. A chunk is a few
# set-based statements whatever its size, so bigger chunks mean fewer round trips per message.
CAMPAIGN_FANOUT_CHUNK = env_int("CAMPAIGN_FANOUT_CHUNK", 2000)
# SMS: a gateway speaking Twilio's Messages API (Twilio itself, or a compatible one).
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL", "https://api.twilio.com")
SMS_ACCOUNT_SID = env_str("SMS_ACCOUNT_SID")
SMS_AUTH_TOKEN = env_str("SMS_AUTH_TOKEN")
SMS_DEFAULT_SENDER = env_str("SMS_DEFAULT_SENDER", "Loyalty")
# Telegram: one platform bot; customers bind their chat with t.me/<bot>?start=<token>.
TELEGRAM_API_URL = env_str("TELEGRAM_API_URL", "https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env_str("TELEGRAM_BOT_TOKEN")
TELEGRAM_BOT_USERNAME = env_str("TELEGRAM_BOT_USERNAME")
# The secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token (set with setWebhook).
TELEGRAM_WEBHOOK_SECRET = env_str("TELEGRAM_WEBHOOK_SECRET")

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("CACHE_URL")}
        if env_str("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# Behind a reverse proxy that terminates HTTPS and appends the client's address to
# X-Forwarded-For: the scheme comes from X-Forwarded-Proto and the client's address
# from X-Forwarded-For's last hop (loyalty.ratelimit.client_ip). Off: neither header is trusted.
BEHIND_HTTPS_PROXY = env_bool("BEHIND_HTTPS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_HTTPS_PROXY else None
# Production answers HTTPS only: plain HTTP is redirected (behind the proxy, X-Forwarded-Proto says which was
# used, so set BEHIND_HTTPS_PROXY there or the redirect loops) and browsers are told to stay on HTTPS (HSTS).
# `manage.py check --deploy` runs clean with DEBUG=0 (CI checks it: .ci/run, tests/test_settings_guards.py).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy (django-csp), in DEBUG as in production, so that a page breaking it fails in tests
# (tests/test_csp.py, tests/test_csp_browser.py). Scripts come only from our own static files: no inline
# <script>, no on*= handlers, no javascript: URLs, no eval; server data reaches scripts through data-*
# attributes or json_script. Styles come from our static files too; the few <style> elements that carry a
# merchant's colours (web card, poster, designer) carry the per-response nonce (request.csp_nonce), and
# no element has a style="" attribute. Images: ours, data: (the web card's empty favicon) and blob: (the
# designer previews a chosen logo before it is uploaded). To allow another origin one day, add it to the
# directive it needs below (README, Production).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request at INFO: one line per APNs push or Google call.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

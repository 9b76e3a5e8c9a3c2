"""Settings, all read from the environment (see .env.example).

Misconfiguration stops start-up with one line naming the variable (``ImproperlyConfigured``), never a
traceback from deep inside Django.
"""

import base64
import hashlib
import os
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("SMSPORTAL_VAR_DIR") or BASE_DIR / "var")

env = environ.Env()
# Values from the environment win over .env (SMSPORTAL_ENV_FILE picks another file; "none" reads no file).
_env_file = os.environ.get("SMSPORTAL_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file != "none" and Path(_env_file).is_file():
    environ.Env.read_env(_env_file, overwrite=False)


def _fail(message: str):
    """Stop start-up with a single clear line (management commands and WSGI alike)."""
    sys.stderr.write(f"smsportal configuration error: {message}\n")
    raise SystemExit(2)


try:
    DEBUG = env.bool("DJANGO_DEBUG", default=False)
except (ValueError, ImproperlyConfigured):
    _fail("DJANGO_DEBUG must be true or false")

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "django-insecure-local-development-only-key-do-not-use-in-production"
    else:
        _fail("SECRET_KEY is required when DJANGO_DEBUG is false (set it in the environment or .env)")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "smsportal",
    "contacts",
    "providers",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # every view needs a signed-in user unless marked @login_not_required (sign-in, healthz, webhooks)
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "smsportal.htmx.HtmxMessagesMiddleware",  # flash messages → HX-Trigger toasts on htmx partial responses
    "smsportal.middleware.WorkspaceTimezoneMiddleware",
]

ROOT_URLCONF = "smsportal.urls"
WSGI_APPLICATION = "smsportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "smsportal.context_processors.workspace",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'smsportal.sqlite3'}")}
except (ImproperlyConfigured, ValueError, KeyError) as exc:
    _fail(f"DATABASE_URL is not a valid database URL ({exc})")
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions avoid the
    # "database is locked" upgrade deadlock; the busy timeout queues writers instead of failing them.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;"
            ),
        }
    )
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    _db.setdefault("CONN_HEALTH_CHECKS", True)
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
else:
    _fail(f"DATABASE_URL uses an unsupported engine {_db['ENGINE']!r} (use sqlite:// or postgres://)")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation -------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
DEFAULT_COUNTRY = env.str("DEFAULT_COUNTRY", default="SE").upper()
WORKSPACE_NAME = env.str("WORKSPACE_NAME", default="smsportal")

# --- Static and media -----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploads stream to disk above 2.5 MB; the import size limit is ours, with a clear message.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20_000
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)
IMPORT_FILE_RETENTION_DAYS = env.int("IMPORT_FILE_RETENTION_DAYS", default=30)
REQUEST_LOG_RETENTION_DAYS = env.int("REQUEST_LOG_RETENTION_DAYS", default=30)

# --- Provider credentials at rest -----------------------------------------------------------------------
# Fernet keys, comma-separated: the first encrypts, all decrypt (rotation). In debug only, a key is derived
# from SECRET_KEY so a first run needs no setup.
CREDENTIALS_KEYS = env.list("CREDENTIALS_KEY", default=[])
if not CREDENTIALS_KEYS:
    if DEBUG:
        CREDENTIALS_KEYS = [
            base64.urlsafe_b64encode(hashlib.sha256(b"smsportal-credentials:" + SECRET_KEY.encode()).digest()).decode()
        ]
    else:
        _fail("CREDENTIALS_KEY is required when DJANGO_DEBUG is false (generate one: see .env.example)")
else:
    from cryptography.fernet import Fernet

    for _key in CREDENTIALS_KEYS:
        try:
            Fernet(_key)
        except (ValueError, TypeError):
            _fail("CREDENTIALS_KEY must be a Fernet key (32 url-safe base64-encoded bytes)")

# --- Celery ---------------------------------------------------------------------------------------------
# Default: kombu's filesystem transport, a broker that needs no server (fine for one machine).
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.split("://", 1)[0] not in {"filesystem", "redis", "rediss", "amqp", "pyamqp", "memory"}:
    _fail(f"CELERY_BROKER_URL has an unsupported scheme: {CELERY_BROKER_URL.split('://', 1)[0]!r}")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("out", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis", "amqp", "pyamqp")):
    # An unacknowledged task (its worker died) is redelivered after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}  # filled by smsportal.celery from each app's BEAT_SCHEDULE

# --- Providers ------------------------------------------------------------------------------------------
SMSPORTAL_ADAPTERS = [
    "providers.adapters.sandbox.SandboxAdapter",
    "providers.adapters.jojka.JojkaAdapter",
    "providers.adapters.jooksms.JookSMSAdapter",
    "providers.adapters.mobizon.MobizonAdapter",
    "providers.adapters.ogangi.OgangiAdapter",
    "providers.adapters.apifon.ApifonAdapter",
]
PROVIDER_HTTP_TIMEOUT = (
    env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0),
    env.float("PROVIDER_READ_TIMEOUT", default=30.0),
)
# Send pipeline recovery: a lane whose worker died is restarted after its lease; an ambiguous hand-over is
# looked up at the provider after the reconcile delay.
CAMPAIGN_LANE_LEASE_SECONDS = env.int("CAMPAIGN_LANE_LEASE_SECONDS", default=120)
CAMPAIGN_RECONCILE_DELAY = env.float("CAMPAIGN_RECONCILE_DELAY", default=30.0)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# --- Security -------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the body's hx-headers, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging --------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "providers.adapters.http.RedactingLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

DJANGO_TABLES2_TEMPLATE = "tables/htmx_table.html"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

"""Reference simplejwt backend for yew-simplejwt.

Configured like a typical production simplejwt project: rotation with blacklisting,
HS256, `Bearer` header.  Lifetimes come from the environment (seconds) so tests can
make tokens expire quickly.
"""
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_seconds(name, default):
    return timedelta(seconds=int(os.environ.get(name, default)))


# A development-only key: this backend is a local reference server, never deployed.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-for-the-reference-backend")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

# Test-only switches (request counters, serving a built app) exist only when this is set.
TEST_HOOKS = os.environ.get("BACKEND_TEST_HOOKS") == "1"
# With TEST_HOOKS, serve this directory (a `trunk build` output) as a single-page app.
SPA_DIST_DIR = os.environ.get("SPA_DIST_DIR")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "demo",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
]
if TEST_HOOKS:
    MIDDLEWARE.insert(0, "demo.testhooks.TestHooksMiddleware")

ROOT_URLCONF = "config.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BACKEND_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

AUTHENTICATION_CLASSES = ["rest_framework_simplejwt.authentication.JWTAuthentication"]
# Many projects list SessionAuthentication first.  DRF then answers a refused token with
# 403 instead of 401 (no WWW-Authenticate header); the tests check the client copes.
if os.environ.get("SESSION_AUTH_FIRST") == "1":
    AUTHENTICATION_CLASSES.insert(0, "rest_framework.authentication.SessionAuthentication")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": AUTHENTICATION_CLASSES,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": env_seconds("ACCESS_TOKEN_LIFETIME", 300),
    "REFRESH_TOKEN_LIFETIME": env_seconds("REFRESH_TOKEN_LIFETIME", 86400),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

# A deployed app may live on another origin; the dev setup uses trunk's same-origin proxy.
CORS_ALLOWED_ORIGIN_REGEXES = [r"^http://(127\.0\.0\.1|localhost)(:\d+)?$"]
CORS_ALLOW_HEADERS = ["authorization", "content-type"]

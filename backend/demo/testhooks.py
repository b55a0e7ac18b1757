"""Test-only hooks, loaded only when BACKEND_TEST_HOOKS=1.

Tests count what the *server* saw, not what the client believes, and make the server
misbehave on demand:

- every request is tallied by "METHOD path status" (GET /__test__/counts/) and logged
  with its time (GET /__test__/events/); POST /__test__/reset/ clears both and all faults;
- POST /__test__/fault/ {"path", "mode", "times", "seconds"} makes the next `times`
  requests to `path` fail in a given way (see FAULTS);
- POST /__test__/reject-access/ {"mode": "issued-before-now" | "all" | "off"} makes
  /api/ reject access tokens as if the signing key had changed (their signature is
  spoilt before simplejwt checks them, so the refusal is simplejwt's own);
- GET /__test__/echo-auth/ tells whether the request carried an Authorization header.

The same switch lets the server hand out a built app (SPA_DIST_DIR), so the end-to-end
tests need no second web server.
"""
import base64
import json
import mimetypes
import threading
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

_lock = threading.Lock()
_counts = Counter()
_events = []
_faults = {}  # path -> {"mode", "times", "seconds"}
_reject_access = {"mode": "off", "cutoff": 0.0}


def _json(status, body):
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _fault_response(fault, request, get_response):
    mode = fault["mode"]
    if mode == "500":
        return HttpResponse("", status=500)
    if mode == "502-html":
        return HttpResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", status=502, content_type="text/html")
    if mode == "401":
        return _json(401, {"detail": "Token is blacklisted", "code": "token_not_valid"})
    if mode == "200-empty":
        return HttpResponse("", status=200, content_type="application/json")
    if mode == "200-not-json":
        return HttpResponse("<html><body>OK</body></html>", status=200, content_type="text/html")
    if mode == "200-missing-fields":
        return _json(200, {})
    if mode == "200-huge":
        return _json(200, {"padding": "x" * (3 * 1024 * 1024)})
    if mode == "hang":
        # Answer for real, but late: the client must not lose what the server did meanwhile.
        time.sleep(float(fault.get("seconds", 10)))
        return get_response(request)
    raise ValueError(f"unknown fault mode {mode!r}")


def _json_field(request, name):
    if request.content_type != "application/json":
        return ""
    try:
        value = json.loads(request.body or b"{}").get(name, "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _bearer_issued_at(request):
    header = request.headers.get("Authorization", "")
    try:
        payload = header.split(" ", 1)[1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["iat"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _spoil_signature(request):
    """Makes the bearer token look signed with another key, as after a key change."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if "." in header:
        head, signature = header.rsplit(".", 1)
        tail = "BB" if signature.endswith("AA") else "AA"
        request.META["HTTP_AUTHORIZATION"] = f"{head}.{signature[:-2]}{tail}"


def _access_rejected(request):
    if not request.path.startswith("/api/"):
        return False
    mode = _reject_access["mode"]
    if mode == "all":
        return True
    if mode == "issued-before-now":
        # `iat` has whole seconds: tokens from the cutoff's own second are let through,
        # so a token refreshed right after the switch is not rejected too.
        issued_at = _bearer_issued_at(request)
        return issued_at is not None and issued_at < int(_reject_access["cutoff"])
    return False


class TestHooksMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/__test__/"):
            return self.get_response(request)
        arrived = time.time()
        presented = _json_field(request, "refresh")
        with _lock:
            fault = _faults.get(request.path)
            if fault:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    del _faults[request.path]
            rejected = _access_rejected(request)
        if fault:
            response = _fault_response(fault, request, self.get_response)
        elif rejected:
            # simplejwt itself refuses the token, with the status and body this server's
            # DRF settings give (401, or 403 with SessionAuthentication listed first).
            _spoil_signature(request)
            response = self.get_response(request)
        else:
            response = self.get_response(request)
        key = f"{request.method} {request.path} {response.status_code}"
        with _lock:
            _counts[key] += 1
            # The tail of a presented refresh token tells which token a refresh used.
            _events.append([time.time(), key, arrived, presented[-8:]])
        return response


def counts(request):
    with _lock:
        return JsonResponse(dict(_counts))


def events(request):
    with _lock:
        return JsonResponse(list(_events), safe=False)


def _body(request):
    try:
        return json.loads(request.body or b"{}")
    except ValueError:
        return {}


@csrf_exempt
def reset(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    with _lock:
        _counts.clear()
        _events.clear()
        _faults.clear()
        _reject_access.update(mode="off", cutoff=0.0)
    return JsonResponse({})


@csrf_exempt
def fault(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    body = _body(request)
    with _lock:
        _faults[body["path"]] = {
            "mode": body["mode"],
            "times": int(body.get("times", 1)),
            "seconds": float(body.get("seconds", 10)),
        }
    return JsonResponse({})


@csrf_exempt
def reject_access(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    body = _body(request)
    with _lock:
        _reject_access.update(mode=body.get("mode", "off"), cutoff=time.time())
    return JsonResponse({})


def echo_auth(request):
    response = JsonResponse({"authorization": "Authorization" in request.headers})
    # Readable cross-origin, so browser tests can ask from another origin.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def spa(request, asset):
    root = Path(settings.SPA_DIST_DIR).resolve()
    candidate = (root / asset).resolve()
    if asset and candidate.is_file() and root in candidate.parents:
        content_type, _ = mimetypes.guess_type(str(candidate))
        return FileResponse(open(candidate, "rb"), content_type=content_type)
    if "." in asset.rsplit("/", 1)[-1]:
        raise Http404(asset)
    # Every other path is a client-side route: hand out the app shell.
    return FileResponse(open(root / "index.html", "rb"), content_type="text/html")


urlpatterns = [
    path("counts/", counts),
    path("events/", events),
    path("reset/", reset),
    path("fault/", fault),
    path("reject-access/", reject_access),
    path("echo-auth/", echo_auth),
]

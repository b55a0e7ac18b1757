"""Test-only hooks, loaded only when BACKEND_TEST_HOOKS=1.

Tests count what the *server* saw, not what the client believes: every request is
tallied per path and response status, readable at /__test__/counts/ and cleared with
POST /__test__/reset/.  The same switch lets the server hand out a built app so the
end-to-end tests need no second web server.
"""
import mimetypes
import threading
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

_lock = threading.Lock()
_counts = Counter()


class RequestCounterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/__test__/"):
            with _lock:
                _counts[f"{request.method} {request.path} {response.status_code}"] += 1
        return response


def counts(request):
    with _lock:
        return JsonResponse(dict(_counts))


@csrf_exempt
def reset(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    with _lock:
        _counts.clear()
    return JsonResponse({})


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
    path("reset/", csrf_exempt(reset)),
]

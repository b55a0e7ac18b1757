from django.conf import settings
from django.urls import include, path, re_path
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from demo import views

urlpatterns = [
    path("auth/token/", TokenObtainPairView.as_view()),
    path("auth/token/refresh/", TokenRefreshView.as_view()),
    path("auth/token/blacklist/", TokenBlacklistView.as_view()),
    path("auth/token/verify/", TokenVerifyView.as_view()),
    path("api/me/", views.me),
    path("api/items/", views.items),
    path("api/items/<int:item_id>/", views.item_detail),
]

if settings.TEST_HOOKS:
    from demo import testhooks

    urlpatterns += [path("__test__/", include(testhooks.urlpatterns))]
    if settings.SPA_DIST_DIR:
        urlpatterns += [re_path(r"^(?P<asset>.*)$", testhooks.spa)]

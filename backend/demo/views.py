"""The protected JSON API the app calls."""
from rest_framework.decorators import api_view
from rest_framework.response import Response

DEMO_ITEMS = ["Apples", "Bread", "Coffee", "Dates", "Eggs"]


@api_view(["GET"])
def me(request):
    return Response({"id": request.user.id, "username": request.user.get_username()})


@api_view(["GET"])
def items(request):
    return Response([{"id": i + 1, "name": name} for i, name in enumerate(DEMO_ITEMS)])

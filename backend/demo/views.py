"""The protected JSON API the app calls."""
from django.http import Http404
from rest_framework.decorators import api_view
from rest_framework.response import Response

# Enough items that loading each one's details fires a burst of 20+ calls at once.
DEMO_ITEMS = [
    "Apples", "Bread", "Coffee", "Dates", "Eggs", "Flour", "Grapes", "Honey", "Ice cream", "Jam",
    "Kale", "Lemons", "Milk", "Noodles", "Olives", "Pears", "Quinoa", "Rice", "Salt", "Tea",
    "Udon", "Vinegar", "Walnuts", "Yogurt",
]


def _item(index):
    return {"id": index + 1, "name": DEMO_ITEMS[index]}


@api_view(["GET"])
def me(request):
    return Response({"id": request.user.id, "username": request.user.get_username()})


@api_view(["GET"])
def items(request):
    return Response([_item(i) for i in range(len(DEMO_ITEMS))])


@api_view(["GET"])
def item_detail(request, item_id):
    if not 1 <= item_id <= len(DEMO_ITEMS):
        raise Http404
    return Response({**_item(item_id - 1), "in_stock": (item_id * 7) % 5})

"""Input for eval 22: a Django view that enqueues before its transaction commits."""

from django.db import transaction
from django.http import JsonResponse
from shop.models import Order
from shop.tasks import send_order_confirmation


@transaction.atomic
def place_order(request):
    order = Order.objects.create(customer_id=request.user.id, total_cents=4999)
    send_order_confirmation.delay(order.id)  # the worker may run before the row is visible
    return JsonResponse({"order": order.id})

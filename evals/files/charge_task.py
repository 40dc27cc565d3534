"""Input for eval 1: the billing task as the user has it (charges twice after a restart)."""

import requests
from celery import Celery

app = Celery("billing", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")


@app.task(bind=True, autoretry_for=(Exception,), max_retries=None)
def charge_order(self, order_id: int, amount_cents: int) -> str:
    response = requests.post(
        "https://payments.example.com/v1/charges",
        json={"order": order_id, "amount": amount_cents},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["id"]

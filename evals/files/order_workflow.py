"""Input for evals 5 and 7: an order workflow as the user wrote it."""

import random
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from shop_activities import charge_payment, reserve_stock, ship_order


@workflow.defn
class OrderWorkflow:
    @workflow.run
    async def run(self, order_id: str) -> str:
        placed_at = datetime.now()
        await workflow.execute_activity(reserve_stock, order_id)
        await workflow.execute_activity(charge_payment, order_id)
        if random.random() < 0.5:
            await workflow.execute_activity(ship_order, order_id)
        return f"{order_id} placed at {placed_at.isoformat()}"

"""Names defined once: task queue default, workflow id format, workflow type."""

TASK_QUEUE = "iot-billing"
SUBSCRIPTION_WORKFLOW = "SubscriptionWorkflow"


def subscription_workflow_id(contract_id: str) -> str:
    return f"subscription-{contract_id}"

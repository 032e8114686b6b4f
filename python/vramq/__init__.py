"""vramq's Python client (vramq.client) and webhook verification (vramq.webhooks); the warm
workers' helper is the module vramq_worker beside this package."""
from .client import Client, Job, VramqError
from .webhooks import WebhookError, sign_webhook, verify_webhook

__all__ = ["Client", "Job", "VramqError", "WebhookError", "sign_webhook", "verify_webhook"]

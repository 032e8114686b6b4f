"""Verifying a webhook from vramq on the receiving side (the Standard Webhooks scheme): the
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers, an HMAC-SHA256 over
"ID.TIMESTAMP.BODY" with the secret (whsec_ + base64 of the key), signatures as space-separated
"v1,BASE64" entries. Standard library only."""
import base64
import hashlib
import hmac
import json
import time

__all__ = ["WebhookError", "verify_webhook", "sign_webhook"]


class WebhookError(Exception):
    """The delivery is not authentic (or too old): refuse it."""


def _key(secret):
    if isinstance(secret, bytes):
        return secret
    text = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as e:
        raise WebhookError("the secret is not whsec_ followed by base64") from e


def sign_webhook(secret, webhook_id, timestamp, body):
    """The signature header's value for a delivery (what vramq sends): "v1,BASE64"."""
    if isinstance(body, str):
        body = body.encode()
    signed = f"{webhook_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(secret, headers, body, tolerance_s=300, now=None):
    """Checks a delivery and returns its payload (parsed JSON). `headers`: a mapping (any case
    of the names); `body`: the raw bytes as received, before any parsing. Raises WebhookError for
    a missing header, a timestamp more than `tolerance_s` from now (a replay) or no matching
    signature."""
    lower = {k.lower(): v for k, v in dict(headers).items()}
    try:
        webhook_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
        signatures = lower["webhook-signature"]
    except (KeyError, ValueError) as e:
        raise WebhookError(f"missing or malformed webhook header: {e}") from e
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise WebhookError(f"the timestamp is {int(now - timestamp)} s from now")
    if isinstance(body, str):
        body = body.encode()
    expected = sign_webhook(secret, webhook_id, timestamp, body).split(",", 1)[1]
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body) if body else None
    raise WebhookError("no signature matches")

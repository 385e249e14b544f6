"""Sample provider deliveries for scripts/make-events (the committed events/)
and scripts/trigger (fresh deliveries to a running server): Stripe objects and
events in the API's 2025-03-31.basil shape, sandbox events, and the two
signature schemes (Stripe's `t=,v1=` and Standard Webhooks').
"""
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

DAY = 86400


@dataclass(frozen=True)
class Ids:
    """The provider-side ids of one tenant's subscription."""
    tenant: str
    customer: str
    subscription: str
    price: str = "price_pro_monthly"
    plan: str = "pro"
    amount: int = 1900

    @property
    def metadata(self):
        return {"tenant_id": self.tenant, "plan": self.plan}


# ---------- Stripe ----------

def stripe_subscription(ids, status, period_start, created, **extra):
    sub = {
        "id": ids.subscription, "object": "subscription", "customer": ids.customer, "status": status,
        "cancel_at_period_end": False, "cancel_at": None, "canceled_at": None, "trial_end": None,
        "created": created, "start_date": created, "livemode": False, "metadata": ids.metadata,
        "items": {"object": "list", "data": [{
            "id": "si_" + ids.subscription.removeprefix("sub_1"), "object": "subscription_item", "quantity": 1,
            "current_period_start": period_start, "current_period_end": period_start + 31 * DAY,
            "price": {"id": ids.price, "object": "price", "currency": "usd", "unit_amount": ids.amount,
                      "recurring": {"interval": "month", "interval_count": 1}},
        }]},
    }
    sub.update(extra)
    return sub


def stripe_invoice(ids, invoice_id, status, created, paid, attempts):
    return {
        "id": invoice_id, "object": "invoice", "customer": ids.customer, "status": status,
        "amount_due": ids.amount, "amount_paid": ids.amount if paid else 0,
        "amount_remaining": 0 if paid else ids.amount,
        "currency": "usd", "attempt_count": attempts, "created": created, "livemode": False,
        "period_start": created, "period_end": created + 31 * DAY,
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"subscription": ids.subscription, "metadata": ids.metadata}},
    }


def stripe_checkout_session(ids, session_id):
    return {
        "id": session_id, "object": "checkout.session", "mode": "subscription",
        "status": "complete", "payment_status": "paid", "client_reference_id": ids.tenant,
        "customer": ids.customer, "subscription": ids.subscription, "metadata": ids.metadata,
        "amount_total": ids.amount, "currency": "usd", "livemode": False,
        "success_url": "https://app.example.com/billing/success", "cancel_url": "https://app.example.com/billing",
    }


def stripe_event(event_id, kind, created, obj, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id, "object": "event", "api_version": "2025-03-31.basil", "created": created,
            "data": data, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind}


def stripe_signature(secret, body, timestamp):
    """The `Stripe-Signature` header for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# ---------- Sandbox (Standard Webhooks) ----------

def standard_webhooks_signature(secret, message_id, timestamp, body):
    """The `webhook-signature` header: `v1,` + base64 HMAC-SHA256 of
    `{id}.{timestamp}.{body}` keyed with the base64 part of `whsec_...`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_webhooks_headers(secret, message_id, timestamp, body):
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhooks_signature(secret, message_id, timestamp, body),
    }


# ---------- Razorpay, Cashfree, Paddle (HMAC) and PayPal ----------

def razorpay_headers(secret, event_id, body):
    """`X-Razorpay-Signature`: hex HMAC-SHA256 of the body; the event id
    header is the dedupe key (it is not signed)."""
    return {"x-razorpay-signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "x-razorpay-event-id": event_id}


def cashfree_headers(client_secret, timestamp_ms, body):
    """`x-webhook-signature`: base64 HMAC-SHA256 of the timestamp text + body."""
    digest = hmac.new(client_secret.encode(), str(timestamp_ms).encode() + body, hashlib.sha256).digest()
    return {"x-webhook-timestamp": str(timestamp_ms), "x-webhook-signature": base64.b64encode(digest).decode(),
            "x-webhook-version": "2025-01-01"}


def paddle_headers(secret, timestamp, body):
    """`Paddle-Signature: ts=…;h1=…`: hex HMAC-SHA256 of `{ts}:{body}`."""
    digest = hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"paddle-signature": f"ts={timestamp};h1={digest}"}


def paypal_headers(transmission_id, transmission_time):
    """PayPal's transmission headers. PayPal itself verifies them (we post
    them back), so a sample's signature is a placeholder of the right shape."""
    return {"paypal-transmission-id": transmission_id, "paypal-transmission-time": transmission_time,
            "paypal-transmission-sig": base64.b64encode(b"sample signature, verified by PayPal").decode(),
            "paypal-cert-url": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-5edc0ebc",
            "paypal-auth-algo": "SHA256withRSA"}


def dumps(payload):
    return json.dumps(payload, indent=2).encode()

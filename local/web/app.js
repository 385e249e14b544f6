// The local billing page's core: signs in through the development token
// endpoint, lists plans, shows the tenant's status, starts checkout and the
// portal, and on the return pages waits for the webhook-driven status. Plan
// and seat changes, cancel and resume, and payment methods are in
// self-service.js, which uses the helpers here.
"use strict";

const TOKEN_KEY = "billing.token";
const TENANT_KEY = "billing.tenant";
const ROLE_KEY = "billing.role";
const LIVE_STATUSES = ["active", "trialing", "past_due", "unpaid", "paused"];
const CHANGEABLE_STATUSES = ["active", "trialing"];
// When the last checkout started: a status older than that is not its outcome.
const CHECKOUT_STARTED_KEY = "billing.checkoutStartedAt";
const SUCCESS_STATUSES = ["active", "trialing"];
const RENEWING_STATUSES = ["active", "trialing", "past_due"];
const FAILED_STATUSES = ["incomplete_expired", "past_due", "unpaid", "canceled"];
// A paid checkout's webhooks may arrive in any order and pass through
// `incomplete` on the way to `active`; a declined one stays `incomplete`. So
// `incomplete` counts as failed only once it has not changed for this long.
const INCOMPLETE_SETTLE_MS = 5000;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function say(text) {
  $("message").textContent = text || "";
}

// Calls the billing API. A mutating call passes `idempotencyKey`: a retry of
// the same action (a timeout, a double click) then never acts twice.
async function api(method, path, body, idempotencyKey) {
  const headers = { "content-type": "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = "Bearer " + token;
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await response.json(); } catch (_) { /* empty body */ }
  if (!response.ok) {
    const message = (json && json.error && json.error.message) || (json && json.message) || response.statusText;
    const error = new Error(message);
    error.status = response.status;
    error.code = json && json.error && json.error.code;
    throw error;
  }
  return json;
}

// A key for one user action, kept across its retries.
function newKey() {
  return crypto.randomUUID();
}

// Owners and admins may change billing; a viewer (or an unknown role) only reads.
function canManage() {
  return ["owner", "admin"].includes(localStorage.getItem(ROLE_KEY));
}

// An RFC 3339 time as a person reads it: "1 February 2026".
function formatDate(iso) {
  if (!iso) return "-";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeZone: "UTC" }).format(date);
}

// Minor units (the API's `amountMinor`) to a display string without floating point.
function formatPrice(price) {
  const minor = Math.abs(price.amountMinor);
  const major = Math.floor(minor / 100);
  const cents = String(minor % 100).padStart(2, "0");
  const sign = price.amountMinor < 0 ? "-" : "";
  return `${sign}${price.currency.toUpperCase()} ${major}.${cents}`;
}

async function signIn(event) {
  event.preventDefault();
  say("");
  try {
    const tenant = $("tenant").value.trim();
    const { token } = await api("POST", "/dev/token", { tenant, role: $("role").value });
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(TENANT_KEY, tenant);
    localStorage.setItem(ROLE_KEY, $("role").value);
    await refresh();
  } catch (e) {
    say("Sign-in failed: " + e.message);
  }
}

// The catalog as the last plan list gave it, by code.
let PLANS = new Map();

// Each paid plan's card offers, to those who may manage billing: a checkout
// without a live subscription; "Change to …" (a preview first) for a
// subscriber; nothing on the current plan.
async function loadPlans(status) {
  const { plans } = await api("GET", "/billing/plans");
  PLANS = new Map(plans.map((plan) => [plan.code, plan]));
  const list = $("plan-list");
  list.replaceChildren();
  const live = Boolean(status && LIVE_STATUSES.includes(status.status));
  const changeable = Boolean(status && CHANGEABLE_STATUSES.includes(status.status));
  for (const plan of plans) {
    const card = document.createElement("div");
    card.className = "plan";
    card.dataset.testid = "plan-" + plan.code;
    const name = document.createElement("h3");
    name.textContent = plan.displayName;
    const price = document.createElement("p");
    price.className = "price";
    price.textContent = plan.price.amountMinor === 0 ? "Free" : `${formatPrice(plan.price)} / ${plan.interval}`;
    card.append(name, price);
    if (plan.price.amountMinor > 0 && canManage()) {
      const button = document.createElement("button");
      if (!live || status.plan === plan.code) {
        button.textContent = live ? "Current plan" : "Choose " + plan.displayName;
        button.dataset.testid = "checkout-" + plan.code;
        button.disabled = live;
        button.addEventListener("click", () => checkout(plan.code));
      } else {
        button.textContent = "Change to " + plan.displayName;
        button.dataset.testid = "change-" + plan.code;
        button.disabled = !changeable || Boolean(status.pendingChange);
        button.addEventListener("click", () => openChange(plan, Math.max(status.seats, plan.minSeats)));
      }
      card.append(button);
    }
    list.append(card);
  }
  $("plans").hidden = false;
  // The seat bounds and plan names come with the plans.
  if (STATUS) showSelfService(STATUS);
}

// Only a live subscription renews: an incomplete one never started and a
// canceled one has ended.
function periodText(status) {
  if (status.status === "canceled") return status.canceledAt ? `ended ${formatDate(status.canceledAt)}` : "ended";
  if (status.cancelAtPeriodEnd) return `ends ${formatDate(status.cancelAt || status.currentPeriodEnd)}`;
  if (RENEWING_STATUSES.includes(status.status) && status.currentPeriodEnd) return `renews ${formatDate(status.currentPeriodEnd)}`;
  return "-";
}

// The last status shown: self-service.js acts on it.
let STATUS = null;

function showStatus(status) {
  STATUS = status;
  $("status-plan").textContent = status.plan;
  $("status-value").textContent = status.status;
  $("access-value").textContent = status.access;
  $("status-period").textContent = periodText(status);
  $("status-seats").textContent = status.status === "none" ? "-" : String(status.seats);
  $("portal").hidden = status.status === "none" || !canManage();
  showSelfService(status);
  $("status").hidden = false;
}

async function checkout(plan) {
  say("");
  try {
    const origin = window.location.origin;
    const session = await api("POST", "/billing/session", {
      plan,
      successUrl: origin + "/checkout/return",
      cancelUrl: origin + "/checkout/cancelled",
    }, newKey());
    localStorage.setItem(CHECKOUT_STARTED_KEY, new Date().toISOString());
    window.location.assign(session.sessionUrl);
  } catch (e) {
    say(e.code === "subscription_exists" ? "You already have a subscription: change its plan instead." : "Checkout failed: " + e.message);
  }
}

async function openPortal() {
  say("");
  try {
    const { url } = await api("POST", "/billing/portal", { returnUrl: window.location.origin + "/" }, newKey());
    window.location.assign(url);
  } catch (e) {
    say("Could not open the portal: " + e.message);
  }
}

function setOutcome(result, title, detail, recover) {
  const el = $("checkout-result");
  el.textContent = result;
  el.className = result;
  $("outcome-title").textContent = title;
  $("outcome-detail").textContent = detail;
  $("recovery").hidden = !recover;
  $("outcome").hidden = false;
}

// The outcome is whatever the backend says once a webhook newer than the
// checkout has been processed; until then it is pending.
async function awaitCheckoutOutcome() {
  const started = localStorage.getItem(CHECKOUT_STARTED_KEY) || "1970-01-01T00:00:00Z";
  setOutcome("pending", "Confirming your payment", "Waiting for the payment provider to confirm…", false);
  const failed = (status) => setOutcome("failed", "Payment failed", `The subscription is ${status.status}. Try another payment, or contact support.`, true);
  let incomplete = null; // { updatedAt, since } of the `incomplete` status being watched
  let settledIncomplete = false;
  for (let attempt = 0; attempt < 120; attempt++) {
    try {
      const status = await api("GET", "/billing/status");
      showStatus(status);
      // Provider times have whole seconds: allow the checkout's own second.
      const fresh = status.updatedAt && Date.parse(status.updatedAt) >= Date.parse(started) - 1000;
      if (fresh && SUCCESS_STATUSES.includes(status.status)) {
        setOutcome("active", "You're subscribed", `Plan ${status.plan} is active.`, false);
        await loadPlans(status);
        return;
      }
      if (fresh && FAILED_STATUSES.includes(status.status)) {
        failed(status);
        await loadPlans(status);
        return;
      }
      if (fresh && status.status === "incomplete") {
        if (!incomplete || incomplete.updatedAt !== status.updatedAt) {
          incomplete = { updatedAt: status.updatedAt, since: performance.now() };
        } else if (!settledIncomplete && performance.now() - incomplete.since >= INCOMPLETE_SETTLE_MS) {
          // Still watched afterwards: a late confirmation turns it active.
          settledIncomplete = true;
          failed(status);
        }
      }
    } catch (e) {
      say("Could not read the billing status: " + e.message);
    }
    await sleep(attempt < 30 ? 1000 : 5000);
  }
  if (!settledIncomplete) {
    setOutcome("pending", "Still confirming", "The provider has not confirmed yet; this can take a few minutes. Refresh later, or contact support.", true);
  }
}

async function refresh() {
  const token = localStorage.getItem(TOKEN_KEY);
  const tenant = localStorage.getItem(TENANT_KEY);
  $("signed-in").hidden = !token;
  $("signed-in").textContent = token ? `Signed in as tenant ${tenant}.` : "";
  if (!token) {
    await loadPlans(null);
    return;
  }
  let status = null;
  try {
    status = await api("GET", "/billing/status");
    showStatus(status);
  } catch (e) {
    if (e.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      say("Your session expired; sign in again.");
    } else {
      say("Could not read the billing status: " + e.message);
    }
  }
  await loadPlans(status);
  if (status) await Promise.all([loadPaymentMethods(status), loadLedger()]);
}

async function main() {
  $("signin-form").addEventListener("submit", signIn);
  $("portal").addEventListener("click", openPortal);
  wireSelfService();
  wireLedger();
  const tenant = localStorage.getItem(TENANT_KEY);
  if (tenant) $("tenant").value = tenant;
  await refresh();
  if (window.location.pathname === "/checkout/return" && localStorage.getItem(TOKEN_KEY)) {
    await awaitCheckoutOutcome();
  } else if (window.location.pathname === "/checkout/cancelled") {
    setOutcome("cancelled", "Checkout cancelled", "No payment was taken.", true);
  }
}

// Once self-service.js and ledger.js, loaded after this file, have run too.
document.addEventListener("DOMContentLoaded", () => main().catch((e) => say(e.message)));

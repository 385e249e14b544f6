// The billing page's self-service: a plan or seat change (preview dialog
// with the amount due now, the proration lines and the next invoice, now or
// at period end, then confirm), cancel at period end and resume, and the
// payment methods (add through the provider's page, make default, remove).
// Uses api, newKey, canManage, formatDate, formatPrice, say, $ and the
// STATUS and PLANS of app.js. Every action sends one Idempotency-Key for all
// its tries, and its button is disabled while it runs, so a double click or
// a retry acts once. The subscription's state still comes from webhooks: the
// page polls the status after an action.
"use strict";

// The change the open dialog is about, and the preview it shows.
let CHANGE = null;

// Shows what the status allows, to those who may manage billing.
function showSelfService(status) {
  const manage = canManage();
  const changeable = CHANGEABLE_STATUSES.includes(status.status);
  const live = LIVE_STATUSES.includes(status.status);
  const plan = PLANS.get(status.plan);
  $("seat-buttons").hidden = !(manage && changeable && plan);
  if (plan) {
    $("seats-minus").disabled = Boolean(status.pendingChange) || status.seats <= plan.minSeats;
    $("seats-plus").disabled = Boolean(status.pendingChange) || (plan.maxSeats !== null && status.seats >= plan.maxSeats);
  }
  $("cancel-subscription").hidden = !(manage && live && !status.cancelAtPeriodEnd);
  $("resume-subscription").hidden = !(manage && live && status.cancelAtPeriodEnd);
  const pending = $("pending-change");
  if (status.pendingChange) {
    const change = status.pendingChange;
    const name = PLANS.get(change.plan)?.displayName ?? change.plan;
    const seats = change.seats === 1 ? "1 seat" : `${change.seats} seats`;
    pending.textContent = `Changing to ${name} (${seats}) on ${formatDate(change.effectiveAt)}.`;
    pending.hidden = false;
  } else {
    pending.hidden = true;
  }
}

// Polls the status until `done(status)` holds (a webhook has landed).
async function pollStatus(done, attempts = 40) {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const status = await api("GET", "/billing/status");
    showStatus(status);
    if (done(status)) {
      await loadPlans(status);
      return status;
    }
    await sleep(500);
  }
  say("The provider has not confirmed yet; refresh in a moment.");
  return null;
}

// ---------- Plan and seat changes ----------

function timing() {
  return document.querySelector("input[name=timing]:checked").value;
}

function openChange(plan, seats) {
  say("");
  CHANGE = { plan, seats, key: newKey(), preview: null };
  $("change-title").textContent = plan.code === STATUS.plan
    ? `Change to ${seats} seats on ${plan.displayName}`
    : `Change to ${plan.displayName}`;
  document.querySelector("input[name=timing][value=now]").checked = true;
  $("change-dialog").showModal();
  loadPreview();
}

async function loadPreview() {
  const change = CHANGE;
  $("confirm-change").disabled = true;
  $("preview-error").textContent = "";
  $("preview-amount-now").textContent = "…";
  $("preview-lines").replaceChildren();
  $("preview-next").textContent = "…";
  try {
    const preview = await api("POST", "/billing/subscription/preview", {
      plan: change.plan.code, seats: change.seats, timing: timing(),
    });
    if (change !== CHANGE) return; // the dialog moved on meanwhile
    change.preview = preview;
    change.key = newKey(); // a new preview is a new action
    const money = (amountMinor) => formatPrice({ amountMinor, currency: preview.currency });
    $("preview-amount-now").textContent = money(preview.amountDueNowMinor);
    for (const line of preview.lines) {
      const item = document.createElement("li");
      item.textContent = `${line.description}: ${money(line.amountMinor)}`;
      $("preview-lines").append(item);
    }
    $("preview-next").textContent = `${money(preview.nextInvoice.amountMinor)} on ${formatDate(preview.nextInvoice.date)}`;
    $("confirm-change").disabled = false;
  } catch (e) {
    if (change !== CHANGE) return;
    if (e.code === "not_supported_by_provider" && /previewing/.test(e.message)) {
      // PayPal, Razorpay, Cashfree: no preview, but the change itself is allowed.
      change.preview = { prorationDate: null };
      change.key = newKey();
      $("preview-amount-now").textContent = "not previewed by this provider";
      $("preview-next").textContent = "as the provider bills it";
      $("confirm-change").disabled = false;
      return;
    }
    $("preview-error").textContent = e.message;
  }
}

async function confirmChange() {
  const change = CHANGE;
  if (!change || !change.preview) return;
  $("confirm-change").disabled = true; // a second click sends nothing
  const body = { plan: change.plan.code, seats: change.seats, timing: timing() };
  if (body.timing === "now" && change.preview.prorationDate) body.prorationDate = change.preview.prorationDate;
  try {
    const { pendingChange, approvalUrl } = await api("POST", "/billing/subscription/change", body, change.key);
    $("change-dialog").close();
    CHANGE = null;
    if (approvalUrl) {
      // PayPal: the subscriber approves the new plan on PayPal's page.
      window.location.assign(approvalUrl);
      return;
    }
    if (body.timing === "now") {
      say("");
      await pollStatus((s) => s.plan === pendingChange.plan && s.seats === pendingChange.seats && !s.pendingChange);
    } else {
      await pollStatus((s) => Boolean(s.pendingChange), 1);
    }
  } catch (e) {
    $("preview-error").textContent = e.message;
    $("confirm-change").disabled = false;
  }
}

function changeSeats(delta) {
  const plan = PLANS.get(STATUS.plan);
  if (plan) openChange(plan, STATUS.seats + delta);
}

// ---------- Cancel and resume ----------

async function cancelOrResume(button, path, done) {
  say("");
  button.disabled = true;
  try {
    await api("POST", path, path.endsWith("/cancel") ? { atPeriodEnd: true } : undefined, newKey());
    await pollStatus(done);
  } catch (e) {
    say(e.message);
  } finally {
    button.disabled = false;
  }
}

// ---------- Payment methods ----------

function cardText(method) {
  const brand = method.brand ? method.brand[0].toUpperCase() + method.brand.slice(1) : method.type;
  const expiry = method.expMonth && method.expYear ? `, expires ${String(method.expMonth).padStart(2, "0")}/${method.expYear}` : "";
  return `${brand} •••• ${method.last4 ?? "????"}${expiry}`;
}

async function loadPaymentMethods(status) {
  if (!status || status.status === "none") {
    $("payment-methods").hidden = true;
    return;
  }
  let methods;
  try {
    ({ paymentMethods: methods } = await api("GET", "/billing/payment-methods"));
  } catch (e) {
    if (e.code === "not_supported_by_provider") {
      $("payment-methods").hidden = true;
      return;
    }
    throw e;
  }
  const list = $("method-list");
  list.replaceChildren();
  for (const method of methods) {
    const item = document.createElement("li");
    item.dataset.testid = "payment-method";
    item.dataset.id = method.id;
    const text = document.createElement("span");
    text.textContent = cardText(method);
    text.dataset.testid = "payment-method-text";
    item.append(text);
    if (method.isDefault) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "Default";
      badge.dataset.testid = "default-badge";
      item.append(badge);
    } else if (canManage()) {
      item.append(methodButton("Make default", "make-default", "POST", `/billing/payment-methods/${encodeURIComponent(method.id)}/default`));
    }
    if (canManage()) {
      item.append(methodButton("Remove", "remove-card", "DELETE", `/billing/payment-methods/${encodeURIComponent(method.id)}`));
    }
    list.append(item);
  }
  $("no-methods").hidden = methods.length > 0;
  $("add-card").hidden = !canManage();
  $("payment-methods").hidden = false;
}

function methodButton(label, testId, method, path) {
  const button = document.createElement("button");
  button.textContent = label;
  button.className = "secondary";
  button.dataset.testid = testId;
  button.addEventListener("click", async () => {
    say("");
    button.disabled = true;
    try {
      await api(method, path, undefined, newKey());
    } catch (e) {
      say(e.code === "last_payment_method" ? "Add another card before removing the only one." : e.message);
    }
    await loadPaymentMethods(STATUS);
  });
  return button;
}

async function addCard() {
  say("");
  $("add-card").disabled = true;
  try {
    const { url } = await api("POST", "/billing/payment-methods/setup", { returnUrl: window.location.origin + "/" }, newKey());
    window.location.assign(url);
  } catch (e) {
    say("Could not open the card page: " + e.message);
    $("add-card").disabled = false;
  }
}

function wireSelfService() {
  $("confirm-change").addEventListener("click", confirmChange);
  $("close-change").addEventListener("click", () => { CHANGE = null; $("change-dialog").close(); });
  for (const radio of document.querySelectorAll("input[name=timing]")) radio.addEventListener("change", loadPreview);
  $("seats-minus").addEventListener("click", () => changeSeats(-1));
  $("seats-plus").addEventListener("click", () => changeSeats(1));
  $("cancel-subscription").addEventListener("click", (e) =>
    cancelOrResume(e.currentTarget, "/billing/subscription/cancel", (s) => s.cancelAtPeriodEnd));
  $("resume-subscription").addEventListener("click", (e) =>
    cancelOrResume(e.currentTarget, "/billing/subscription/resume", (s) => !s.cancelAtPeriodEnd));
  $("add-card").addEventListener("click", addCard);
}

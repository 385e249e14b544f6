// Real-browser test of the billing page's self-service on the sandbox
// provider: an upgrade now with the charge shown in the preview, a
// downgrade at period end shown as the pending change, cancel then resume,
// adding a card on the sandbox's page and making it the default, a viewer
// who sees everything but the buttons, and a double click on confirm that
// changes the plan once. Run with `scripts/browser-test <base-url>`.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import {
  BASE_URL, OUTCOME_TIMEOUT_MS, SCENARIO_TIMEOUT_MS, STEP_TIMEOUT_MS, assertHidden, assertVisible, checkServer,
  onPath, reloadUntil, scenario, signIn, subscribe, waitForText,
} from "./helpers.mjs";

before(checkServer);

// From the billing page: open the change dialog for `plan` and wait for its preview.
async function openPreview(page, plan) {
  await page.getByTestId(`change-${plan}`).click();
  await page.getByTestId("change-dialog").waitFor({ state: "visible" });
  await waitForText(page, "preview-amount-now", /^[A-Z]{3} -?\d+\.\d{2}$/, STEP_TIMEOUT_MS);
}

// Every POST /billing/subscription/change the page sends (its key and
// body) and every answer it receives.
function recordChanges(page) {
  const sent = [];
  const answers = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/billing/subscription/change") {
      sent.push({ key: request.headers()["idempotency-key"], body: request.postData() });
    }
  });
  page.on("response", (response) => {
    if (new URL(response.url()).pathname === "/billing/subscription/change") {
      answers.push({ status: response.status(), replayed: response.headers()["idempotent-replayed"] === "true" });
    }
  });
  return { sent, answers };
}

test("upgrade now: the preview shows the charge and the proration lines, and confirming moves to the plan", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "upgrade-now", async ({ page, tenant, shot }) => {
    await subscribe(page, tenant, "pro");
    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-plan", "pro", STEP_TIMEOUT_MS);
    await openPreview(page, "team");
    const due = (await page.getByTestId("preview-amount-now").textContent()).trim();
    assert.notEqual(due, "USD 0.00", "an upgrade charges now");
    const lines = await page.getByTestId("preview-lines").locator("li").allTextContents();
    assert.equal(lines.length, 2, `a credit and a charge: ${lines.join(" | ")}`);
    assert.match(lines[0], /^Unused time on pro × 1: -USD \d+\.\d{2}$/);
    // Dates as a person reads them, not ISO.
    assert.match(await page.getByTestId("preview-next").textContent(), /^USD \d+\.\d{2} on \d{1,2} [A-Z][a-z]+ \d{4}$/);
    await shot("preview");
    await page.getByTestId("confirm-change").click();
    await waitForText(page, "status-plan", "team", OUTCOME_TIMEOUT_MS);
    await assertHidden(page, "pending-change");
    assert.ok(await page.getByTestId("checkout-team").isDisabled(), "team is the current plan");
  }));

test("downgrade at period end: the plan stays and the pending change is shown with its date", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "downgrade-period-end", async ({ page, tenant }) => {
    await subscribe(page, tenant, "team");
    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-plan", "team", STEP_TIMEOUT_MS);
    const period = (await page.getByTestId("status-period").textContent()).trim();
    assert.match(period, /^renews \d{1,2} [A-Z][a-z]+ \d{4}$/);
    await openPreview(page, "pro");
    await page.getByTestId("timing-period-end").check();
    await waitForText(page, "preview-amount-now", "USD 0.00", STEP_TIMEOUT_MS);
    assert.equal(await page.getByTestId("preview-lines").locator("li").count(), 0, "no proration at period end");
    await page.getByTestId("confirm-change").click();
    await waitForText(page, "pending-change", `Changing to Pro (1 seat) on ${period.replace(/^renews /, "")}.`, OUTCOME_TIMEOUT_MS);
    await waitForText(page, "status-plan", "team", STEP_TIMEOUT_MS);
    assert.ok(await page.getByTestId("change-pro").isDisabled(), "one change at a time");
    // Still pending after a reload: it comes from the API, not the page.
    await page.goto(BASE_URL + "/");
    await waitForText(page, "pending-change", /^Changing to Pro/, STEP_TIMEOUT_MS);
  }));

test("cancel at period end, then resume, from the billing page", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "cancel-resume", async ({ page, tenant }) => {
    await subscribe(page, tenant, "pro");
    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-period", /^renews /, STEP_TIMEOUT_MS);
    await page.getByTestId("cancel-subscription").click();
    await waitForText(page, "status-period", /^ends \d{1,2} [A-Z][a-z]+ \d{4}$/, OUTCOME_TIMEOUT_MS);
    await assertHidden(page, "cancel-subscription");
    await page.getByTestId("resume-subscription").click();
    await waitForText(page, "status-period", /^renews /, OUTCOME_TIMEOUT_MS);
    await assertVisible(page, "cancel-subscription");
    await waitForText(page, "status-value", "active", STEP_TIMEOUT_MS);
  }));

test("payment methods: the checkout's card is the default, a card added on the sandbox page can become the default", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "cards", async ({ page, tenant, shot }) => {
    await subscribe(page, tenant, "pro");
    await page.goto(BASE_URL + "/");
    const methods = page.getByTestId("payment-method");
    await methods.first().waitFor({ state: "visible" });
    assert.equal(await methods.count(), 1);
    assert.match(await methods.first().textContent(), /^Visa •••• 4242, expires 12\/2034Default/);

    await page.getByTestId("add-card").click();
    await page.waitForURL(/\/sandbox\/setup\/[^/]+$/);
    await page.getByTestId("card-mastercard").check();
    await page.getByTestId("save-card").click();
    await page.waitForURL(onPath("/"));
    await reloadUntil(page, "method-list", /Mastercard •••• 4444/);
    const mastercard = methods.filter({ hasText: "Mastercard" });
    await mastercard.getByTestId("make-default").click();
    await mastercard.getByTestId("default-badge").waitFor({ state: "visible" });
    assert.equal(await methods.filter({ hasText: "Visa" }).getByTestId("default-badge").count(), 0);
    await shot("two-cards");
    // The old card can go now; the last one cannot.
    await methods.filter({ hasText: "Visa" }).getByTestId("remove-card").click();
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=payment-method]").length === 1);
    await methods.first().getByTestId("remove-card").click();
    await waitForText(page, "message", "Add another card before removing the only one.", STEP_TIMEOUT_MS);
    assert.equal(await methods.count(), 1);
  }));

test("a viewer sees the subscription, plans and cards but none of the buttons", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "viewer", async ({ page, tenant }) => {
    await subscribe(page, tenant, "pro");
    await signIn(page, tenant, { role: "viewer", status: "active" });
    await waitForText(page, "status-plan", "pro", STEP_TIMEOUT_MS);
    await page.getByTestId("payment-method").first().waitFor({ state: "visible" });
    await page.getByTestId("plan-team").waitFor({ state: "visible" });
    const buttons = await page.locator("main, body").locator("button:visible").evaluateAll((all) =>
      all.map((b) => b.dataset.testid || b.textContent.trim()).filter((id) => id !== "sign-in"));
    assert.deepEqual(buttons, [], "no action buttons for a viewer");
    for (const id of ["manage-subscription", "cancel-subscription", "seats-plus", "add-card"]) {
      await assertHidden(page, id);
    }
  }));

test("a double click on confirm changes the plan once", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "double-click", async ({ page, tenant }) => {
    await subscribe(page, tenant, "pro");
    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-plan", "pro", STEP_TIMEOUT_MS);
    const { sent, answers } = recordChanges(page);
    await openPreview(page, "team");
    await page.getByTestId("confirm-change").dblclick();
    await waitForText(page, "status-plan", "team", OUTCOME_TIMEOUT_MS);
    const applied = answers.filter((a) => a.status === 202 && !a.replayed);
    assert.equal(applied.length, 1, `one change made: ${JSON.stringify(answers)}`);
    assert.ok(sent[0].key, "the page sends an Idempotency-Key");

    // The same request sent again under its key (a retry after a timeout)
    // gets the first answer and changes nothing more.
    const token = await page.evaluate(() => localStorage.getItem("billing.token"));
    const retry = await page.request.post(BASE_URL + "/billing/subscription/change", {
      headers: { authorization: "Bearer " + token, "content-type": "application/json", "idempotency-key": sent[0].key },
      data: sent[0].body,
    });
    assert.equal(retry.status(), 202);
    assert.equal(retry.headers()["idempotent-replayed"], "true");
    const status = await (await page.request.get(BASE_URL + "/billing/status", {
      headers: { authorization: "Bearer " + token },
    })).json();
    assert.equal(status.plan, "team");
    assert.equal(status.pendingChange, null);
  }));

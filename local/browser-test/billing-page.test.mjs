// Real-browser test of the local billing page (local/web) against a running
// billing-local server: sign-in, the plan list, checkout through the sandbox
// provider's hosted page (pay, decline then retry, cancel, failed renewal) and
// the sandbox portal (cancel at period end, resume), in Debian's headless
// Chromium driven by playwright-core. BILLING_URL names the server; each
// scenario's final page (and a few steps) is saved as a screenshot under
// target/browser-test/. Run it with `scripts/browser-test <base-url>`.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import {
  BASE_URL, SCENARIO_TIMEOUT_MS, STEP_TIMEOUT_MS, assertHidden, assertVisible, checkServer, checkoutResults,
  expectOutcome, finishCheckout, onPath, reloadUntil, responsesFor, scenario, signIn, startCheckout, subscribe,
  waitForText,
} from "./helpers.mjs";

before(checkServer);

test("pay: plans come from the API, Pro checkout returns pending then active, and the query string never decides the result", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "pay", async ({ page, tenant, shot }) => {
    await signIn(page, tenant);

    // Every active plan of the API is listed, with its price from minor units.
    const { plans } = await (await fetch(BASE_URL + "/billing/plans")).json();
    const listed = await page.locator("#plan-list [data-testid^='plan-']").evaluateAll((cards) => cards.map((c) => c.dataset.testid));
    assert.deepEqual(listed, plans.map((p) => `plan-${p.code}`));
    const pro = plans.find((p) => p.code === "pro");
    assert.ok(pro, "the catalog sells a pro plan");
    const major = Math.floor(pro.price.amountMinor / 100);
    const minor = String(pro.price.amountMinor % 100).padStart(2, "0");
    const proPrice = `${pro.price.currency.toUpperCase()} ${major}.${minor}`;
    assert.equal(await page.getByTestId("plan-pro").locator(".price").textContent(), `${proPrice} / ${pro.interval}`);
    for (const plan of plans.filter((p) => p.price.amountMinor > 0)) {
      assert.ok(await page.getByTestId(`checkout-${plan.code}`).isEnabled(), `checkout-${plan.code} is offered`);
    }
    assert.equal(await page.getByTestId("checkout-free").count(), 0, "the free plan needs no checkout");

    // A forged success redirect for a tenant with nothing is not a success.
    const polled = responsesFor(page, "/billing/status", 3);
    await page.goto(BASE_URL + "/checkout/return?status=active&redirect_status=succeeded&session_id=cs_forged");
    await polled;
    assert.equal((await page.getByTestId("checkout-result").textContent()).trim(), "pending");
    assert.ok(!(await checkoutResults(page)).includes("active"), "a query string never makes the result active");
    await shot("forged-return");

    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-value", "none", STEP_TIMEOUT_MS);
    await startCheckout(page, "pro");
    assert.equal(await page.getByTestId("plan-name").textContent(), pro.displayName);
    assert.equal(await page.getByTestId("price").textContent(), `${proPrice} / ${pro.interval}`);
    await shot("sandbox-checkout");
    await finishCheckout(page, "pay");
    await expectOutcome(page, "active");
    await assertHidden(page, "retry-checkout"); // no recovery links after a success

    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-value", "active", STEP_TIMEOUT_MS);
    await waitForText(page, "access-value", "full", STEP_TIMEOUT_MS);
    await waitForText(page, "status-plan", "pro", STEP_TIMEOUT_MS);
    assert.ok(await page.getByTestId("checkout-pro").isDisabled(), "an active tenant cannot buy again");
    await assertVisible(page, "manage-subscription");
  }));

test("decline: the return page says failed with recovery links, and a retried checkout that pays ends active", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "decline-retry", async ({ page, tenant, shot }) => {
    await signIn(page, tenant);
    await startCheckout(page, "pro");
    await finishCheckout(page, "decline");
    await expectOutcome(page, "failed");
    await assertVisible(page, "retry-checkout");
    await assertVisible(page, "contact-support");
    assert.match(await page.getByTestId("contact-support").getAttribute("href"), /^mailto:/);
    await shot("failed");

    await page.getByTestId("retry-checkout").click();
    await page.waitForURL(onPath("/"));
    await waitForText(page, "status-value", "incomplete", STEP_TIMEOUT_MS);
    await waitForText(page, "status-period", "-", STEP_TIMEOUT_MS); // an incomplete subscription never renews
    await startCheckout(page, "pro");
    await finishCheckout(page, "pay");
    await expectOutcome(page, "active");

    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-value", "active", STEP_TIMEOUT_MS);
    await waitForText(page, "access-value", "full", STEP_TIMEOUT_MS);
  }));

test("cancel: leaving the sandbox checkout shows cancelled with recovery links and changes nothing", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "cancel", async ({ page, tenant }) => {
    await signIn(page, tenant);
    await startCheckout(page, "pro");
    await page.getByTestId("cancel").click();
    await page.waitForURL(onPath("/checkout/cancelled"));
    await waitForText(page, "checkout-result", "cancelled", STEP_TIMEOUT_MS);
    await assertVisible(page, "retry-checkout");
    await assertVisible(page, "contact-support");
    await waitForText(page, "status-value", "none", STEP_TIMEOUT_MS);
    assert.deepEqual(await checkoutResults(page), ["cancelled"]);

    await page.getByTestId("retry-checkout").click();
    await page.waitForURL(onPath("/"));
    await waitForText(page, "status-value", "none", STEP_TIMEOUT_MS);
    await assertHidden(page, "manage-subscription");
    assert.ok(await page.getByTestId("checkout-pro").isEnabled(), "a cancelled checkout can be started again");
  }));

test("failed renewal: pay-fail-renewal ends active, then the billing page shows past_due with grace access", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "failed-renewal", async ({ page, tenant }) => {
    await signIn(page, tenant);
    await startCheckout(page, "pro");
    await finishCheckout(page, "pay-fail-renewal");
    await expectOutcome(page, "active");

    await page.goto(BASE_URL + "/");
    await reloadUntil(page, "status-value", "past_due");
    await waitForText(page, "access-value", "grace", STEP_TIMEOUT_MS);
    assert.ok(await page.getByTestId("checkout-pro").isDisabled(), "a past-due tenant pays through the portal, not a new checkout");
    await assertVisible(page, "manage-subscription");
  }));

test("portal: cancel at period end shows when the subscription ends, and resume takes it back", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "portal", async ({ page, tenant, shot }) => {
    await subscribe(page, tenant, "pro");
    await page.goto(BASE_URL + "/");
    await waitForText(page, "status-value", "active", STEP_TIMEOUT_MS);
    await waitForText(page, "status-period", /^renews \S+/, STEP_TIMEOUT_MS);

    // Cancel at period end, then follow the portal's link back to the app.
    await page.getByTestId("manage-subscription").click();
    await page.waitForURL(/\/sandbox\/portal\/[^/]+$/);
    await page.getByTestId("cancel-at-period-end").click();
    await page.getByTestId("resume").waitFor({ state: "visible" });
    await shot("portal-cancelled");
    await page.getByTestId("return").click();
    await page.waitForURL(onPath("/"));
    await reloadUntil(page, "status-period", /^ends \S+/);
    await waitForText(page, "status-value", "active", STEP_TIMEOUT_MS);
    await waitForText(page, "access-value", "full", STEP_TIMEOUT_MS);
    await shot("ends-at-period-end");

    // Resume: the subscription renews again.
    await page.getByTestId("manage-subscription").click();
    await page.waitForURL(/\/sandbox\/portal\/[^/]+$/);
    await page.getByTestId("resume").click();
    await page.getByTestId("cancel-at-period-end").waitFor({ state: "visible" });
    await page.getByTestId("return").click();
    await page.waitForURL(onPath("/"));
    await reloadUntil(page, "status-period", /^renews \S+/);
    await waitForText(page, "status-value", "active", STEP_TIMEOUT_MS);
  }));

// Real-browser test of the local billing page (local/web) against a running
// billing-local server: sign-in, the plan list, checkout through the sandbox
// provider's hosted page (pay, decline then retry, cancel, failed renewal) and
// the sandbox portal (cancel at period end, resume), in Debian's headless
// Chromium driven by playwright-core. BILLING_URL names the server; each
// scenario's final page (and a few steps) is saved as a screenshot under
// target/browser-test/. Run it with `scripts/browser-test <base-url>`.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.BILLING_URL || "").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SCREENSHOT_DIR = fileURLToPath(new URL("../../target/browser-test/", import.meta.url));
// Webhook-driven changes: provider → webhook → queue → processor → status.
const OUTCOME_TIMEOUT_MS = 20_000;
// Clicks, navigations and page loads.
const STEP_TIMEOUT_MS = 15_000;
const SCENARIO_TIMEOUT_MS = 120_000;

before(async () => {
  assert.ok(BASE_URL, "set BILLING_URL to the billing-local server, e.g. http://127.0.0.1:8787");
  const response = await fetch(BASE_URL + "/billing/plans").catch((e) => {
    throw new Error(`no billing-local server answers at ${BASE_URL}: ${e.cause?.message ?? e.message}`);
  });
  assert.equal(response.status, 200, `GET ${BASE_URL}/billing/plans`);
  await mkdir(SCREENSHOT_DIR, { recursive: true });
});

// Records every value the checkout result takes while it is shown, so a test
// can tell that a return page said `pending` first and never said `active`.
function recordCheckoutResults() {
  window.__checkoutResults = [];
  let last = null;
  const record = () => {
    const section = document.getElementById("outcome");
    const result = document.getElementById("checkout-result");
    if (!section || !result || section.hidden) return;
    const value = result.textContent.trim();
    if (value !== last) {
      window.__checkoutResults.push(value);
      last = value;
    }
  };
  new MutationObserver(record).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
}

// Runs `body({ page, tenant, shot })` in a fresh Chromium profile with its own
// tenant, then saves the final page as target/browser-test/<name>.png, pass
// or fail.
async function scenario(t, name, body) {
  const tenant = `browser-${name}-${randomBytes(4).toString("hex")}`;
  const profile = await mkdtemp(path.join(tmpdir(), `billing-browser-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1100, height: 900 },
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  await context.addInitScript(recordCheckoutResults);
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) {
      t.diagnostic(`console error on ${page.url()}: ${message.text()}`);
    }
  });
  const steps = { page, tenant, shot: (step) => screenshot(page, `${name}-${step}`) };
  try {
    await body(steps);
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  } catch (error) {
    const message = await page.getByTestId("message").textContent({ timeout: 1000 }).catch(() => null);
    t.diagnostic(`${name} (tenant ${tenant}) failed on ${page.url()}${message ? `; page message: ${message}` : ""}`);
    throw error;
  } finally {
    await screenshot(page, name).catch((e) => t.diagnostic(`no screenshot for ${name}: ${e.message}`));
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

function screenshot(page, name) {
  return page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

// Waits until the visible element `data-testid=testId` has the text
// `expected` (a string, or a RegExp tested against the trimmed text).
async function waitForText(page, testId, expected, timeout = OUTCOME_TIMEOUT_MS) {
  const want = typeof expected === "string"
    ? { testId, exact: expected, source: null, flags: null }
    : { testId, exact: null, source: expected.source, flags: expected.flags };
  try {
    await page.waitForFunction(({ testId, exact, source, flags }) => {
      const el = document.querySelector(`[data-testid="${testId}"]`);
      if (!el || !el.checkVisibility()) return false;
      const text = el.textContent.trim();
      return exact !== null ? text === exact : new RegExp(source, flags).test(text);
    }, want, { timeout, polling: 100 });
  } catch (error) {
    const now = await page.getByTestId(testId).textContent({ timeout: 1000 }).catch(() => "(absent)");
    assert.fail(`${testId} should show ${expected} within ${timeout} ms on ${page.url()}; it shows "${now?.trim()}" (${error.message.split("\n")[0]})`);
  }
}

async function checkoutResults(page) {
  return page.evaluate(() => window.__checkoutResults.slice());
}

async function assertVisible(page, testId) {
  assert.ok(await page.getByTestId(testId).isVisible(), `${testId} should be visible on ${page.url()}`);
}

async function assertHidden(page, testId) {
  assert.ok(!(await page.getByTestId(testId).isVisible()), `${testId} should be hidden on ${page.url()}`);
}

function onPath(pathname) {
  return (url) => url.pathname === pathname;
}

async function signIn(page, tenant) {
  await page.goto(BASE_URL + "/");
  await page.getByTestId("tenant-input").fill(tenant);
  await page.getByTestId("sign-in").click();
  await waitForText(page, "status-value", "none", STEP_TIMEOUT_MS);
  assert.match(await page.locator("#signed-in").textContent(), new RegExp(`tenant ${tenant}\\.`));
  await assertHidden(page, "manage-subscription"); // nothing to manage yet
}

// From the billing page: choose `plan` and land on the sandbox checkout page.
async function startCheckout(page, plan) {
  const button = page.getByTestId(`checkout-${plan}`);
  assert.ok(await button.isEnabled(), `checkout-${plan} should be enabled`);
  await button.click();
  await page.waitForURL(/\/sandbox\/checkout\/[^/]+$/);
}

// On the sandbox checkout page: press `outcome` and land on `returnPath`.
async function finishCheckout(page, outcome, returnPath = "/checkout/return") {
  await page.getByTestId(outcome).click();
  await page.waitForURL(onPath(returnPath));
}

// On the return page: the result starts `pending` and becomes `expected`.
async function expectOutcome(page, expected) {
  await waitForText(page, "checkout-result", expected);
  const seen = await checkoutResults(page);
  assert.equal(seen[0], "pending", `the return page shows pending before the webhook lands (saw ${seen.join(" → ")})`);
  assert.equal(seen.at(-1), expected);
}

// Reloads the billing page until `testId` shows `expected` (a string or a
// RegExp): the page reads the status once on load, and changes made at the
// provider (a renewal, a portal action) arrive later by webhook.
async function reloadUntil(page, testId, expected, timeout = OUTCOME_TIMEOUT_MS) {
  const matches = (text) => (typeof expected === "string" ? text === expected : expected.test(text));
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.getByTestId("status-value").waitFor({ state: "visible" });
    const text = (await page.getByTestId(testId).textContent()).trim();
    if (matches(text)) return;
    if (Date.now() > deadline) assert.fail(`${testId} should reach ${expected} within ${timeout} ms; it shows "${text}"`);
    await page.waitForTimeout(250); // between reloads, not instead of a condition
    await page.goto(BASE_URL + "/");
  }
}

// Signs in and buys `plan` with a card that pays: the tenant ends active.
async function subscribe(page, tenant, plan) {
  await signIn(page, tenant);
  await startCheckout(page, plan);
  await finishCheckout(page, "pay");
  await expectOutcome(page, "active");
}

// Resolves once the page has received `count` responses for `pathname`.
function responsesFor(page, pathname, count, timeout = OUTCOME_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      page.off("response", listener);
      reject(new Error(`only ${seen} of ${count} responses for ${pathname} within ${timeout} ms`));
    }, timeout);
    const listener = (response) => {
      if (new URL(response.url()).pathname === pathname && ++seen >= count) {
        clearTimeout(timer);
        page.off("response", listener);
        resolve();
      }
    };
    page.on("response", listener);
  });
}

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

// What the browser tests share: the server they test (BILLING_URL), a
// scenario runner (a fresh headless Chromium profile per scenario, with a
// screenshot of its last page under target/browser-test/), and the billing
// page's steps (sign in, check out through the sandbox, wait for a status).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const BASE_URL = (process.env.BILLING_URL || "").replace(/\/+$/, "");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const SCREENSHOT_DIR = fileURLToPath(new URL("../../target/browser-test/", import.meta.url));
// Webhook-driven changes: provider → webhook → queue → processor → status.
export const OUTCOME_TIMEOUT_MS = 20_000;
// Clicks, navigations and page loads.
export const STEP_TIMEOUT_MS = 15_000;
export const SCENARIO_TIMEOUT_MS = 120_000;

// Fails the file's tests early when no server answers at BILLING_URL.
export async function checkServer() {
  assert.ok(BASE_URL, "set BILLING_URL to the billing-local server, e.g. http://127.0.0.1:8787");
  const response = await fetch(BASE_URL + "/billing/plans").catch((e) => {
    throw new Error(`no billing-local server answers at ${BASE_URL}: ${e.cause?.message ?? e.message}`);
  });
  assert.equal(response.status, 200, `GET ${BASE_URL}/billing/plans`);
  await mkdir(SCREENSHOT_DIR, { recursive: true });
}

// Records every value the checkout result takes while it is shown, so a test
// can tell that a return page said `pending` first and never said `active`.
export function recordCheckoutResults() {
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
export async function scenario(t, name, body) {
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

export function screenshot(page, name) {
  return page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

// Waits until the visible element `data-testid=testId` has the text
// `expected` (a string, or a RegExp tested against the trimmed text).
export async function waitForText(page, testId, expected, timeout = OUTCOME_TIMEOUT_MS) {
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

export async function checkoutResults(page) {
  return page.evaluate(() => window.__checkoutResults.slice());
}

export async function assertVisible(page, testId) {
  assert.ok(await page.getByTestId(testId).isVisible(), `${testId} should be visible on ${page.url()}`);
}

export async function assertHidden(page, testId) {
  assert.ok(!(await page.getByTestId(testId).isVisible()), `${testId} should be hidden on ${page.url()}`);
}

export function onPath(pathname) {
  return (url) => url.pathname === pathname;
}

export async function signIn(page, tenant, { role = "owner", status = "none" } = {}) {
  await page.goto(BASE_URL + "/");
  await page.getByTestId("tenant-input").fill(tenant);
  await page.getByTestId("role-select").selectOption(role);
  await page.getByTestId("sign-in").click();
  await waitForText(page, "status-value", status, STEP_TIMEOUT_MS);
  assert.match(await page.locator("#signed-in").textContent(), new RegExp(`tenant ${tenant}\\.`));
  if (status === "none") await assertHidden(page, "manage-subscription"); // nothing to manage yet
}

// From the billing page: choose `plan` and land on the sandbox checkout page.
export async function startCheckout(page, plan) {
  const button = page.getByTestId(`checkout-${plan}`);
  assert.ok(await button.isEnabled(), `checkout-${plan} should be enabled`);
  await button.click();
  await page.waitForURL(/\/sandbox\/checkout\/[^/]+$/);
}

// On the sandbox checkout page: press `outcome` and land on `returnPath`.
export async function finishCheckout(page, outcome, returnPath = "/checkout/return") {
  await page.getByTestId(outcome).click();
  await page.waitForURL(onPath(returnPath));
}

// On the return page: the result starts `pending` and becomes `expected`.
export async function expectOutcome(page, expected) {
  await waitForText(page, "checkout-result", expected);
  const seen = await checkoutResults(page);
  assert.equal(seen[0], "pending", `the return page shows pending before the webhook lands (saw ${seen.join(" → ")})`);
  assert.equal(seen.at(-1), expected);
}

// Reloads the billing page until `testId` shows `expected` (a string or a
// RegExp): the page reads the status once on load, and changes made at the
// provider (a renewal, a portal action) arrive later by webhook.
export async function reloadUntil(page, testId, expected, timeout = OUTCOME_TIMEOUT_MS) {
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
export async function subscribe(page, tenant, plan) {
  await signIn(page, tenant);
  await startCheckout(page, plan);
  await finishCheckout(page, "pay");
  await expectOutcome(page, "active");
}

// Resolves once the page has received `count` responses for `pathname`.
export function responsesFor(page, pathname, count, timeout = OUTCOME_TIMEOUT_MS) {
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


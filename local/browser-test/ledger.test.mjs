// Real-browser test of the billing page's ledger on the sandbox provider:
// the billing profile form with the API's tax-id validation messages, and
// after a paid checkout the invoice in the list with its PDF download.
// Run with `scripts/browser-test <base-url>`.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  OUTCOME_TIMEOUT_MS, SCENARIO_TIMEOUT_MS, STEP_TIMEOUT_MS, BASE_URL, checkServer, scenario, signIn, subscribe,
  waitForText,
} from "./helpers.mjs";

before(checkServer);

async function fillProfile(page, values) {
  for (const [field, value] of Object.entries(values)) {
    await page.getByTestId(`profile-${field}`).fill(value);
  }
}

const KARNATAKA_BUYER = {
  legalName: "Bharat Analytics Private Limited",
  email: "ap@bharat.example",
  line1: "12th Floor, Prestige Tech Park",
  city: "Bengaluru",
  region: "29",
  postalCode: "560103",
  country: "IN",
};

test("profile: a mistyped GSTIN is refused at its field, the right one is saved and shown as format-checked", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "profile", async ({ page, tenant, shot }) => {
    await signIn(page, tenant);
    await page.getByTestId("profile-form").waitFor({ state: "visible" });
    await fillProfile(page, { ...KARNATAKA_BUYER, taxId: "29AABCB1234C1ZB" });
    await page.getByTestId("save-profile").click();
    await waitForText(page, "tax-id-error", /check character is wrong \(expected A\)/, STEP_TIMEOUT_MS);
    await shot("refused");
    // A GSTIN of another state than the address: refused with the reason.
    await fillProfile(page, { taxId: "27AAACE1234F1Z6" });
    await page.getByTestId("save-profile").click();
    await waitForText(page, "tax-id-error", /registered in state 27, the address is in state 29/, STEP_TIMEOUT_MS);
    // Another field's problem is shown apart from the tax id.
    await fillProfile(page, { taxId: "29AABCB1234C1ZA", country: "XX" });
    await page.getByTestId("save-profile").click();
    await waitForText(page, "profile-error", /address.country/, STEP_TIMEOUT_MS);
    assert.equal((await page.getByTestId("tax-id-error").textContent()).trim(), "");

    await fillProfile(page, { country: "in" });
    await page.getByTestId("save-profile").click();
    await waitForText(page, "profile-saved", /^Saved\./, STEP_TIMEOUT_MS);
    await waitForText(page, "tax-id-status", /format checked \(GSTIN\); not verified/, STEP_TIMEOUT_MS);
    assert.equal(await page.getByTestId("profile-country").inputValue(), "IN", "normalized by the API");

    // After a reload the saved profile is read back; a viewer cannot edit it.
    await signIn(page, tenant, { role: "viewer" });
    await waitForText(page, "tax-id-status", /format checked/, STEP_TIMEOUT_MS);
    assert.equal(await page.getByTestId("profile-legalName").inputValue(), KARNATAKA_BUYER.legalName);
    assert.ok(await page.getByTestId("profile-legalName").isDisabled(), "a viewer reads only");
    assert.ok(!(await page.getByTestId("save-profile").isVisible()));
  }));

test("invoices: a paid checkout is invoiced, listed with its number, and its PDF downloads", { timeout: SCENARIO_TIMEOUT_MS }, (t) =>
  scenario(t, "invoices", async ({ page, tenant, shot }) => {
    await subscribe(page, tenant, "pro");
    await page.goto(BASE_URL + "/");
    // The invoice is issued by webhook-process from the sandbox's invoice.paid.
    const deadline = Date.now() + OUTCOME_TIMEOUT_MS;
    let items = [];
    while (Date.now() < deadline) {
      await page.getByTestId("invoice-list").waitFor({ state: "attached" });
      items = await page.getByTestId("invoice-list").locator("li").allTextContents();
      if (items.length > 0) break;
      await page.waitForTimeout(250);
      await page.goto(BASE_URL + "/");
    }
    assert.equal(items.length, 1, "one invoice for the one payment");
    assert.match(items[0], /^INV\/\d{2}-\d{2}\/\d{6} · \d{1,2} [A-Z][a-z]+ \d{4} · USD \d+\.\d{2} \(tax USD \d+\.\d{2}\) · paid/);
    await shot("listed");

    const link = page.getByTestId("invoice-list").locator("a").first();
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    assert.match(download.suggestedFilename(), /^invoice-INV-\d{2}-\d{2}-\d{6}\.pdf$/);
    const bytes = await readFile(await download.path());
    assert.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-");
  }));

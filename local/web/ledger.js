// The billing page's ledger: the tenant's invoices (newest first, each with
// a PDF download) and its billing profile (the buyer the invoices are made
// out to), with the API's validation messages shown at the field they are
// about. Uses api, newKey, canManage, formatDate, formatPrice, say and $ of
// app.js. A PDF is fetched with the bearer token and handed to the browser
// as a file, since a plain link cannot carry the token.
"use strict";

const PROFILE_FIELDS = ["legalName", "email", "line1", "line2", "city", "region", "postalCode", "country", "taxId"];

async function loadLedger() {
  $("invoices").hidden = false;
  $("profile").hidden = false;
  await Promise.all([loadInvoices(), loadProfile()]);
}

async function loadInvoices() {
  const list = $("invoice-list");
  try {
    const { invoices } = await api("GET", "/billing/invoices?limit=20");
    list.replaceChildren(...invoices.map(invoiceItem));
    $("no-invoices").hidden = invoices.length > 0;
  } catch (e) {
    say("Could not read the invoices: " + e.message);
  }
}

function invoiceItem(invoice) {
  const item = document.createElement("li");
  item.dataset.testid = `invoice-${invoice.id}`;
  const total = formatPrice({ amountMinor: invoice.totalMinor, currency: invoice.currency });
  const tax = formatPrice({ amountMinor: invoice.taxMinor, currency: invoice.currency });
  const text = document.createElement("span");
  text.textContent = `${invoice.number} · ${formatDate(invoice.issuedAt)} · ${total} (tax ${tax}) · ${invoice.status}`;
  // A link, as reading is open to every role; the click fetches the file.
  const download = document.createElement("a");
  download.href = pdfPath(invoice);
  download.textContent = "Download PDF";
  download.dataset.testid = `invoice-pdf-${invoice.id}`;
  download.addEventListener("click", (event) => {
    event.preventDefault();
    downloadPdf(invoice, download);
  });
  item.append(text, " ", download);
  return item;
}

function pdfPath(invoice) {
  return `/billing/invoices/${encodeURIComponent(invoice.id)}/pdf`;
}

async function downloadPdf(invoice, link) {
  if (link.getAttribute("aria-busy") === "true") return;
  link.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(pdfPath(invoice), {
      headers: { authorization: "Bearer " + localStorage.getItem(TOKEN_KEY) },
    });
    if (!response.ok) throw new Error(`the PDF could not be fetched (${response.status})`);
    const url = URL.createObjectURL(await response.blob());
    const file = document.createElement("a");
    file.href = url;
    file.download = `invoice-${invoice.id}.pdf`;
    document.body.append(file);
    file.click();
    file.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    say(e.message);
  } finally {
    link.removeAttribute("aria-busy");
  }
}

function profileValues() {
  const value = (id) => $(`profile-${id}`).value.trim();
  const body = {
    legalName: value("legalName"),
    email: value("email"),
    address: {
      line1: value("line1"),
      city: value("city"),
      region: value("region"),
      postalCode: value("postalCode"),
      country: value("country"),
    },
  };
  if (value("line2")) body.address.line2 = value("line2");
  if (value("taxId")) body.taxId = value("taxId");
  return body;
}

function showProfile(profile) {
  const values = {
    legalName: profile.legalName,
    email: profile.email,
    ...profile.address,
    line2: profile.address.line2 ?? "",
    taxId: profile.taxId ? profile.taxId.value : "",
  };
  for (const id of PROFILE_FIELDS) $(`profile-${id}`).value = values[id] ?? "";
  $("tax-id-status").textContent = profile.taxId
    ? `Tax id format checked (${profile.taxId.kind.toUpperCase().replace("_", " ")}); not verified with the tax registry.`
    : "";
}

async function loadProfile() {
  const manage = canManage();
  for (const id of PROFILE_FIELDS) $(`profile-${id}`).disabled = !manage;
  $("save-profile").hidden = !manage;
  try {
    showProfile(await api("GET", "/billing/profile"));
  } catch (e) {
    if (e.status !== 404) say("Could not read the billing profile: " + e.message);
  }
}

async function saveProfile(event) {
  event.preventDefault();
  $("tax-id-error").textContent = "";
  $("profile-error").textContent = "";
  $("profile-saved").textContent = "";
  const button = $("save-profile");
  button.disabled = true;
  try {
    const saved = await api("PUT", "/billing/profile", profileValues(), newKey());
    showProfile(saved);
    $("profile-saved").textContent = "Saved. New invoices are made out to this profile.";
  } catch (e) {
    if (e.code === "invalid_tax_id") {
      $("tax-id-error").textContent = e.message;
    } else {
      $("profile-error").textContent = e.message;
    }
  } finally {
    button.disabled = false;
  }
}

function wireLedger() {
  $("profile-form").addEventListener("submit", saveProfile);
}

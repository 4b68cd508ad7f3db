// The seed's example, through the pages alone, in a real browser (Debian's Chromium) against
// `wrangler dev`: the admin links Emily Carter of Northern Light with the wizard, applies the
// recommended minimum and issues an invitation; Emily activates it, signs in, creates a request,
// chats and signs a document; the admin disables the link and Emily's open page loses access at
// its next action. Each page passes axe-core (no serious or critical violations) at desktop and
// phone sizes, with its screenshots written to tests/browser/.out/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import jsQR from "jsqr";
import { startWorker } from "../e2e/harness.mjs";
import { capture, describe, launch, openPage, problems } from "./support.mjs";

const ADMIN = { login: "vector-admin", password: "ledger winter copper 42" };
const EMILY_PASSWORD = "aurora lights over the fjords";
const ids = { northernLight: randomUUID(), blueHarbor: randomUUID(), emily: randomUUID(), support: randomUUID() };

let worker;
let browser;
let admin; // the admin's page (its own browser context)
let emily; // Emily's page (another context: its own refresh cookie)
let activationUrl;
let replacedUrl; // the first invitation, revoked when the second was issued
let adminToken;

const api = async (method, path, body, token) => {
  const res = await worker.fetch(path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.status < 300, `${method} ${path} -> ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
};

/** The RFC 6238 code of a base32 secret for the 30-second step `offset` steps from now. */
/** Decodes the portal's QR code (an SVG path of 1x1 modules) with jsQR, 4 pixels per module. */
function decodeQr(viewBox, d) {
  const size = Number(viewBox.split(" ")[2]);
  const scale = 4;
  const px = size * scale;
  const rgba = new Uint8ClampedArray(px * px * 4).fill(255);
  for (const [, x, y] of d.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    for (let dy = 0; dy < scale; dy++) {
      for (let dx = 0; dx < scale; dx++) {
        const i = ((Number(y) * scale + dy) * px + Number(x) * scale + dx) * 4;
        rgba[i] = rgba[i + 1] = rgba[i + 2] = 0;
      }
    }
  }
  return jsQR(rgba, px, px)?.data ?? null;
}

function totp(secret, offset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/[\s=]/g, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** Screenshots at both sizes and the accessibility check; fails on serious or critical issues. */
async function check(page, name) {
  const violations = await capture(page, name);
  assert.deepEqual(violations, [], `axe on ${name}:\n${describe(violations)}`);
}

before(async () => {
  worker = await startWorker({ label: "browser-walkthrough", vars: { TELEGRAM_BOT_USERNAME: "vector_portal_bot", EMAIL_FROM: "portal@mail.vector.example" } });
  // Seed through the API, as the CRM and the bootstrap would: the first admin, two companies,
  // Emily's contact and a pipeline with a required field.
  await api("POST", "/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, ...ADMIN, first_name: "Vera", last_name: "Vector" });
  adminToken = (await api("POST", "/api/auth/login", { ...ADMIN, refresh_transport: "body" })).access_token;
  const crm = worker.secrets.CRM_SYNC_TOKEN;
  await api("PUT", `/api/admin/companies/${ids.northernLight}`, { name: "Northern Light" }, crm);
  await api("PUT", `/api/admin/companies/${ids.blueHarbor}`, { name: "Blue Harbor" }, crm);
  // Emily works for Northern Light and, in the CRM, also for its sister company Blue Harbor.
  await api("PUT", `/api/admin/contacts/${ids.emily}`, { first_name: "Emily", last_name: "Carter", email: "emily.carter@northernlight.example", company_ids: [ids.northernLight, ids.blueHarbor] }, crm);
  await api("PUT", `/api/admin/pipelines/${ids.support}`, {
    name: "Support",
    stages: [{ id: "new", name: "New", is_final: false }, { id: "in_progress", name: "In progress", is_final: false }, { id: "done", name: "Done", is_final: true }],
    fields: [{ key: "priority", label: "Priority", type: "choice", required: true, choices: ["low", "normal", "urgent"] }],
  }, crm);
  browser = await launch();
  admin = await openPage(browser, worker.url);
  emily = await openPage(browser, worker.url);
});

after(async () => {
  await browser?.close();
  await worker?.stop();
});

test("the admin signs in to the governance console", async () => {
  await admin.goto("/extranet-governance");
  await admin.getByLabel("Login").waitFor();
  await check(admin, "governance-login");
  await admin.getByLabel("Login").fill(ADMIN.login);
  await admin.getByLabel("Password").fill("not the password at all");
  await admin.getByRole("button", { name: "Sign in" }).click();
  await admin.getByRole("alert").filter({ hasText: "The login or password is incorrect." }).waitFor();
  await admin.getByLabel("Password").fill(ADMIN.password);
  await admin.getByRole("button", { name: "Sign in" }).click();
  await admin.getByRole("heading", { name: "Client links" }).waitFor();
  await admin.getByText("No client links yet").waitFor();
  await check(admin, "governance-links-empty");
});

test("the admin links Emily Carter with Northern Light through the four-step wizard", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Link wizard" }).click();
  await admin.getByRole("heading", { name: "Step 1 of 4: User" }).waitFor();
  await admin.getByLabel("First name").fill("Emily");
  await admin.getByLabel("Last name").fill("Carter");
  await admin.getByLabel("Email").fill("emily.carter@northernlight.example");
  assert.equal(await admin.getByLabel("Login").inputValue(), "emily.carter@northernlight.example", "the login follows the email");
  await check(admin, "governance-wizard-user");
  await admin.getByRole("button", { name: "Next: contact and companies" }).click();

  await admin.getByRole("heading", { name: "Step 2 of 4: Contact and companies" }).waitFor();
  await admin.getByLabel(/Emily Carter · emily\.carter@northernlight\.example/).check();
  const northern = admin.getByRole("checkbox", { name: /Northern Light/ });
  await northern.waitFor();
  assert.equal(await northern.isChecked(), true, "the contact's CRM companies are proposed");
  assert.equal(await admin.getByRole("checkbox", { name: /Blue Harbor/ }).isChecked(), true);
  await admin.getByRole("group", { name: "Default company" }).getByRole("radio", { name: "Northern Light" }).check();
  await check(admin, "governance-wizard-contact");
  await admin.getByRole("button", { name: "Next: review" }).click();

  await admin.getByRole("heading", { name: "Step 3 of 4: Review" }).waitFor();
  await admin.getByText("No blocking problems.").waitFor();
  await admin.getByText(/Northern Light has no access policy yet/).waitFor();
  await admin.getByText(/The new user has no password/).waitFor();
  await check(admin, "governance-wizard-review");
  await admin.getByRole("button", { name: "Confirm and save the link" }).click();

  await admin.getByRole("heading", { name: "Step 4 of 4: Confirmation" }).waitFor();
  await admin.getByText(/The link for Emily Carter is saved \((Northern Light, Blue Harbor|Blue Harbor, Northern Light)\)\./).waitFor();
  await check(admin, "governance-wizard-done");
});

test("the admin applies the recommended minimum and sees the three policies side by side", async () => {
  await admin.getByRole("link", { name: "Check permissions" }).click();
  await admin.getByRole("heading", { name: "Permissions" }).waitFor();
  const table = admin.getByRole("table", { name: /Policies at Northern Light/ });
  await table.waitFor();
  const createRow = table.getByRole("row", { name: /Request creation/ });
  await createRow.getByText("✗ Denied").first().waitFor();
  await createRow.getByText(/Company policy: /).waitFor();

  await admin.getByRole("region", { name: "Northern Light (default)" }).getByRole("button", { name: "Apply recommended minimum" }).click();
  const dialog = admin.getByRole("dialog", { name: /Apply the recommended minimum to Northern Light/ });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel("Working pipeline").inputValue(), ids.support);
  await dialog.getByRole("button", { name: "Apply recommended minimum" }).click();
  await table.getByRole("row", { name: /Request creation/ }).getByText("✓ Allowed").nth(1).waitFor();
  const effectiveCalls = table.getByRole("row", { name: /^Calls/ }).getByRole("cell").nth(2);
  assert.match(await effectiveCalls.innerText(), /Denied[\s\S]*Company policy: /, "a denial names its level and reason");
  assert.match(await table.getByRole("row", { name: /Allowed pipelines/ }).innerText(), /Support/);
  await admin.getByRole("button", { name: "Check what the client sees" }).click();
  await admin.getByText("Request creation, Request chat reading, Request chat sending").waitFor();
  await check(admin, "governance-permissions");
});

test("the admin issues an invitation and copies the activation link", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Invitations" }).click();
  await admin.getByRole("heading", { name: "Invite Emily Carter" }).waitFor();
  await admin.getByText(/valid for 72 hours/).waitFor();
  const byEmail = admin.getByLabel("Send by email to emily.carter@northernlight.example");
  assert.equal(await byEmail.isChecked(), true, "email is the default");
  await admin.getByRole("button", { name: "Issue invitation" }).click();
  const box = admin.getByLabel("Activation link");
  await box.waitFor();
  await admin.getByText("Emailed to emily.carter@northernlight.example.").waitFor();
  replacedUrl = await box.inputValue();
  await byEmail.uncheck();
  // A second invitation replaces the first (as when the first one was not activated in time).
  await admin.getByRole("button", { name: "Issue invitation" }).click();
  await admin.waitForFunction((old) => document.querySelector(".secret input")?.value !== old, replacedUrl);
  activationUrl = await box.inputValue();
  await admin.getByText("Not emailed, as you chose.").waitFor();
  await admin.getByRole("list", { name: "Invitations" }).getByText("revoked", { exact: true }).waitFor();
  assert.match(activationUrl, /\/activate#[A-Za-z0-9_-]{43}$/);
  await admin.getByRole("button", { name: "Copy" }).click();
  assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), activationUrl, "Copy puts the link on the clipboard");
  await admin.getByRole("list", { name: "Invitations" }).getByText("pending").waitFor();
  await check(admin, "governance-invitations");
});

test("Emily activates the invitation with the password rules shown as she types", async () => {
  await emily.goto(activationUrl.replace(/^https?:\/\/[^/]+/, ""));
  await emily.getByRole("heading", { name: "Welcome, Emily" }).waitFor();
  assert.equal(new URL(emily.url()).hash, "", "the token leaves the address bar");
  await emily.getByText("emily.carter@northernlight.example").waitFor();
  await emily.getByLabel("New password").fill("short");
  await emily.getByText("2 of 3 password rules met.").waitFor();
  assert.equal(await emily.locator(".rules li.met").count(), 2, "“short” misses only the minimum length");
  await check(emily, "activate-form");
  await emily.getByLabel("Repeat the password").fill("short");
  await emily.getByRole("button", { name: "Activate and sign in" }).click();
  const pw = emily.getByLabel("New password");
  assert.equal(await pw.getAttribute("aria-invalid"), "true");
  await emily.getByText(/does not meet a rule: at least 12 characters/).waitFor();

  await pw.fill(EMILY_PASSWORD);
  await emily.getByText("3 of 3 password rules met.").waitFor();
  await emily.getByLabel("Repeat the password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Activate and sign in" }).click();
  await emily.waitForURL(`${worker.url}/`);
  await emily.getByRole("heading", { name: "Requests · Northern Light" }).waitFor();
  const nav = emily.getByRole("navigation", { name: "Portal sections" });
  assert.deepEqual(await nav.getByRole("link").allInnerTexts(), ["Requests", "Documents", "Profile"], "only what the effective policy allows: no chat or calls");

  // The company switcher starts at the default company; Blue Harbor has no policy yet, so
  // nothing but documents and the profile is offered there.
  const company = emily.getByLabel("Company");
  assert.equal(await company.locator("option:checked").innerText(), "Northern Light (default)");
  await company.selectOption({ label: "Blue Harbor" });
  await emily.getByRole("heading", { name: "Documents · Blue Harbor" }).waitFor();
  assert.deepEqual(await nav.getByRole("link").allInnerTexts(), ["Documents", "Profile"]);
  await emily.getByText("No documents yet.").waitFor();
  await check(emily, "portal-company-switch");
  await company.selectOption({ label: "Northern Light (default)" });
  await emily.getByRole("heading", { name: "Requests · Northern Light" }).waitFor();
});

test("a used, revoked or unknown invitation link shows a clear page", async () => {
  const page = await openPage(browser, worker.url);
  await page.goto(activationUrl.replace(/^https?:\/\/[^/]+/, ""));
  await page.getByRole("heading", { name: "This invitation has already been used" }).waitFor();
  await check(page, "activate-used");
  await page.goto("/");
  await page.goto(replacedUrl.replace(/^https?:\/\/[^/]+/, ""));
  await page.getByRole("heading", { name: "This invitation was revoked" }).waitFor();
  await check(page, "activate-revoked");
  // The fragment is dropped from the address bar, so a reload has no token left.
  await page.reload();
  await page.getByRole("heading", { name: "Open the link from your invitation" }).waitFor();
  await page.goto("/404-first-so-the-next-load-is-a-new-document");
  await page.goto("/activate#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  await page.getByRole("heading", { name: "We do not recognise this invitation link" }).waitFor();
  await check(page, "activate-unknown");
  assert.deepEqual(await problems(page), []);
  await page.context().close();
});

test("Emily signs out and signs in again with the portal's login form", async () => {
  await emily.getByRole("button", { name: "Sign out" }).click();
  await emily.getByRole("heading", { name: "Sign in" }).waitFor();
  await emily.getByText("You have signed out.").waitFor();
  await check(emily, "portal-login");
  await emily.getByLabel("Login").fill("emily.carter@northernlight.example");
  await emily.getByLabel("Password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Sign in" }).click();
  await emily.getByRole("heading", { name: "Requests · Northern Light" }).waitFor();
  await emily.getByText("No requests yet.", { exact: false }).waitFor();
  await check(emily, "portal-requests-empty");
});

test("Emily creates a request with its declared field and chats on it", async () => {
  await emily.getByRole("link", { name: "New request" }).click();
  await emily.getByRole("heading", { name: "New request · Northern Light" }).waitFor();
  await emily.getByLabel("Title").fill("Invoice 1042 shows the wrong address");
  await emily.getByLabel("Description").fill("The March invoice still has our old office address.\nPlease reissue it.");
  await emily.getByRole("button", { name: "Create request" }).click();
  const priority = emily.getByLabel("Priority");
  assert.equal(await priority.getAttribute("aria-invalid"), "true", "the missing field is marked");
  await emily.getByText("Priority is required.").waitFor();
  await check(emily, "portal-request-new");
  await priority.selectOption("urgent");
  await emily.getByRole("button", { name: "Create request" }).click();

  await emily.getByRole("heading", { name: "Invoice 1042 shows the wrong address" }).waitFor();
  await emily.getByText("New", { exact: true }).first().waitFor();
  await emily.getByText("urgent").waitFor();
  await emily.getByText("No messages yet.", { exact: false }).waitFor();
  await emily.getByLabel("Message").fill("Hello! The new address is Harbour Street 5.");
  await emily.getByRole("button", { name: "Send" }).click();
  const thread = emily.getByRole("log", { name: /Conversation on Invoice 1042/ });
  await thread.getByText("Hello! The new address is Harbour Street 5.").waitFor();

  // The team answers (through the API); Emily refreshes the conversation.
  const requestId = new URL(emily.url()).hash.split("/")[1];
  await api("POST", `/api/admin/requests/${requestId}/messages`, { body: "Thanks Emily, we will reissue it today." }, adminToken);
  // The page sends back the D1 bookmark of its last answer, so a replica never serves it older data.
  const [reread] = await Promise.all([
    emily.waitForRequest((r) => r.method() === "GET" && r.url().includes(`/api/requests/${requestId}/messages`)),
    emily.getByRole("button", { name: "Refresh messages" }).click(),
  ]);
  assert.match(reread.headers()["x-d1-bookmark"] ?? "", /^[0-9a-f]+(-[0-9a-f]+)+$/, "the read carries the bookmark of the page's last answer");
  await thread.getByText("Thanks Emily, we will reissue it today.").waitFor();

  // She attaches the invoice; a page that only pretends to be a PDF is refused at the file field.
  const files = emily.getByRole("region", { name: "Files" });
  await files.getByText("No files yet.").waitFor();
  const attach = emily.getByLabel("Attach a file");
  await attach.setInputFiles({ name: "fake.pdf", mimeType: "application/pdf", buffer: Buffer.from("<html><script>alert(1)</script></html>") });
  await emily.getByRole("button", { name: "Upload" }).click();
  await emily.locator(".field-error", { hasText: /PDF|content|match/i }).waitFor();
  assert.equal(await attach.getAttribute("aria-invalid"), "true", "the refused file is marked at its field");
  const invoice = Buffer.from("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");
  await attach.setInputFiles({ name: "invoice-1042.pdf", mimeType: "application/pdf", buffer: invoice });
  await emily.getByRole("button", { name: "Upload" }).click();
  await files.locator(".title", { hasText: "invoice-1042.pdf" }).waitFor();
  const [saved] = await Promise.all([emily.waitForEvent("download"), files.getByRole("button", { name: "Download invoice-1042.pdf" }).click()]);
  assert.equal(saved.suggestedFilename(), "invoice-1042.pdf");
  assert.deepEqual(readFileSync(await saved.path()), invoice, "the downloaded file is the uploaded one, byte for byte");
  await check(emily, "portal-request-detail");

  await emily.getByRole("link", { name: "← All requests" }).click();
  await emily.getByRole("link", { name: "Invoice 1042 shows the wrong address" }).waitFor();
  await check(emily, "portal-requests");
});

test("the admin answers Emily's request from the console's inbox and moves it on; Emily sees both", async () => {
  // A long conversation: the page shows the latest 50 messages, older ones on demand.
  const listed = await api("GET", "/api/admin/requests", undefined, adminToken);
  const invoice = listed.items.find((r) => r.title === "Invoice 1042 shows the wrong address");
  for (let i = 1; i <= 50; i++) await api("POST", `/api/admin/requests/${invoice.id}/messages`, { body: `Checklist item ${i}` }, adminToken);
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Requests" }).click();
  await admin.getByRole("heading", { name: "Requests", level: 1 }).waitFor();
  const inbox = admin.getByRole("list", { name: "Requests" });
  await inbox.getByRole("link", { name: "Invoice 1042 shows the wrong address" }).waitFor();
  // The team answered Emily last: it is not waiting for the team, and the filter says so.
  assert.equal(await inbox.getByRole("listitem").filter({ hasText: "Invoice 1042" }).getByText("waiting for the team").count(), 0);
  await admin.getByLabel("Who wrote last").selectOption("true");
  await admin.getByText("No request matches these filters.").waitFor();
  await admin.getByLabel("Who wrote last").selectOption("false");
  await inbox.getByRole("link", { name: "Invoice 1042 shows the wrong address" }).waitFor();
  await check(admin, "governance-requests");
  // A filter that matches nothing says so.
  await admin.getByLabel("State").selectOption({ label: "Closed" });
  await admin.getByText("No request matches these filters.").waitFor();
  await admin.getByLabel("State").selectOption({ label: "Open" });
  await inbox.getByRole("link", { name: "Invoice 1042 shows the wrong address" }).click();
  await admin.getByRole("heading", { name: "Invoice 1042 shows the wrong address", level: 1 }).waitFor();
  const thread = admin.getByRole("log", { name: /Conversation on Invoice 1042/ });
  await thread.getByText("Checklist item 50", { exact: true }).waitFor();
  assert.equal(await thread.getByText("Hello! The new address is Harbour Street 5.").count(), 0, "the oldest page waits to be asked for");
  await admin.getByRole("button", { name: "Show older messages" }).click();
  await thread.getByText("Hello! The new address is Harbour Street 5.").waitFor();
  assert.equal(await admin.getByRole("button", { name: "Show older messages" }).count(), 0, "nothing older is left");
  await admin.getByLabel("Message").fill("Reissued with Harbour Street 5, see the file.");
  await admin.getByRole("button", { name: "Send" }).click();
  await thread.getByText("Reissued with Harbour Street 5, see the file.").waitFor();
  await admin.getByRole("region", { name: "Files" }).getByRole("button", { name: "Download invoice-1042.pdf" }).waitFor();
  // Moving to the stage it is already at is refused at the field; then it moves on.
  await admin.getByRole("button", { name: "Change stage" }).click();
  await admin.getByText("The request is already at this stage.").waitFor();
  await admin.getByLabel("Move to stage").selectOption("in_progress");
  await admin.getByRole("button", { name: "Change stage" }).click();
  await admin.getByText("Moved to “In progress”.").waitFor();
  await admin.getByRole("button", { name: "Start a call" }).click();
  assert.match(await admin.getByRole("link", { name: "Join the call" }).getAttribute("href"), /^https:\/\/meet\.jit\.si\/extranet-[0-9a-f]{32}$/);
  await check(admin, "governance-request-detail");

  // Emily's portal shows the reply and the new stage when she opens the request.
  await emily.getByRole("link", { name: "Invoice 1042 shows the wrong address" }).click();
  await emily.getByRole("heading", { name: "Invoice 1042 shows the wrong address" }).waitFor();
  await emily.getByText("In progress", { exact: true }).first().waitFor();
  await emily.getByRole("log", { name: /Conversation on Invoice 1042/ }).getByText("Reissued with Harbour Street 5, see the file.").waitFor();
  await emily.getByRole("link", { name: "← All requests" }).click();
});

test("the admin uploads a document in the console and publishes it for signature after the checklist", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Documents" }).click();
  await admin.getByRole("heading", { name: "Documents", level: 1 }).waitFor();
  await admin.getByText("Upload a document").click();
  const upload = admin.getByRole("form", { name: "Upload a document" });
  await upload.getByLabel("Company").selectOption({ label: "Northern Light" });
  await upload.getByLabel("Title").fill("Service agreement 2027");
  await upload.getByLabel("File").setInputFiles({ name: "agreement.txt", mimeType: "text/plain", buffer: Buffer.from("Service agreement between Vector and Northern Light.\n") });
  await check(admin, "governance-documents");
  await upload.getByRole("button", { name: "Upload draft" }).click();
  await admin.getByRole("heading", { name: "Service agreement 2027", level: 1 }).waitFor();
  await admin.getByText("draft", { exact: true }).first().waitFor();
  const publish = admin.getByRole("form", { name: "Publish the document" });
  await publish.getByLabel("Ask the client to").selectOption("sign");
  await publish.getByRole("button", { name: "Publish" }).click();
  await publish.getByText("Confirm both checks before publishing", { exact: false }).waitFor();
  await check(admin, "governance-document-publish");
  await publish.getByLabel("It holds no internal comments", { exact: false }).check();
  await publish.getByLabel("It holds only this client's data", { exact: false }).check();
  await publish.getByRole("button", { name: "Publish" }).click();
  await admin.getByText("published", { exact: true }).first().waitFor();
  await admin.getByText("No client action yet.").waitFor();
});

test("Emily signs a document with her typed name and password", async () => {

  await emily.getByRole("navigation", { name: "Portal sections" }).getByRole("link", { name: "Documents" }).click();
  await emily.getByRole("heading", { name: "Documents · Northern Light" }).waitFor();
  await emily.getByText("1 document waiting for your action.").waitFor();
  await check(emily, "portal-documents");

  const [download] = await Promise.all([emily.waitForEvent("download"), emily.getByRole("button", { name: "Download Service agreement 2027" }).click()]);
  assert.equal(download.suggestedFilename(), "Service agreement 2027.txt");

  await emily.getByRole("button", { name: "Sign", exact: true }).click();
  await emily.getByRole("heading", { name: "Sign “Service agreement 2027”" }).waitFor();
  await emily.getByLabel("Your full name").fill("Emily Carter");
  await emily.getByLabel("Your password").fill("not my password");
  await emily.getByRole("form", { name: /Sign: Service agreement 2027/ }).getByRole("button", { name: "Sign" }).click();
  await emily.getByText("The password is incorrect.").waitFor();
  assert.equal(await emily.getByLabel("Your password").getAttribute("aria-invalid"), "true", "the API's field error sits next to the password");
  await check(emily, "portal-document-sign");
  await emily.getByLabel("Your password").fill(EMILY_PASSWORD);
  await emily.getByRole("form", { name: /Sign: Service agreement 2027/ }).getByRole("button", { name: "Sign" }).click();
  await emily.getByText("Signed", { exact: true }).waitFor();
  await emily.getByText(/by Emily Carter/).waitFor();
  assert.equal(await emily.getByRole("button", { name: "Sign", exact: true }).count(), 0, "no second signature is offered");

  // The employee sees the evidence: who, the typed name, from where, and the file's hash then.
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Documents" }).click();
  await admin.getByRole("list", { name: "Documents" }).getByRole("link", { name: "Service agreement 2027" }).click();
  const evidence = admin.getByRole("list", { name: "Evidence" });
  await evidence.getByText("Signed by Emily Carter").waitFor();
  await evidence.getByText("Emily Carter", { exact: true }).waitFor();
  await evidence.getByText("matches the file").waitFor();
  await check(admin, "governance-document-evidence");
});

test("Emily's profile shows her account, password change, two-factor setup and sessions", async () => {
  await emily.getByRole("navigation", { name: "Portal sections" }).getByRole("link", { name: "Profile" }).click();
  await emily.getByRole("heading", { name: "Your sessions" }).waitFor();
  await emily.getByText("This device").waitFor();
  await check(emily, "portal-profile");
});

test("a policy change reaches Emily's open page silently: the general chat appears and she chats", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Permissions" }).click();
  await admin.getByRole("region", { name: "Northern Light (default)" }).getByText("Edit the company and contact policies").click();
  const companyForm = admin.getByRole("form", { name: "Company policy of Northern Light" });
  await companyForm.getByLabel("General chat").check();
  await companyForm.getByLabel("Telegram connection").check();
  await companyForm.getByLabel("Widget connection").check();
  await companyForm.getByRole("button", { name: "Save company policy" }).click();
  await admin.getByRole("table", { name: /Policies at Northern Light/ }).getByRole("row", { name: /^General chat/ }).getByText("✓ Allowed").nth(1).waitFor();

  // Emily's access token now carries an old policy version: her next call answers 401
  // token_stale, the page refreshes through the cookie, retries, and offers the chat.
  const nav = emily.getByRole("navigation", { name: "Portal sections" });
  await nav.getByRole("link", { name: "Documents" }).click();
  await nav.getByRole("link", { name: "Chat" }).waitFor();
  await emily.getByRole("heading", { name: "Documents · Northern Light" }).waitFor();
  await nav.getByRole("link", { name: "Chat" }).click();
  await emily.getByRole("heading", { name: "Chat · Northern Light" }).waitFor();
  await emily.getByLabel("Message").fill("Is the office open on Friday?");
  await emily.getByRole("button", { name: "Send" }).click();
  await emily.getByRole("log", { name: /General chat/ }).getByText("Is the office open on Friday?").waitFor();
  await check(emily, "portal-chat");
});

test("Emily connects a website widget (secret shown once) and Telegram, then revokes the widget", async () => {
  const nav = emily.getByRole("navigation", { name: "Portal sections" });
  await nav.getByRole("link", { name: "Channels" }).click();
  await emily.getByRole("heading", { name: "Channels · Northern Light" }).waitFor();
  await emily.getByText("No connections yet.").waitFor();
  await emily.getByRole("button", { name: "Create a widget connection" }).click();
  const secret = emily.getByLabel("Signing secret");
  await secret.waitFor();
  assert.ok((await secret.inputValue()).length >= 32, "the signing secret is shown");
  assert.match(await emily.getByLabel("Webhook address").inputValue(), /\/webhooks\/widget\/[0-9a-f-]{36}$/);
  await emily.getByText("This secret is shown only once.").waitFor();
  const connections = emily.getByRole("list", { name: "Your connections" });
  await connections.getByText("Website widget").waitFor();
  await check(emily, "portal-channels");

  await emily.getByRole("button", { name: "Connect Telegram" }).click();
  const open = emily.getByRole("link", { name: /Open Telegram/ });
  await open.waitFor();
  assert.match(await open.getAttribute("href"), /^https:\/\/t\.me\/vector_portal_bot\?start=[A-Za-z0-9_-]{43}$/);

  await connections.getByRole("button", { name: "Revoke" }).click();
  await emily.getByRole("dialog", { name: /Revoke this widget connection/ }).getByRole("button", { name: "Revoke" }).click();
  await connections.getByText("revoked").waitFor();
  assert.equal(await connections.getByRole("button", { name: "Revoke" }).count(), 0);
});

test("Emily turns on two-factor authentication and signs in with a code", async () => {
  await emily.getByRole("navigation", { name: "Portal sections" }).getByRole("link", { name: "Profile" }).click();
  // A first enrolment is a step-up: the password first.
  await emily.locator("form", { has: emily.getByRole("button", { name: "Set up authenticator" }) }).getByLabel("Your password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Set up authenticator" }).click();
  const secret = await emily.getByLabel("Secret key (add by hand)").inputValue();
  const uri = await emily.getByLabel("Setup URI (otpauth)").inputValue();
  assert.match(uri, /^otpauth:\/\/totp\//);
  // The QR code, read back by an independent decoder, is the setup URI.
  const qr = emily.getByRole("img", { name: "QR code of the setup URI, for the authenticator app" });
  assert.equal(decodeQr(await qr.getAttribute("viewBox"), await qr.locator("path").getAttribute("d")), uri);
  await check(emily, "portal-totp-setup");
  await emily.getByLabel("Code from the app").fill("000000");
  await emily.getByRole("button", { name: "Confirm and turn on" }).click();
  await emily.getByText(/incorrect|invalid|wrong/i).first().waitFor();
  await emily.getByLabel("Code from the app").fill(totp(secret));
  await emily.getByRole("button", { name: "Confirm and turn on" }).click();
  await emily.getByRole("heading", { name: /Two-factor authentication/ }).getByText("Off").waitFor({ state: "detached" });
  await emily.getByText("A code from your authenticator app is asked at sign-in").waitFor();

  await emily.getByRole("button", { name: "Sign out" }).click();
  await emily.getByLabel("Login").fill("emily.carter@northernlight.example");
  await emily.getByLabel("Password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Sign in" }).click();
  const code = emily.getByLabel("Authenticator code");
  await code.waitFor();
  assert.equal(await code.getAttribute("aria-invalid"), "true", "the API's mfa_required lands on the code field");
  await check(emily, "portal-login-code");
  // Each code works once: the next step's code (within the allowed drift) signs in.
  await code.fill(totp(secret, 1));
  await emily.getByRole("button", { name: "Verify and sign in" }).click();
  // Signed in again where she was: the profile, now with two-factor on.
  await emily.getByRole("heading", { name: "Profile" }).waitFor();
  await emily.getByRole("button", { name: "Replace authenticator" }).waitFor();
});

test("the admin governs Emily's account from the users page: sessions, two-factor, lockout", async () => {
  const nav = admin.getByRole("navigation", { name: "Console sections" });
  await nav.getByRole("link", { name: "Users" }).click();
  await admin.getByRole("heading", { name: "Users", level: 1 }).waitFor();
  await admin.getByLabel("Find a user").fill("Emily");
  const users = admin.getByRole("list", { name: "Users" });
  const row = users.getByRole("listitem").filter({ hasText: "Emily Carter" });
  await row.getByText("two-factor on").waitFor();
  await check(admin, "governance-users");
  await row.getByRole("link", { name: "Emily Carter" }).click();
  await admin.getByRole("heading", { name: "Emily Carter", level: 1 }).waitFor();
  const sessions = admin.getByRole("list", { name: "Sessions of Emily Carter" });
  await sessions.getByText("live").first().waitFor();
  assert.ok((await sessions.getByRole("button", { name: "End this session" }).count()) >= 1, "a live session can be ended on its own");
  await check(admin, "governance-user-detail");

  // Ending her sessions: her open page meets it at its next action.
  await admin.getByRole("button", { name: "End all sessions" }).click();
  await admin.getByRole("dialog", { name: /End all of Emily Carter's sessions/ }).getByRole("button", { name: "End all sessions" }).click();
  await admin.getByText("Emily Carter's sessions ended.").waitFor();
  await emily.getByRole("navigation", { name: "Portal sections" }).getByRole("link", { name: "Requests" }).click();
  await emily.getByRole("heading", { name: "Sign in" }).waitFor();

  // Blocked, she cannot sign in (the same answer as a wrong password); unblocked, she can again.
  await admin.getByRole("button", { name: "Block" }).click();
  await admin.getByRole("dialog", { name: /Block Emily Carter/ }).getByRole("button", { name: "Block" }).click();
  await admin.getByText("Emily Carter is blocked; their sessions ended.").waitFor();
  await admin.getByText("blocked", { exact: true }).first().waitFor();
  await emily.getByLabel("Login").fill("emily.carter@northernlight.example");
  await emily.getByLabel("Password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Sign in" }).click();
  await emily.getByText("The login or password is incorrect.").waitFor();
  await admin.getByRole("button", { name: "Unblock" }).click();
  await admin.getByRole("dialog", { name: /Unblock Emily Carter/ }).getByRole("button", { name: "Unblock" }).click();
  await admin.getByText("Emily Carter is unblocked.").waitFor();

  // Her authenticator is reset: she signs in with her password alone afterwards.
  await admin.getByRole("button", { name: "Reset two-factor" }).click();
  await admin.getByRole("dialog", { name: /Reset Emily Carter's two-factor/ }).getByRole("button", { name: "Reset two-factor" }).click();
  await admin.getByText("two-factor off").waitFor();

  // Five wrong passwords lock her out; the right one is then refused until the admin unlocks her.
  for (let i = 0; i < 5; i++) {
    await worker.fetch("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": `10.77.0.${i + 1}` },
      body: JSON.stringify({ login: "emily.carter@northernlight.example", password: `not her password ${i}` }),
    });
  }
  await admin.reload();
  await admin.getByRole("heading", { name: "Emily Carter", level: 1 }).waitFor();
  await admin.getByText("locked", { exact: true }).waitFor();
  await emily.getByLabel("Login").fill("emily.carter@northernlight.example");
  await emily.getByLabel("Password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Sign in" }).click();
  // A locked account answers like a wrong password (no account probing); the console says why.
  await emily.getByText("The login or password is incorrect.").waitFor();
  await admin.getByRole("button", { name: "Unlock" }).click();
  await admin.getByRole("dialog", { name: /Unlock Emily Carter/ }).getByRole("button", { name: "Unlock" }).click();
  await admin.getByText("Emily Carter is unlocked.").waitFor();
  await emily.getByRole("button", { name: "Sign in" }).click();
  await emily.getByRole("navigation", { name: "Portal sections" }).getByRole("link", { name: "Profile" }).click();
  await emily.getByRole("heading", { name: "Profile" }).waitFor();
});

test("the admin invites a manager for Northern Light and the link to hand over is shown once", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Users" }).click();
  await admin.getByRole("heading", { name: "Users", level: 1 }).waitFor();
  await admin.getByText("Invite an employee").click();
  const form = admin.getByRole("form", { name: "Invite an employee" });
  await form.getByLabel("First name").fill("Marta");
  await form.getByLabel("Last name").fill("Lind");
  await form.getByLabel("Login").fill("marta.lind");
  await form.getByLabel("Email").fill("not an email");
  await form.getByLabel("Northern Light").check();
  await form.getByRole("button", { name: "Invite employee" }).click();
  // The API's field error sits at the email.
  await form.locator('input[name="email"][aria-invalid="true"]').waitFor();
  await form.getByLabel("Email").fill("marta.lind@vector.example");
  await form.getByRole("button", { name: "Invite employee" }).click();
  const link = await form.getByLabel("Activation link").inputValue();
  assert.match(link, /\/activate#[A-Za-z0-9_-]{20,}$/);
  await form.getByText("The link was emailed to marta.lind@vector.example", { exact: false }).waitFor();
  await check(admin, "governance-employee-invited");
  await form.getByRole("link", { name: "Open Marta Lind" }).click();
  await admin.getByRole("heading", { name: "Marta Lind", level: 1 }).waitFor();
  const role = admin.getByRole("form", { name: "Role and companies" });
  assert.equal(await role.getByLabel("Northern Light").isChecked(), true);
  assert.equal(await role.getByLabel("Blue Harbor").isChecked(), false);

  // Marta activates her invitation and works in the console: only Northern Light is hers.
  await api("POST", "/api/admin/documents", {
    company_id: ids.blueHarbor, title: "Blue Harbor price list", content_type: "text/plain",
    content_base64: Buffer.from("Prices for Blue Harbor.\n").toString("base64"),
  }, adminToken);
  const marta = await openPage(browser, worker.url);
  try {
    await marta.goto(link.replace(/^https?:\/\/[^/]+/, ""));
    await marta.getByRole("heading", { name: "Welcome, Marta" }).waitFor();
    await marta.getByLabel("New password").fill("copper lantern meadow 77");
    await marta.getByLabel("Repeat the password").fill("copper lantern meadow 77");
    await marta.getByRole("button", { name: "Activate and sign in" }).click();
    await marta.waitForURL(`${worker.url}/`);
    // Let the portal finish signing in (its refresh rotates the cookie) before leaving the page:
    // a refresh cut off by a navigation leaves the browser with a cookie already used.
    await marta.getByRole("link", { name: "Open the governance console" }).waitFor();
    await marta.goto("/extranet-governance#requests");
    await marta.getByRole("heading", { name: "Requests", level: 1 }).waitFor();
    assert.deepEqual(await marta.getByLabel("Company").locator("option").allInnerTexts(), ["All companies", "Northern Light"], "a manager's filters list only their companies");
    await marta.getByRole("list", { name: "Requests" }).getByRole("link", { name: "Invoice 1042 shows the wrong address" }).waitFor();
    await marta.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Documents" }).click();
    const docs = marta.getByRole("list", { name: "Documents" });
    await docs.getByRole("link", { name: "Service agreement 2027" }).waitFor();
    assert.equal(await docs.getByText("Blue Harbor price list").count(), 0, "another company's document is not there");
    await check(marta, "governance-manager-documents");
    assert.deepEqual(await problems(marta), []);
  } finally {
    await marta.context().close();
  }
});

test("the admin disables the link and Emily's open page loses access at its next action", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Client links" }).click();
  await admin.getByRole("link", { name: "Emily Carter" }).click();
  await admin.getByRole("heading", { name: "Emily Carter" }).waitFor();
  // Her first sign-in made the link review-due: the guide's second check after the first login.
  const firstLogin = admin.getByText("has signed in for the first time. Check the access once more", { exact: false });
  await firstLogin.waitFor();
  await check(admin, "governance-link-detail");
  await admin.getByRole("button", { name: "Mark access as reviewed" }).click();
  await firstLogin.waitFor({ state: "detached" });
  await admin.getByText("Access review recorded.").first().waitFor();
  // The channel links name their company (the widget Emily revoked is there, at Northern Light).
  await admin.getByRole("list", { name: "Channel links of this link" }).getByText("Northern Light", { exact: false }).first().waitFor();
  // A review date is set from the page.
  await admin.getByLabel("Review access by").fill("2027-03-31");
  await admin.getByRole("button", { name: "Set review date" }).click();
  await admin.getByText("Review date set.").first().waitFor();
  await admin.getByText(/by 31 Mar 2027/).waitFor();
  // The link's companies are edited in place: Blue Harbor out, then back in.
  const companies = admin.getByRole("form", { name: "Companies of this link" });
  await companies.getByLabel("Blue Harbor").uncheck();
  await companies.getByRole("button", { name: "Save companies" }).click();
  await admin.getByText("Companies saved.").first().waitFor();
  assert.equal(await admin.getByRole("form", { name: "Companies of this link" }).getByLabel("Blue Harbor").isChecked(), false);
  await admin.getByRole("form", { name: "Companies of this link" }).getByLabel("Blue Harbor").check();
  // The page renders afresh after a save: wait for the new forms, not the ones being replaced.
  await admin.evaluate(() => document.querySelectorAll("form").forEach((f) => (f.dataset.stale = "1")));
  await admin.getByRole("form", { name: "Companies of this link" }).getByRole("button", { name: "Save companies" }).click();
  await admin.waitForFunction(() => document.querySelector('select[name="responsible_id"]')?.closest("form")?.dataset.stale === undefined);
  await admin.getByRole("form", { name: "Companies of this link" }).getByLabel("Blue Harbor").and(admin.locator(":checked")).waitFor();
  // The admin created the link, so she answers for it; Marta manages only Northern Light, so she
  // cannot answer for a link that also holds Blue Harbor: the refusal sits at the field.
  await admin.getByText("Vera Vector", { exact: true }).first().waitFor();
  const responsible = admin.getByRole("form", { name: "Responsible employee" });
  await responsible.getByLabel("Responsible employee").selectOption({ label: "Marta Lind · manager" });
  await responsible.getByRole("button", { name: "Set responsible" }).click();
  await responsible.getByText("The responsible must govern every company of the link", { exact: false }).waitFor();
  await check(admin, "governance-link-responsible");
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Client links" }).click();
  await admin.getByLabel("Only links I answer for").check();
  await admin.getByRole("list", { name: "Client links" }).getByText("responsible: Vera Vector").waitFor();
  await admin.getByRole("link", { name: "Emily Carter" }).click();
  await admin.getByRole("heading", { name: "Emily Carter" }).waitFor();
  await admin.getByRole("button", { name: "Disable link" }).click();
  const dialog = admin.getByRole("dialog", { name: /Disable Emily Carter's access/ });
  await dialog.getByRole("button", { name: "Disable link" }).click();
  await admin.getByRole("button", { name: "Enable link" }).waitFor();

  // The permissions page says why in a sentence, naming the level, never "[object Object]".
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Permissions" }).click();
  await admin.getByText("Everything is denied at the link level", { exact: false }).first().waitFor();
  assert.ok(!(await admin.locator("main").innerText()).includes("[object Object]"), "no object printed as text on the permissions page");
  await check(admin, "governance-permissions-link-denied");

  // Emily's page is still open on her profile; her next action meets the ended session.
  await emily.getByRole("navigation", { name: "Portal sections" }).getByRole("link", { name: "Requests" }).click();
  await emily.getByRole("heading", { name: "Sign in" }).waitFor();
  await emily.getByText("Your session has ended or your access has changed.", { exact: false }).waitFor();
  await check(emily, "portal-session-ended");
  await emily.getByLabel("Login").fill("emily.carter@northernlight.example");
  await emily.getByLabel("Password").fill(EMILY_PASSWORD);
  await emily.getByRole("button", { name: "Sign in" }).click();
  await emily.getByText("The login or password is incorrect.").waitFor();
});

test("diagnostics walks the chain and shows where it fails", async () => {
  await admin.getByRole("link", { name: "Diagnostics" }).first().click();
  await admin.getByRole("heading", { name: "Diagnostics" }).waitFor();
  await admin.getByLabel("Object", { exact: true }).selectOption({ label: "Invoice 1042 shows the wrong address · Support · Northern Light" });
  await admin.getByRole("button", { name: "Check access" }).click();
  const chain = admin.getByRole("list", { name: "Decision chain" });
  await chain.waitFor();
  await admin.getByText("Denied.", { exact: false }).waitFor();
  await chain.getByText("✗ fail").first().waitFor();
  assert.match(await chain.locator("li.fail").first().innerText(), /Link/);
  await check(admin, "governance-diagnostics");

  // The whole link at once: every company, its chain, where it fails.
  await admin.getByRole("button", { name: "Check the whole link" }).click();
  const north = admin.getByRole("list", { name: "Decision chain at Northern Light" });
  await north.waitFor();
  await north.getByText("✗ fail").first().waitFor();
  assert.match(await north.locator("li.fail").first().innerText(), /Link/);
  await check(admin, "governance-diagnostics-whole-link");
});

test("the other console sections work: security (with a range error), channel links, audit log", async () => {
  const nav = admin.getByRole("navigation", { name: "Console sections" });
  await nav.getByRole("link", { name: "Security" }).click();
  await admin.getByLabel("Minimum length (characters)").waitFor();
  await admin.getByLabel("Minimum length (characters)").fill("4");
  await admin.getByRole("button", { name: "Save security settings" }).click();
  await admin.getByText("password.min_length must be between 8 and 128").waitFor();
  assert.equal(await admin.getByLabel("Minimum length (characters)").getAttribute("aria-invalid"), "true");
  await check(admin, "governance-security");

  await nav.getByRole("link", { name: "Channel links" }).click();
  const channelLinks = admin.getByRole("list", { name: "Channel links" });
  await channelLinks.getByText("emily.carter@northernlight.example · Northern Light").waitFor();
  await channelLinks.getByText("revoked", { exact: true }).waitFor();
  await check(admin, "governance-channel-links");

  await nav.getByRole("link", { name: "Audit log" }).click();
  await admin.getByRole("table", { name: /Audit events/ }).getByText("link.", { exact: false }).first().waitFor();
  await admin.getByLabel("Action").fill("document.*");
  await admin.getByRole("button", { name: "Show events" }).click();
  await admin.getByText("document.signed").waitFor();
  await check(admin, "governance-audit");

  await nav.getByRole("link", { name: "Delivery" }).click();
  const email = admin.getByRole("region", { name: "Email" });
  await email.getByText("portal@mail.vector.example").waitFor();
  const crm = admin.getByRole("region", { name: "CRM webhooks" });
  await crm.getByText("CRM_WEBHOOK_URL is not set", { exact: false }).waitFor();
  await admin.getByRole("button", { name: "Deliver now" }).click();
  await admin.getByText(/Delivered \d+ message/).waitFor();
  await check(admin, "governance-delivery");
});

test("offboarding revokes the link and reports open requests", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Offboarding" }).click();
  await admin.getByRole("heading", { name: "Offboarding" }).waitFor();
  await admin.getByLabel(/Revoke/).check();
  await admin.getByRole("button", { name: "Offboard" }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "Revoke and offboard" }).click();
  await admin.getByRole("heading", { name: "Offboarding report" }).waitFor();
  await admin.getByText("Invoice 1042 shows the wrong address · In progress").waitFor();
  await check(admin, "governance-offboarding");
});

test("the admin previews and saves the portal's branding", async () => {
  await admin.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Branding" }).click();
  await admin.getByRole("heading", { name: "Branding", level: 1 }).waitFor();
  const preview = admin.getByRole("region", { name: "Preview" });
  await admin.getByLabel("Portal name").fill("Vector Client Space");
  await preview.getByText("Vector Client Space").waitFor();
  await admin.getByLabel("Primary colour", { exact: false }).first().fill("nope");
  await admin.getByText("The colour must be #rrggbb.").waitFor();
  await admin.getByLabel("Primary colour", { exact: false }).first().fill("#ffe066");
  await admin.getByText(/Too light for readable text: the portal uses #[0-9a-f]{6} instead\./).waitFor();
  await check(admin, "governance-branding");
  await admin.getByRole("button", { name: "Save branding" }).click();
  await admin.getByText("Branding saved", { exact: false }).waitFor();
  const saved = await (await worker.fetch("/api/branding")).json();
  assert.deepEqual([saved.portal_name, saved.primary_color], ["Vector Client Space", "#ffe066"]);
});

test("no page broke its CSP, threw, or reached outside the worker", async () => {
  assert.deepEqual(await problems(admin), []);
  assert.deepEqual(await problems(emily), []);
});

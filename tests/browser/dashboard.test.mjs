// One walk through Talon's dashboard in a headless Chromium, in the order of the issue: register, create an
// agent, edit its prompt (a new version), compare two versions (the diff), open a version, fork, see the
// lineage, deploy, evaluate two versions on a dataset (its report), chat in the playground (the answer
// streams in), create, use and revoke an API key, create a webhook and see a signed test ping delivered,
// create a task and see it complete, then usage, the marketplace (a gig, a proposal accepted, the
// contract), the agents list, an error page and signing out.
// Every page is checked with axe-core (no serious or critical violation) and saved as a full-page
// screenshot `<nn>-<name>.png` in $BROWSER_OUT (default tests/browser/out); a script error, a CSP refusal
// or a failed request in any page fails the run too.
//
// Selectors are the accessible names and URLs of the contract the pages keep (see the dashboard brief):
// labels, button names, a few ids (`#new-key`, `#deliveries`, ...). Run with tests/browser/run.sh, which
// starts a server and sets TALON_URL.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const base = (process.env.TALON_URL ?? "").replace(/\/$/, "");
const out = path.resolve(process.env.BROWSER_OUT ?? path.join(here, "out"));
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
// How long a live region (refreshed every 2 s) may take to show what the test waits for.
const LIVE_WAIT_MS = 30_000;

// The server is a fresh one (run.sh starts it on an empty data dir); the address shows in the screenshots.
const email = "ada@example.com";
const password = "browser-test-password-1";
const agent = { name: "Support bot", slug: "support-bot", model: "test/echo" };
const firstPrompt = "You are Talon's support agent.\nAnswer in one short paragraph.\nNever share secrets.";
const secondPrompt = "You are Talon's support agent.\nAnswer in two short sentences.\nNever share secrets.";
const chatMessage = "Hello from the browser test, please echo this";
const taskMessage = "Summarise ticket 42 for the browser test";

let browser;
let context;
let page;
let receiver;
const received = []; // the webhook requests the receiver got: { headers, body }
const axeResults = []; // one per page checked: { name, url, violations }
const scriptProblems = []; // script errors, CSP refusals and failed requests seen in any page
let shotNumber = 0;
// What earlier steps established; a later step that needs it fails at once when it is missing instead of
// timing out on a page it cannot reach.
const made = {};

function need(...keys) {
  const missing = keys.filter((k) => made[k] === undefined);
  if (missing.length === 0) return;
  const error = new Error(`not run: an earlier step failed to establish ${missing.join(", ")}`);
  error.stack = error.message; // the earlier step's failure is the one to read
  throw error;
}

before(async () => {
  assert.ok(base, "TALON_URL must name the server under test (tests/browser/run.sh sets it)");
  mkdirSync(out, { recursive: true });
  // The screenshots of an earlier run would mix with this run's.
  for (const file of readdirSync(out).filter((f) => /^\d\d-.+\.png$/.test(f))) rmSync(path.join(out, file));
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("received by the browser test");
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"], headless: true });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: base });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  // Forms with `data-confirm` ask before submitting; the test means it.
  page.on("dialog", (dialog) => dialog.accept());
  // A script error or a CSP refusal (an inline style or script slipped into a page) fails the last step.
  page.on("pageerror", (error) => scriptProblems.push(`${page.url()}: ${error.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/.test(m.text())) {
      scriptProblems.push(`${page.url()}: ${m.text()}`);
    }
  });
  // A page's own request that fails (a missing asset, a live region's refresh); the browser's own
  // /favicon.ico guess is not the page's.
  page.on("response", (r) => {
    const url = new URL(r.url());
    if (r.status() >= 400 && r.request().resourceType() !== "document" && url.pathname !== "/favicon.ico") {
      scriptProblems.push(`${page.url()}: ${r.request().method()} ${url.pathname}${url.search} answered ${r.status()}`);
    }
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve()));
  if (axeResults.length > 0) {
    console.log("\naxe-core, per page (serious + critical / all violations):");
    for (const r of axeResults) {
      const bad = r.violations.filter(isBlocking);
      const ids = r.violations.map((v) => `${v.id}(${v.impact})`).join(", ");
      console.log(`  ${r.name.padEnd(22)} ${bad.length} / ${r.violations.length}${ids ? `  ${ids}` : ""}`);
    }
  }
});

function isBlocking(violation) {
  return violation.impact === "serious" || violation.impact === "critical";
}

// Runs axe-core on the current page. The CSP allows only this server's scripts, so a <script> tag
// (`addScriptTag`, inline or by path) is refused; Playwright's `evaluate` runs through the DevTools
// protocol, which the CSP does not govern, so the page's own policy stays on while axe checks it.
async function axe() {
  const loaded = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!loaded) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
}

// The page as it is now: a full-page screenshot `<nn>-<name>.png`, then axe-core, as a subtest of `t`
// that fails on any serious or critical violation (listing each with its rule, help and elements).
async function checkPage(t, name) {
  await page.waitForLoadState("load");
  shotNumber += 1;
  const file = path.join(out, `${String(shotNumber).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  const url = new URL(page.url()).pathname + new URL(page.url()).search;
  const violations = await axe();
  axeResults.push({ name, url, violations });
  await t.test(`axe-core: ${name} (${url})`, () => {
    const blocking = violations.filter(isBlocking);
    const report = blocking
      .map((v) => [`  ${v.id} [${v.impact}]: ${v.help} (${v.helpUrl})`, ...v.targets.map((s) => `      element: ${s}`)])
      .flat()
      .join("\n");
    assert.equal(blocking.length, 0, `serious or critical accessibility violations on ${url}:\n${report}`);
  });
}

async function goto(pathAndQuery) {
  const response = await page.goto(pathAndQuery);
  assert.ok(response, `no answer for ${pathAndQuery}`);
  assert.equal(response.status(), 200, `GET ${pathAndQuery} answered ${response.status()}`);
}

// Presses a form's button and waits for the page the form leads to. `waitForURL` would not do when the
// answer is the page the browser is already on (a POST redirected back to it): it returns at once.
async function submit(button) {
  const navigated = page.waitForEvent("framenavigated", { predicate: (frame) => frame === page.mainFrame() });
  await button.click();
  await navigated;
  await page.waitForLoadState("load");
}

// Fills a field that may be an input, a textarea or a select (e.g. "Model").
async function setField(locator, value) {
  const tag = await locator.evaluate((el) => el.tagName.toLowerCase());
  if (tag === "select") await locator.selectOption(value);
  else await locator.fill(value);
}

// Chooses the option of `select` whose value or text contains `text` (an agent's slug: the option's value
// may be the slug or the id, its text names the agent).
async function selectOptionContaining(select, text) {
  const options = await select
    .locator("option")
    .evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
  const option =
    options.find((o) => o.value === text) ??
    options.find((o) => o.text.includes(`(${text})`)) ??
    options.find((o) => o.text.includes(text));
  assert.ok(option, `an option for ${text} among ${JSON.stringify(options)}`);
  await select.selectOption(option.value);
}

// The form that holds the button named `button` (pages have more than one form; labels repeat).
function formWith(button) {
  return page.locator("form").filter({ has: page.getByRole("button", { name: button, exact: true }) });
}

// `X-Talon-Signature` as a receiver checks it: `sha256=` and the hex HMAC-SHA256 of the raw body.
function signature(secret, body) {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

// Polls `condition` (something outside the page, like the receiver's log) until it holds.
async function waitUntil(condition, what, timeoutMs = LIVE_WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function sessionToken() {
  const cookie = (await context.cookies(base)).find((c) => c.name === "talon_session");
  assert.ok(cookie, "no talon_session cookie");
  return cookie.value;
}

// A call to the server's API from Node (not the browser): `{ status, body }`.
async function api(pathAndQuery, token, { method = "GET", body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(base + pathAndQuery, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

// `api`, asserting a 2xx answer; the body's `data` when it has one (the marketplace's envelope).
async function apiOk(pathAndQuery, token, options) {
  const answer = await api(pathAndQuery, token, options);
  const said = `${options?.method ?? "GET"} ${pathAndQuery}: ${answer.status} ${JSON.stringify(answer.body)}`;
  assert.ok(answer.status >= 200 && answer.status < 300, said);
  return answer.body?.data ?? answer.body;
}

test("the dashboard, page by page", async (t) => {
  await t.test("a browser without a session is sent to sign in, and registers", async (t) => {
    await page.goto("/");
    assert.match(new URL(page.url()).pathname, /^\/login/, "/ without a session shows the sign-in page");
    await checkPage(t, "login");
    await page.getByRole("link", { name: "Register" }).click();
    await page.waitForURL("**/register");
    await checkPage(t, "register");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Register" }).click();
    await page.waitForURL("**/agents");
    made.registered = true;
  });

  await t.test("create an agent", async (t) => {
    need("registered");
    await goto("/agents");
    await checkPage(t, "agents-empty");
    const form = formWith("Create agent");
    await form.getByLabel("Name", { exact: true }).fill(agent.name);
    await form.getByLabel("Slug (optional)").fill(agent.slug);
    await setField(form.getByLabel("Model"), agent.model);
    await form.getByLabel("Prompt").fill(firstPrompt);
    await form.getByRole("button", { name: "Create agent" }).click();
    await page.waitForURL(`**/agents/${agent.slug}`);
    await assert.doesNotReject(
      page.getByRole("heading", { level: 1, name: agent.name }).waitFor(),
      "the agent page's h1 is the agent's name",
    );
    made.agent = agent.slug;
    await checkPage(t, "agent-created");

    // The list finds it by search, each name a link to the agent's page.
    await goto("/agents");
    await page.getByLabel("Search agents").fill("support");
    await page.getByLabel("Search agents").press("Enter");
    await page.waitForURL(/[?&]q=support/);
    const link = page.getByRole("link", { name: agent.name, exact: true });
    assert.equal(await link.getAttribute("href"), `/agents/${agent.slug}`);
    await page.getByLabel("Search agents").fill("no-such-words");
    await submit(page.getByRole("button", { name: "Search" }));
    const found = await page.getByRole("link", { name: agent.name, exact: true }).count();
    assert.equal(found, 0, "a search that matches nothing");
    await goto("/agents");
    await checkPage(t, "agents");
  });

  await t.test("edit the prompt: a new version appears", async (t) => {
    need("agent");
    await goto(`/agents/${agent.slug}`);
    const versionsBefore = await page.getByLabel("To", { exact: true }).locator("option").count();
    await page.getByLabel("Prompt").fill(secondPrompt);
    await page.getByLabel("Commit message").fill("Shorter answers");
    await submit(page.getByRole("button", { name: "Commit version" }));
    assert.equal(new URL(page.url()).pathname, `/agents/${agent.slug}`, "back on the agent's page");
    const options = await page
      .getByLabel("To", { exact: true })
      .locator("option")
      .evaluateAll((os) => os.map((o) => o.value));
    assert.equal(options.length, versionsBefore + 1, `the version selects list one more version: ${options}`);
    assert.ok(options.includes("2"), `version 2 is offered for comparison: ${options}`);
    assert.ok(await page.getByText("Shorter answers").first().isVisible(), "the timeline shows the commit message");
    made.version2 = true;
    await checkPage(t, "agent");
  });

  await t.test("compare two versions: the diff shows the changed lines", async (t) => {
    need("version2");
    await goto(`/agents/${agent.slug}`);
    const form = formWith("Compare");
    await form.getByLabel("From", { exact: true }).selectOption("1");
    await form.getByLabel("To", { exact: true }).selectOption("2");
    await form.getByRole("button", { name: "Compare" }).click();
    await page.waitForURL(`**/agents/${agent.slug}/compare?*`);
    const query = new URL(page.url()).searchParams;
    assert.equal(query.get("from"), "1");
    assert.equal(query.get("to"), "2");
    const removed = await page.locator("table.diff td.del").allTextContents();
    const added = await page.locator("table.diff td.ins").allTextContents();
    const removedLine = "Answer in one short paragraph.";
    assert.ok(removed.some((l) => l.includes(removedLine)), `removed lines: ${JSON.stringify(removed)}`);
    assert.ok(added.some((l) => l.includes("Answer in two short sentences.")), `added lines: ${JSON.stringify(added)}`);
    for (const unchanged of ["Never share secrets."]) {
      assert.ok(!removed.concat(added).some((l) => l.includes(unchanged)), `"${unchanged}" is not marked as changed`);
    }
    await checkPage(t, "compare");
  });

  await t.test("one version, a fork, the lineage", async (t) => {
    need("version2");
    await goto(`/agents/${agent.slug}`);
    await page.getByRole("link", { name: "Version 1", exact: true }).first().click();
    await page.waitForURL(`**/agents/${agent.slug}/versions/1`);
    assert.ok(await page.getByText("Answer in one short paragraph.").first().isVisible(), "version 1's prompt");
    await checkPage(t, "version");

    await goto(`/agents/${agent.slug}`);
    await page.getByLabel("Fork name (optional)").fill("Support bot EU");
    await page.getByRole("button", { name: "Fork", exact: true }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/agents/") && url.pathname !== `/agents/${agent.slug}`);
    await page.getByRole("heading", { level: 1, name: "Support bot EU" }).waitFor();

    await goto(`/agents/${agent.slug}`);
    await page.getByRole("link", { name: "Lineage" }).click();
    await page.waitForURL(`**/agents/${agent.slug}/lineage`);
    await page.locator("svg.lineage").waitFor();
    const nodes = await page.locator("svg.lineage a title").allTextContents();
    assert.ok(nodes.some((n) => n.startsWith("Support bot EU")), `the tree shows the fork: ${JSON.stringify(nodes)}`);
    await checkPage(t, "lineage");
  });

  await t.test("deploy the head version", async (t) => {
    need("version2");
    await goto(`/agents/${agent.slug}`);
    await submit(page.getByRole("button", { name: "Deploy", exact: true }));
    assert.equal(new URL(page.url()).pathname, `/agents/${agent.slug}`, "back on the agent's page");
    // The API (with the session's token) says what is served: the head, which is version 2. A null
    // deployedVersionId means "the head, following new versions", what the Deploy button's default deploys.
    const shown = await api(`/api/agents/${agent.slug}`, await sessionToken());
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.status, "deployed", `the agent is deployed: ${JSON.stringify(shown.body)}`);
    assert.equal(shown.body.currentVersion?.versionNumber, 2, "the head is version 2");
    assert.ok([null, shown.body.currentVersionId].includes(shown.body.deployedVersionId), "the head is served");
    made.deployed = true;
    await checkPage(t, "agent-deployed");
  });

  await t.test("the audit log names the deploy and who made it", async (t) => {
    need("deployed");
    await goto(`/agents/${agent.slug}`);
    const recent = page.getByRole("region", { name: "Recent changes" });
    assert.ok(await recent.getByText("agent.deployed").first().isVisible(), "the agent's page lists the deploy");
    await page.getByRole("link", { name: "The whole audit log" }).click();
    await page.waitForURL(`**/agents/${agent.slug}/audit`);
    const first = page.locator("table tbody tr").first();
    assert.match(await first.innerText(), /A session sess_[0-9a-f]{32}\s+agent\.deployed/, "newest first, by this session");
    await checkPage(t, "audit");
  });

  await t.test("evaluations: a dataset, an evaluation of two versions, its report", async (t) => {
    need("version2");
    await goto(`/agents/${agent.slug}`);
    await page.getByRole("region", { name: "Evaluations" }).getByRole("link", { name: "Datasets and evaluations" }).click();
    await page.waitForURL(`**/agents/${agent.slug}/evaluations`);
    // test/echo repeats the input: `greets` passes, `refuses` fails, on both versions.
    const dataset = {
      description: "What the support bot must answer",
      cases: [
        { name: "greets", input: "hello from the browser test", checks: [{ type: "contains", value: "hello" }] },
        { name: "refuses", input: "say yes", checks: [{ type: "exact", value: "no" }] },
      ],
    };
    const create = formWith("Create dataset");
    await create.getByLabel("Dataset name").fill("smoke");
    await create.getByLabel("Cases (JSON)").fill(JSON.stringify(dataset, null, 2));
    await submit(create.getByRole("button", { name: "Create dataset" }));
    assert.equal(new URL(page.url()).pathname, `/agents/${agent.slug}/datasets/smoke`, "on the dataset's page");
    for (const name of ["greets", "refuses"]) {
      assert.ok(await page.getByRole("cell", { name, exact: true }).isVisible(), `the case ${name} is listed`);
    }
    await checkPage(t, "dataset");

    await goto(`/agents/${agent.slug}/evaluations`);
    const start = formWith("Start evaluation");
    await start.getByLabel("Dataset", { exact: true }).selectOption("smoke");
    assert.ok(await start.getByLabel("Version 2 (head)").isChecked(), "the head is checked by default");
    await start.getByLabel("Version 1", { exact: true }).check();
    await submit(start.getByRole("button", { name: "Start evaluation" }));
    assert.match(new URL(page.url()).pathname, new RegExp(`^/agents/${agent.slug}/evaluations/eval_[0-9a-f]{32}$`));
    const reportPath = new URL(page.url()).pathname;
    // A running report refreshes itself (its live region) until the evaluation completes.
    await page.locator("#evaluation-report .badge.completed").waitFor({ timeout: LIVE_WAIT_MS });
    const versions = page.getByRole("region", { name: "Versions" });
    for (const n of [1, 2]) {
      const row = versions.getByRole("row").filter({ has: page.getByRole("link", { name: `Version ${n}`, exact: true }) });
      assert.match(await row.innerText(), /50 %/, `version ${n} passed half of the cases`);
    }
    const cases = page.getByRole("table", { name: "Each case's result per version" });
    assert.ok(await cases.getByText("passed").first().isVisible(), "a passed case");
    assert.ok(await cases.getByText("failed").first().isVisible(), "a failed case");
    assert.equal(await page.getByRole("button", { name: "Cancel evaluation" }).count(), 0, "nothing to cancel");
    console.log(`evaluation: ${reportPath} completed`);
    made.evaluated = true;
    // Loaded again, the completed report is no live region: nothing changes under axe.
    await goto(reportPath);
    assert.equal(await page.locator("#evaluation-report[data-live]").count(), 0, "a completed report stays as it is");
    await checkPage(t, "evaluation-report");

    await goto(`/agents/${agent.slug}/evaluations`);
    const listed = page.getByRole("row").filter({ has: page.locator(`a[href='${reportPath}']`) });
    const listedText = await listed.innerText();
    assert.match(listedText, /completed/, `the list shows the evaluation completed: ${listedText}`);
    for (const n of [1, 2]) assert.match(listedText, new RegExp(`v${n} 50 %`), `the list shows v${n}'s pass rate`);
    await checkPage(t, "evaluations");
  });

  await t.test("chat in the playground: the answer streams in", async (t) => {
    need("deployed");
    await goto(`/playground?agent=${agent.slug}`);
    const form = page.locator("form#playground");
    assert.equal(await form.getByLabel("Agent", { exact: true }).inputValue(), agent.slug);
    await checkPage(t, "playground-empty");
    // Every text the answer bubble shows, in order, to see it grow while the stream comes in: each delta
    // replaces the bubble's text node, and a replaced node keeps the text it had.
    await page.evaluate(() => {
      window.__answerTexts = [];
      new MutationObserver((records) => {
        for (const r of records) {
          if (!r.target.closest?.(".msg.assistant .text")) continue;
          for (const node of r.addedNodes) if (node.nodeType === Node.TEXT_NODE) window.__answerTexts.push(node.data);
        }
      }).observe(document.getElementById("chat-log"), { childList: true, subtree: true });
    });
    await form.getByLabel("Message").fill(chatMessage);
    await form.getByRole("button", { name: "Send" }).click();
    const user = page.locator("#chat-log .msg.user").last();
    await assert.doesNotReject(user.filter({ hasText: chatMessage }).waitFor(), "the user's message is shown");
    const answer = page.locator('#chat-log .msg.assistant[data-done="true"]').last();
    await answer.waitFor({ timeout: 30_000 });
    assert.equal((await answer.locator(".text").textContent()).trim(), chatMessage, "test/echo repeats the message");
    const meta = await answer.locator(".meta").textContent();
    assert.match(meta, /test\/echo/, `the answer's .meta names the model: ${meta}`);
    // test/echo answers word by word: the bubble showed the answer growing, each text a prefix of the next.
    const texts = await page.evaluate(() => window.__answerTexts.filter((s) => s.length > 0));
    const partial = texts.filter((s) => s.trim() !== chatMessage);
    console.log(`playground: the answer grew through ${partial.length} texts: ${JSON.stringify(partial.slice(0, 3))}…`);
    assert.ok(partial.length > 0, `the answer streamed in (texts shown: ${JSON.stringify(texts)})`);
    const growing = texts.every((s, i) => i === 0 || s.startsWith(texts[i - 1]));
    assert.ok(growing, `each text extends the last: ${JSON.stringify(texts)}`);
    assert.ok(!(await answer.evaluate((el) => el.classList.contains("error"))), "the answer is not an error");
    const status = await page.locator("#chat-status").textContent();
    console.log(`playground: #chat-status says "${status.trim()}"; meta "${meta.trim()}"`);
    // The conversation goes on: a second message gets its own streamed answer.
    await form.getByLabel("Message").fill("And a second question");
    await form.getByRole("button", { name: "Send" }).click();
    await page.locator('#chat-log .msg.assistant[data-done="true"]').nth(1).waitFor({ timeout: 30_000 });
    const second = await page.locator("#chat-log .msg.assistant .text").nth(1).textContent();
    assert.equal(second.trim(), "And a second question");
    made.chatted = true;
    await checkPage(t, "playground");
  });

  await t.test("create an API key, use it, revoke it", async (t) => {
    need("registered");
    await goto("/keys");
    await checkPage(t, "keys-empty");
    const form = formWith("Create key");
    await form.getByLabel("Name", { exact: true }).fill("browser-test");
    await form.getByRole("group", { name: "Scopes" }).getByLabel("agents:read", { exact: true }).check();
    await form.getByRole("button", { name: "Create key" }).click();
    await page.locator("#new-key").waitFor();
    const key = (await page.locator("#new-key").textContent()).trim();
    assert.ok(key.length > 20, `#new-key shows the key: ${key}`);
    assert.ok(await page.getByRole("button", { name: "Copy" }).first().isVisible(), "a Copy button");
    await checkPage(t, "key-created");

    const allowed = await api("/api/agents", key);
    assert.equal(allowed.status, 200, `the new key reads agents: ${JSON.stringify(allowed.body)}`);

    await goto("/keys");
    const row = page.getByRole("row").filter({ hasText: "browser-test" });
    await submit(row.getByRole("button", { name: "Revoke" }));
    const refused = await api("/api/agents", key);
    assert.equal(refused.status, 401, `the revoked key is refused: ${JSON.stringify(refused.body)}`);
    // A key that stays: restricted to the agent, with an expiry, listed with its scopes.
    await goto("/keys");
    const second = formWith("Create key");
    await second.getByLabel("Name", { exact: true }).fill("support-widget");
    for (const scope of ["agents:read", "chat"]) {
      await second.getByRole("group", { name: "Scopes" }).getByLabel(scope, { exact: true }).check();
    }
    await selectOptionContaining(second.getByLabel("Restrict to agent"), agent.slug);
    await second.getByLabel("Expires in days").fill("90");
    await second.getByRole("button", { name: "Create key" }).click();
    await page.locator("#new-key").waitFor();
    const restricted = (await page.locator("#new-key").textContent()).trim();
    const read = await api(`/api/agents/${agent.slug}`, restricted);
    assert.equal(read.status, 200, "the restricted key reads its agent");
    await goto("/keys");
    const kept = page.getByRole("row").filter({ hasText: "support-widget" });
    assert.ok(await kept.isVisible(), "the kept key is listed");
    const revoked = page.getByRole("row").filter({ hasText: "browser-test" });
    const revokeAgain = await revoked.getByRole("button", { name: "Revoke" }).count();
    assert.equal(revokeAgain, 0, "the revoked key cannot be revoked again");
    await checkPage(t, "keys");
  });

  await t.test("create a webhook, send a test ping, see the delivery", async (t) => {
    need("registered");
    const { port } = receiver.address();
    const hookUrl = `http://127.0.0.1:${port}/talon-hook`;
    await goto("/webhooks");
    await checkPage(t, "webhooks-empty");
    const form = formWith("Create webhook");
    await form.getByLabel("URL", { exact: true }).fill(hookUrl);
    const events = form.getByRole("group", { name: "Events" }).getByRole("checkbox");
    assert.ok((await events.count()) > 0, "the Events fieldset has checkboxes");
    await events.first().check();
    await form.getByLabel("Description").fill("The browser test's receiver");
    await form.getByRole("button", { name: "Create webhook" }).click();
    await page.locator("#webhook-secret").waitFor();
    const secret = (await page.locator("#webhook-secret").textContent()).trim();
    assert.ok(secret.length > 10, `#webhook-secret shows the secret: ${secret}`);
    assert.ok(await page.getByRole("button", { name: "Copy" }).first().isVisible(), "a Copy button");
    await checkPage(t, "webhook-created");

    const hrefs = await page
      .locator("main a[href^='/webhooks/']")
      .evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    const hookPath = hrefs.find((h) => /^\/webhooks\/[^/?#]+$/.test(h));
    assert.ok(hookPath, `a link to the webhook: ${JSON.stringify(hrefs)}`);
    await page.locator(`main a[href='${hookPath}']`).first().click();
    await page.waitForURL(`**${hookPath}`);
    await submit(page.getByRole("button", { name: "Send test ping" }));
    assert.equal(new URL(page.url()).pathname, hookPath, "back on the webhook's page");
    const status200 = page.locator("td", { hasText: /^\s*200\s*$/ });
    const delivered = page.locator("#deliveries tbody tr").filter({ has: status200 });
    await delivered.first().waitFor({ timeout: LIVE_WAIT_MS });
    assert.ok(await page.locator("#deliveries").getByText("received by the browser test").first().isVisible(),
      "the delivery row shows the response excerpt");
    assert.ok(await page.locator("#deliveries").getByRole("button", { name: "Redeliver" }).first().isVisible(),
      "a Redeliver button per delivery");
    for (const name of ["Rotate secret", "Delete webhook"]) {
      assert.ok(await page.getByRole("button", { name }).isVisible(), `a "${name}" button`);
    }

    assert.ok(received.length > 0, "the receiver got the ping");
    const ping = received.at(-1);
    assert.equal(ping.url, "/talon-hook");
    assert.equal(ping.headers["x-talon-signature"], signature(secret, ping.body), "X-Talon-Signature: HMAC of the body");
    const event = ping.headers["x-talon-event"];
    console.log(`webhook: ${received.length} request(s) received, event ${event}, signature verified`);
    await checkPage(t, "webhook");

    // Redeliver sends the delivery again.
    const before = received.length;
    await submit(page.locator("#deliveries").getByRole("button", { name: "Redeliver" }).first());
    await waitUntil(() => received.length > before, "the receiver gets the redelivery");

    // A rotated secret is shown once; the next ping is signed with it.
    await submit(page.getByRole("button", { name: "Rotate secret" }));
    await page.locator("#webhook-secret").waitFor();
    const rotated = (await page.locator("#webhook-secret").textContent()).trim();
    assert.notEqual(rotated, secret, "a new secret");
    await checkPage(t, "webhook-rotated");
    await goto(hookPath);
    const rotatedAt = received.length;
    await submit(page.getByRole("button", { name: "Send test ping" }));
    await waitUntil(() => received.length > rotatedAt, "the receiver gets the second ping");
    const second = received.at(-1);
    assert.equal(second.headers["x-talon-signature"], signature(rotated, second.body), "signed with the new secret");
    await goto("/webhooks");
    await checkPage(t, "webhooks");
  });

  await t.test("create a task for the deployed agent and see it complete", async (t) => {
    need("deployed");
    await goto("/tasks");
    const form = formWith("Create task");
    await selectOptionContaining(form.getByLabel("Agent", { exact: true }), agent.slug);
    await form.getByLabel("Input (JSON)").fill(JSON.stringify({ message: taskMessage }));
    await form.getByRole("button", { name: "Create task" }).click();
    await page.waitForURL(/\/tasks\/[^/?#]+$/);
    const taskPath = new URL(page.url()).pathname;
    await page.locator("[data-live] .badge", { hasText: "completed" }).or(page.locator(".badge.completed"))
      .first().waitFor({ timeout: LIVE_WAIT_MS });
    // The output is the agent's answer: test/echo repeats the message.
    await assert.doesNotReject(
      page.getByText(taskMessage).first().waitFor(),
      "the task page shows the output",
    );
    console.log(`task: ${taskPath} completed`);
    await checkPage(t, "task");
    await goto("/tasks");
    await page.locator("#task-list[data-live]").waitFor();
    const listed = page.locator("#task-list").getByText("completed").first();
    assert.ok(await listed.isVisible(), "the list shows the task completed");
    // The filter keeps working: completed tasks of the agent.
    const filter = formWith("Filter");
    await setField(filter.getByLabel("Status"), "completed");
    await filter.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL("**/tasks?*");
    assert.ok(await listed.isVisible(), "the filtered list shows it");
    await goto("/tasks");
    await checkPage(t, "tasks");
  });

  await t.test("usage", async (t) => {
    need("agent");
    await goto("/usage");
    const form = formWith("Show");
    await selectOptionContaining(form.getByLabel("Agent", { exact: true }), agent.slug);
    // The first period (the shortest), where the flow's few answers stand out.
    const period = form.getByLabel("Period");
    const periods = await period.locator("option").evaluateAll((os) => os.map((o) => o.value));
    assert.ok(periods.length > 0, "the Period select offers periods");
    await period.selectOption(periods[0]);
    await form.getByRole("button", { name: "Show" }).click();
    await page.waitForURL("**/usage?*");
    assert.equal(new URL(page.url()).searchParams.get("period"), periods[0], "the address says what is shown");
    const charts = await page.locator("svg.chart").count();
    assert.ok(charts > 0, "one svg.chart per metric");
    await checkPage(t, "usage");
  });

  await t.test("the marketplace: a gig, a proposal accepted, the contract", async (t) => {
    need("registered");
    await goto("/marketplace");
    await page.getByRole("heading", { level: 1 }).waitFor();
    await checkPage(t, "marketplace-empty");

    // What the dashboard only shows is made through the API (as the pages say): the account funds its
    // wallet (the server runs in marketplace sandbox mode) and posts a gig; another account's listed agent
    // bids on it with a key of its own.
    const client = await sessionToken();
    const deposit = { amount_usdc: 250, reference: "browser-test-1" };
    await apiOk("/api/v1/wallet/deposits", client, { method: "POST", body: deposit });
    const gigBody = {
      title: "Review a Rust crate for soundness",
      description: "Review a 2,000-line Rust crate for unsafe code, data races and API soundness; report findings.",
      category: "code",
      skills_required: ["rust"],
      budget_usdc: 100,
      deliverables: "A written report",
    };
    const gig = (await apiOk("/api/v1/gigs", client, { method: "POST", body: gigBody })).gig_id;
    const rusty = { email: "rusty@example.com", password: "rusty-password-1" };
    await api("/api/auth/register", null, { method: "POST", body: rusty });
    const owner = (await apiOk("/api/auth/login", null, { method: "POST", body: rusty })).token;
    const bidder = await apiOk("/api/agents", owner, {
      method: "POST",
      body: { name: "Rusty reviewer", description: "Reviews Rust code", prompt: "You review Rust code for soundness." },
    });
    const keyBody = { name: "marketplace", scopes: ["marketplace:read", "marketplace:write"], agentId: bidder.id };
    const bidderKey = (await apiOk("/api/api-keys", owner, { method: "POST", body: keyBody })).key;
    const listing = { username: "rusty", description: "Reviews Rust code", skills: ["rust"], categories: ["code"] };
    await apiOk(`/api/agents/${bidder.id}/marketplace`, owner, { method: "PUT", body: listing });
    const cover = "I have reviewed a dozen crates exactly like this one.";
    await apiOk(`/api/v1/gigs/${gig}/proposals`, bidderKey, {
      method: "POST",
      body: { proposed_amount_usdc: 80.25, cover_letter: cover, estimated_hours: 6 },
    });

    await goto("/marketplace");
    await page.getByRole("link", { name: gigBody.title }).click();
    await page.waitForURL(`**/marketplace/gigs/${gig}`);
    assert.ok(await page.getByText(cover).isVisible(), "the gig's page shows the proposal");
    await checkPage(t, "gig");
    await page.getByRole("button", { name: "Accept" }).click();
    await page.waitForURL("**/marketplace/contracts/*");
    assert.ok(await page.getByText("80.25 USDC").first().isVisible(), "the contract's page shows the amount");
    await checkPage(t, "contract");
    await goto("/marketplace");
    await checkPage(t, "marketplace");
  });

  await t.test("the agents list at the end: the agent deployed, its fork", async (t) => {
    need("deployed");
    await goto("/agents");
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: agent.name, exact: true }) });
    assert.match(await row.textContent(), /deployed/, "the list shows the agent deployed");
    assert.ok(await page.getByRole("link", { name: "Support bot EU" }).isVisible(), "the fork is listed");
    await checkPage(t, "agents-final");
  });

  await t.test("an unknown agent: the error page", async (t) => {
    need("registered");
    const response = await page.goto("/agents/no-such-agent");
    assert.equal(response.status(), 404);
    await page.getByRole("heading", { level: 1 }).waitFor();
    await checkPage(t, "not-found");
  });

  await t.test("no script error, CSP refusal or failed request on any page", () => {
    assert.deepEqual(scriptProblems, [], scriptProblems.join("\n"));
  });

  await t.test("sign out", async () => {
    need("registered");
    await goto("/agents");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/login*");
    await page.goto("/agents");
    assert.match(new URL(page.url()).pathname, /^\/login/, "signed out, the dashboard asks to sign in");
  });
});

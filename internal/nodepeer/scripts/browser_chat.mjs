// Drives the chat example in headless Chromium (the Debian package) with
// playwright-core. Usage: node browser_chat.mjs <url> <mode: default|polling> <screenshot.png>
// The server side is examples/chat/chat_test.go; <url>/test/drop makes the
// server drop every transport, as a flaky network would.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [url, mode, screenshot] = process.argv.slice(2);
const page_url = url + (mode === "polling" ? "/?transports=polling" : "/");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const timer = setTimeout(() => { console.error("browser scenario timed out"); process.exit(2); }, 45000);

try {
  const context = await browser.newContext();
  const [a, b] = [await context.newPage(), await context.newPage()];
  for (const p of [a, b]) {
    p.on("pageerror", (e) => console.error("page error:", e));
    await p.goto(page_url);
    await p.locator("#state[data-state=connected]").waitFor();
  }
  const wantTransport = mode === "polling" ? "polling" : "websocket";
  for (const p of [a, b]) {
    await p.waitForFunction((t) => document.getElementById("transport").textContent === t, wantTransport);
  }

  async function join(p, user) {
    await p.fill("#user", user);
    await p.fill("#room", "lobby");
    await p.click("#join");
    await p.locator("#members li", { hasText: user }).waitFor();
  }
  await join(a, "ann");
  await join(b, "bob");
  assert.deepEqual(await b.locator("#members li").allTextContents(), ["ann", "bob"]);

  async function say(from, to, text) {
    await from.fill("#text", text);
    await from.click("#send");
    await from.locator("#last-ack", { hasText: /stored #\d+/ }).waitFor();
    const ack = await from.locator("#last-ack").textContent();
    const id = ack.match(/#(\d+)/)[1];
    // The message appears on the other page under the id the ack reported.
    const li = to.locator(`#messages li[data-id="${id}"]`);
    await li.waitFor();
    assert.match(await li.textContent(), new RegExp(text));
  }
  await say(a, b, "hello from ann");
  await say(b, a, "hi ann, bob here");

  // Errors come back with their status code.
  await a.fill("#text", "   ");
  await a.click("#send");
  await a.locator("#error", { hasText: "invalid_argument: message is empty" }).waitFor();

  // The server drops every transport: both pages reconnect, rejoin, and chat on.
  const res = await fetch(url + "/test/drop");
  assert.equal(res.status, 200);
  for (const p of [a, b]) {
    await p.waitForFunction(() => {
      const el = document.getElementById("state");
      return el.dataset.state === "connected" && / offline( .*)? reconnected( |$)/.test(el.dataset.history);
    });
  }
  // Each page has rejoined, and presence shows both again on both pages.
  for (const p of [a, b]) {
    await p.waitForFunction(() => [...document.querySelectorAll("#members li")].map((li) => li.textContent).join(",") === "ann,bob");
    await p.waitForFunction((t) => document.getElementById("transport").textContent === t, wantTransport);
  }
  await say(a, b, "still here after the drop");

  await b.screenshot({ path: screenshot });
  console.log(`ok ${mode}`);
  clearTimeout(timer);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(timer);
}

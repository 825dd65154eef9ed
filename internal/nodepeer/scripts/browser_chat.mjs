// Drives the chat example in headless Chromium (the Debian package) with
// playwright-core: one page at a phone's width, one at a desktop's.
// Usage: node browser_chat.mjs <url> <mode: default|polling> <phone.png> <desktop.png>
// The server side is examples/chat/chat_test.go; <url>/test/drop makes the
// server drop every transport, as a flaky network would.
import assert from "node:assert/strict";
import { launchChromium } from "./chromium.mjs";

const [url, mode, phoneShot, desktopShot] = process.argv.slice(2);
const page_url = url + (mode === "polling" ? "/?transports=polling" : "/");

const browser = await launchChromium();
const timer = setTimeout(() => { console.error("browser scenario timed out"); process.exit(2); }, 45000);

try {
  const context = await browser.newContext();
  const phone = { width: 390, height: 844 };
  const desktop = { width: 1280, height: 800 };
  const a = await context.newPage({ viewport: phone });
  const b = await context.newPage({ viewport: desktop });
  await a.setViewportSize(phone);
  await b.setViewportSize(desktop);
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

  // Who is typing travels on the Typing bidi stream: ann types, bob sees
  // it (ann does not see herself); a message sent ends it on bob's page.
  await a.locator("#text").pressSequentially("still typ", { delay: 20 });
  await b.waitForFunction(() => document.getElementById("typing").dataset.names === "ann");
  assert.equal(await b.locator("#typing").textContent(), "ann is typing…");
  assert.equal(await a.locator("#typing").textContent(), "");
  await a.locator("#text").pressSequentially("ing", { delay: 20 });
  await a.click("#send");
  await b.waitForFunction(() => document.getElementById("typing").dataset.names === "");
  assert.equal(await b.locator("#typing").textContent(), "");

  // Nothing overflows sideways, at either width, even with a long word.
  async function fits(p, what) {
    const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `${what}: the page is ${scroll} px wide in a ${inner} px viewport`);
  }
  await say(a, b, "a".repeat(300));
  for (const [p, what] of [[a, "phone"], [b, "desktop"]]) {
    await fits(p, what);
    const box = await p.locator("#messages li", { hasText: "aaaa" }).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= p.viewportSize().width, `${what}: the long word leaves its box`);
  }
  // Each message shows when it was sent, as a machine-readable time.
  assert.ok(await b.locator("#messages li time[datetime]").count() >= 3, "messages carry their time");

  // A message that mentions everyone is first put to its sender, typed
  // (ChatClientService.Confirm, served by the page): no drops it...
  await a.fill("#text", "@everyone lunch?");
  await a.click("#send");
  await a.locator("#confirm[open]").waitFor();
  assert.match(await a.locator("#confirm-question").textContent(), /mentions everyone/);
  await a.click("#confirm-no");
  await a.locator("#error", { hasText: "not sent: you chose not to call on everyone" }).waitFor();
  // ...and yes sends it.
  await a.fill("#text", "@everyone lunch now");
  await a.click("#send");
  await a.locator("#confirm[open]").waitFor();
  await a.click("#confirm-yes");
  await a.locator("#last-ack", { hasText: /stored #\d+/ }).waitFor();
  await b.locator("#messages li", { hasText: "@everyone lunch now" }).waitFor();
  assert.equal(await b.locator("#messages li", { hasText: "@everyone lunch?" }).count(), 0, "the refused message reached the room");

  // A newcomer sees the room's recent messages on joining, and a second
  // "ann" is told apart from the first.
  const c = await context.newPage({ viewport: desktop });
  c.on("pageerror", (e) => console.error("page error:", e));
  await c.goto(page_url);
  await c.locator("#state[data-state=connected]").waitFor();
  await c.fill("#user", "ann");
  await c.fill("#room", "lobby");
  await c.click("#join");
  await c.locator("#members li", { hasText: "ann (2)" }).waitFor();
  for (const text of ["hello from ann", "hi ann, bob here", "@everyone lunch now"]) {
    await c.locator("#messages li", { hasText: text }).waitFor();
  }
  await b.locator("#members li", { hasText: "ann (2)" }).waitFor();
  await c.close();
  await b.waitForFunction(() => [...document.querySelectorAll("#members li")].map((li) => li.textContent).join(",") === "ann,bob");

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

  await fits(a, "phone");
  await fits(b, "desktop");
  await a.screenshot({ path: phoneShot, fullPage: true });
  await b.screenshot({ path: desktopShot, fullPage: true });
  console.log(`ok ${mode}`);
  clearTimeout(timer);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(timer);
}

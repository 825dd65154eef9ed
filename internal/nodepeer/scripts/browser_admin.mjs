// Logs in to a sio server with the official Socket.IO Admin UI (the
// ui/dist of @socket.io/admin-ui, served by the Go test at /admin-ui/) in
// headless Chromium, and checks that what the server holds shows up.
// Usage: node browser_admin.mjs <server url> <a socket id> <password> <screenshot.png>
import { launchChromium } from "./chromium.mjs";

const [url, socketId, password, shot] = process.argv.slice(2);
const browser = await launchChromium();
const timer = setTimeout(() => { console.error("the admin UI scenario timed out"); process.exit(2); }, 80000);
try {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  // The UI's fonts and icons come from CDNs, which tests cannot reach.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(url + "/admin-ui/", { waitUntil: "domcontentloaded" });

  async function login(pass) {
    await page.getByLabel("Server URL").fill(url);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(pass);
    await page.getByRole("button", { name: /^connect$/i }).click();
  }
  // A wrong password is refused, and the UI says so.
  await login("wrong");
  await page.getByText("Invalid credentials").waitFor();
  // The right one connects: the login dialog goes away.
  await login(password);
  await page.getByLabel("Password").waitFor({ state: "hidden" });

  // The socket, its room, the server, and an event as it happens.
  await page.goto(url + "/admin-ui/#/sockets/");
  await page.getByText(socketId).first().waitFor();
  await page.goto(url + "/admin-ui/#/rooms/");
  await page.getByText("lobby").first().waitFor();
  await page.goto(url + "/admin-ui/#/servers/");
  await page.getByText("node-a").first().waitFor();
  await page.goto(url + "/admin-ui/#/events/");
  const res = await fetch(url + "/test/chat");
  if (!res.ok) throw new Error(`test hook: ${res.status}`);
  await page.getByText("announcement").first().waitFor();
  await page.goto(url + "/admin-ui/#/");
  await page.waitForTimeout(2500); // a round of stats for the dashboard
  await page.screenshot({ path: shot, fullPage: true });
  console.log("ok");
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await browser.close();
}

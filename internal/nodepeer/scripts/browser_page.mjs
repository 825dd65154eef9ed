// Opens a page in headless Chromium (the Debian package) with
// playwright-core and waits for it to set document.title to "ok" (or to
// "fail: <why>"). Usage: node browser_page.mjs <page url>
import { chromium } from "playwright-core";

const [pageURL] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const timer = setTimeout(() => { console.error("the page did not finish"); process.exit(2); }, 30000);
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  page.on("console", (m) => console.error("page:", m.text()));
  await page.goto(pageURL);
  await page.waitForFunction(() => document.title === "ok" || document.title.startsWith("fail"));
  const title = await page.title();
  if (title !== "ok") throw new Error(title);
  console.log("ok");
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await browser.close();
}

// Opens a page in headless Chromium (the Debian package) with
// playwright-core and waits for it to set document.title to "ok" (or to
// "fail: <why>"). Usage: node browser_page.mjs <page url>
import { launchChromium } from "./chromium.mjs";

const [pageURL] = process.argv.slice(2);
const browser = await launchChromium();
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

// Runs the ledger scenario in headless Chromium (the Debian package) with
// playwright-core. Usage: node browser_ledger.mjs <page url> <ledger url> <control url> <refusing ledger url>
// The page (served by examples/ledger/ts_test.go from the control server)
// loads the bundle of ledger_browser.ts.
import { launchChromium } from "./chromium.mjs";

const [page_url, url, control, refusing] = process.argv.slice(2);
const browser = await launchChromium();
const timer = setTimeout(() => { console.error("browser scenario timed out"); process.exit(2); }, 80000);
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  page.on("console", (m) => console.error("page:", m.text()));
  await page.goto(page_url);
  await page.waitForFunction(() => typeof window.runLedgerScenario === "function");
  const agent = await page.evaluate(async ([u, c, r]) => {
    await window.runLedgerScenario(u, c, r);
    return navigator.userAgent;
  }, [url, control, refusing]);
  if (!/HeadlessChrome|Chromium|Chrome/.test(agent)) throw new Error(`not Chromium: ${agent}`);
  console.log("ok");
  clearTimeout(timer);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(timer);
}

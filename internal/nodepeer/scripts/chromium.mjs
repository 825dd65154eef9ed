// Launches headless Chromium (the Debian package, or CHROMIUM_PATH) with
// playwright-core, as every browser test here does: no sandbox (tests run
// as root in containers), nothing that reaches out to the network.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

// Launches Debian's Chromium through playwright-core (Playwright's own browser downloads are
// not used), with a fresh temporary profile per launch.
import { chromium } from "playwright-core";

const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless=new",
      "--no-sandbox", // CI runs as root, where Chromium's sandbox cannot start
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 30_000,
  });
}

/**
 * A browser context that is one "person": its own storage (so its own wsAuth ids) and the
 * cookie that lets the server's test hook drop only this context's connections.
 */
export async function personContext(browser, serverUrl, tag) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 680 } });
  await context.addCookies([{ name: "notes_test_client", value: tag, url: serverUrl }]);
  return context;
}

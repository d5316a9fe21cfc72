// Launches Debian's Chromium through playwright-core (Playwright's own browser downloads are
// not used), with a fresh temporary profile per launch.
import { chromium } from "playwright-core";
import { eventually } from "./wait.mjs";

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

/**
 * One person's tab on url: a personContext page, with the few locators the tests use.
 * Uncaught page errors go to pageErrors. Resolves once connected and showing notes.
 */
export async function openTab(browser, url, tag, pageErrors) {
  const context = await personContext(browser, url, tag);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${tag}: ${e.message}`));
  await page.goto(url);
  const tab = {
    tag,
    page,
    title: page.getByLabel("Title", { exact: true }),
    filter: page.getByLabel("Filter notes"),
    newNote: page.getByLabel("New note"),
    status: () => page.getByTestId("connection").getAttribute("data-status"),
    notes: () => page.getByTestId("note").locator(".text").allTextContents(),
    toast: (text) => page.getByTestId("toast").filter({ hasText: text }),
    progress: () => page.getByTestId("progress").evaluate((el) => el.value),
    button: (name) => page.getByRole("button", { name, exact: true }),
  };
  await eventually(`${tag} to connect`, async () => (await tab.status()) === "open");
  await eventually(`${tag} to show the notes`, async () => (await tab.notes()).length > 0);
  return tab;
}

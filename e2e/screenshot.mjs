// Takes the README's picture of the notes example, docs/notes.png: two tabs (browser
// contexts); the second adds a note, so the first shows the note and a toast, with a
// review running in the first, both tabs in its online list, and the second typing. Run with `npm run screenshot` after a UI change.
import { fileURLToPath } from "node:url";
import { launchBrowser, personContext } from "./lib/browser.mjs";
import { startServer } from "./lib/server.mjs";
import { eventually } from "./lib/wait.mjs";

const out = fileURLToPath(new URL("../docs/notes.png", import.meta.url));
const server = await startServer("screenshot");
const browser = await launchBrowser();
try {
  const tabs = [];
  for (const tag of ["A", "B"]) {
    const page = await (await personContext(browser, server.url, tag)).newPage();
    await page.setViewportSize({ width: 1000, height: 640 });
    await page.goto(server.url);
    await eventually(`${tag} to load`, async () => (await page.getByTestId("note").count()) === 2);
    tabs.push(page);
  }
  const [first, second] = tabs;
  await second.getByLabel("New note").fill("Slides for Monday's demo");
  await second.getByRole("button", { name: "Add", exact: true }).click();
  await first.getByTestId("toast").waitFor();
  await first.getByRole("button", { name: "Start review" }).click();
  await eventually("progress at 40%", async () => (await first.getByTestId("progress").evaluate((el) => el.value)) >= 40);
  // "typing" lasts 2 s after the last keystroke: typed last, just before the picture.
  await second.getByLabel("New note").pressSequentially("Book the room", { delay: 10 });
  await eventually("the first tab to see the second typing", async () => (await first.getByTestId("typing").textContent()).includes("typing"));
  await first.mouse.move(0, 0);
  await first.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.stop();
}

// Browser end-to-end test of the notes example: the real Go server (built here), Debian's
// Chromium through playwright-core, two browser contexts standing for two people.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchBrowser, openTab } from "./lib/browser.mjs";
import { artifactsDir, startServer } from "./lib/server.mjs";
import { eventually } from "./lib/wait.mjs";

let server, browser, a, b;
// The admin view's key (NOTES_ADMIN_KEY): a tab opened with #admin=KEY is an admin.
const adminKey = "e2e-admin-key";
const pageErrors = [];

async function addNote(tab, text) {
  await tab.newNote.fill(text);
  await tab.button("Add").click();
  // The field is cleared once the server's _RESULT accepted the note.
  await eventually(`${tab.tag}'s add of “${text}” to be accepted`, async () => (await tab.newNote.inputValue()) === "");
}

async function shows(tab, text) {
  return (await tab.notes()).includes(text);
}

/** Screenshots both tabs when a test fails, for the CI log's artifacts. */
async function withScreenshots(name, fn) {
  try {
    await fn();
  } catch (e) {
    for (const tab of [a, b]) {
      await tab?.page.screenshot({ path: join(artifactsDir, `failed-${name}-${tab.tag}.png`) }).catch(() => {});
    }
    throw e;
  }
}

before(async () => {
  server = await startServer("notes", [], { env: { NOTES_ADMIN_KEY: adminKey } });
  browser = await launchBrowser();
  a = await openTab(browser, server.url, "A", pageErrors);
  b = await openTab(browser, server.url, "B", pageErrors);
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  const how = await server?.stop();
  assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  assert.equal(how?.code, 0, "the server exits cleanly on SIGTERM");
});

test("an edit in one tab appears in the other", { timeout: 60_000 }, () =>
  withScreenshots("edit", async () => {
    await a.title.fill("Groceries for Friday");
    await eventually("B to see A's title", async () => (await b.title.inputValue()) === "Groceries for Friday");

    await addNote(a, "Buy oat milk");
    await eventually("B to see A's note", () => shows(b, "Buy oat milk"));
    await b.toast("added “Buy oat milk”").waitFor({ timeout: 5_000 });
    assert.equal(await a.toast("added “Buy oat milk”").count(), 0, "A is not told about its own note");

    // Only a note's author may change it: B has no Rename or Remove on A's note, nor on
    // the server's own notes.
    const noteOf = (tab, text) => tab.page.getByTestId("note").filter({ hasText: text });
    assert.equal(await noteOf(b, "Buy oat milk").getByRole("button").count(), 0, "B cannot change A's note");
    assert.equal(await noteOf(a, "Open a second tab").getByRole("button").count(), 0, "nobody but an admin changes the server's notes");

    await noteOf(a, "Buy oat milk").getByRole("button", { name: "Rename" }).click();
    await a.page.getByLabel("Note text").fill("Buy oat milk (2 l)");
    await a.page.getByLabel("Note text").press("Enter");
    await eventually("B to see A's rename", () => shows(b, "Buy oat milk (2 l)"));

    await addNote(b, "Call the plumber");
    await eventually("A to see B's note", () => shows(a, "Call the plumber"));
    await b.button("Remove “Call the plumber”").click();
    await eventually("A to see B's removal", async () => !(await shows(a, "Call the plumber")));
    assert.deepEqual(await a.notes(), await b.notes());
  }));

// A rename is a draft update that sends one `replace /notes/i/text`, not the list: two
// people renaming their own notes at the same moment both keep their edit, in both tabs.
test("two tabs rename different notes at once and both renames survive", { timeout: 60_000 }, () =>
  withScreenshots("concurrent-rename", async () => {
    await addNote(a, "A's draft note");
    await addNote(b, "B's draft note");
    await eventually("both notes in both tabs", async () =>
      (await shows(a, "B's draft note")) && (await shows(b, "A's draft note")),
    );
    const sent = { A: [], B: [] };
    const noteOf = (tab, text) => tab.page.getByTestId("note").filter({ hasText: text });
    for (const [tab, text] of [[a, "A's draft note"], [b, "B's draft note"]]) {
      await noteOf(tab, text).getByRole("button", { name: "Rename" }).click();
      await tab.page.getByLabel("Note text").fill(`${text}, renamed`);
      // What the page sends, read from its socket's frames.
      await tab.page.evaluate(() => {
        window.__sent = [];
        const send = WebSocket.prototype.send;
        WebSocket.prototype.send = function (data) {
          window.__sent.push(String(data));
          return send.call(this, data);
        };
      });
    }
    await Promise.all([a, b].map((tab) => tab.page.getByLabel("Note text").press("Enter")));
    for (const tab of [a, b]) {
      for (const text of ["A's draft note, renamed", "B's draft note, renamed"]) {
        await eventually(`${tab.tag} to show “${text}”`, () => shows(tab, text));
      }
    }
    assert.deepEqual(await a.notes(), await b.notes());
    for (const tab of [a, b]) {
      sent[tab.tag] = (await tab.page.evaluate(() => window.__sent)).map((f) => JSON.parse(f)).filter((f) => f.type === "_PATCH:NOTES");
      assert.equal(sent[tab.tag].length, 1, `${tab.tag} sends one _PATCH`);
      const ops = sent[tab.tag][0].data;
      assert.equal(ops.length, 1, `${tab.tag}'s patch has one op`);
      assert.equal(ops[0].op, "replace");
      assert.match(ops[0].path, /^\/notes\/\d+\/text$/, `${tab.tag} writes one note's text`);
    }

    // The server bounds a write's text too: the refusal shows on the note, which rolls back.
    await noteOf(a, "A's draft note, renamed").getByRole("button", { name: "Rename", exact: true }).click();
    await a.page.getByLabel("Note text").fill("z".repeat(201));
    await a.page.getByLabel("Note text").press("Enter");
    const noteError = noteOf(a, "A's draft note, renamed").getByTestId("note-error");
    await noteError.waitFor({ timeout: 5_000 });
    assert.match(await noteError.textContent(), /at most 200 characters; this one has 201/);
    assert.ok(!(await shows(b, "z".repeat(201))), "B never saw the refused text");
  }));

test("every tab lists who is online, and sees another tab typing", { timeout: 60_000 }, () =>
  withScreenshots("online", async () => {
    const nameOf = async (tab) => (await tab.page.getByTestId("me").textContent()).trim();
    const [nameA, nameB] = [await nameOf(a), await nameOf(b)];
    assert.notEqual(nameA, nameB);
    const listed = (tab) => tab.page.getByTestId("online-member").allTextContents();
    for (const tab of [a, b]) {
      await eventually(`${tab.tag} to list both tabs`, async () => {
        const l = await listed(tab);
        return l.length === 2 && l.some((t) => t.includes(nameA)) && l.some((t) => t.includes(nameB));
      });
      const mine = tab.page.locator('[data-testid="online-member"][data-me="true"]');
      assert.match(await mine.textContent(), new RegExp(tab === a ? nameA : nameB), `${tab.tag} finds itself`);
    }

    const typingIn = (tab) => tab.page.getByTestId("typing").textContent();
    await a.newNote.pressSequentially("Typing in A", { delay: 20 });
    await eventually("B to see A typing", async () => (await typingIn(b)).includes(`${nameA} is typing`));
    assert.ok(!(await typingIn(a)).includes("typing"), "A is not shown its own typing");
    await a.newNote.fill("");
    await eventually("B to see A stop typing", async () => !(await typingIn(b)).includes("typing"));
  }));

test("a dropped connection comes back with what changed meanwhile", { timeout: 60_000 }, () =>
  withScreenshots("drop", async () => {
    const before = await server.stats();
    // Cut A's socket and keep A out for 3 s: long enough for B to change things.
    const { dropped } = await server.drop("A", 3_000);
    assert.equal(dropped, 1);
    await eventually("A to notice the drop", async () => (await a.status()) !== "open", 5_000);
    assert.equal(await b.status(), "open", "B's connection is untouched");

    await addNote(b, "Added while A was away");
    await b.title.fill("Title from B");
    await eventually("B's title to be confirmed", async () => (await b.title.inputValue()) === "Title from B");
    assert.equal(await shows(a, "Added while A was away"), false, "A cannot have seen it yet");

    await eventually("A to reconnect", async () => (await a.status()) === "open", 20_000);
    await eventually("A to show B's note", () => shows(a, "Added while A was away"));
    await eventually("A to show B's title", async () => (await a.title.inputValue()) === "Title from B");

    const after = await server.stats();
    assert.equal(after.sessionsTotal, before.sessionsTotal, "A resumed its session instead of getting a new one");
    assert.equal(after.connections, 2);
  }));

test("a reloaded tab keeps its private state", { timeout: 60_000 }, () =>
  withScreenshots("reload", async () => {
    const before = await server.stats();
    await a.filter.fill("oat");
    await eventually("A's list to be filtered", async () => (await a.notes()).join() === "Buy oat milk (2 l)");
    // The filter is sent 250 ms after the last keystroke; the field is busy until then.
    await eventually("A's filter to be sent", async () => (await a.filter.getAttribute("aria-busy")) === "false");

    await a.page.reload();
    await eventually("A to reconnect after the reload", async () => (await a.status()) === "open");
    await eventually("A's filter to come back from the server", async () => (await a.filter.inputValue()) === "oat");
    assert.deepEqual(await a.notes(), ["Buy oat milk (2 l)"]);
    assert.ok((await b.notes()).length > 1, "B's list is not filtered");
    assert.equal((await server.stats()).sessionsTotal, before.sessionsTotal, "the reload resumed the session");

    await a.filter.fill("");
    await eventually("A's filter to be cleared", async () => (await a.notes()).length > 1);
  }));

test("a task shows progress, survives a reload and can be cancelled", { timeout: 60_000 }, () =>
  withScreenshots("task", async () => {
    await a.button("Start review").click();
    await a.button("Cancel review").waitFor({ timeout: 5_000 });
    const p = await eventually("progress above 10%", async () => {
      const v = await a.progress();
      return v > 10 && v;
    });
    assert.ok(p < 100, `progress ${p}% before cancel`);
    assert.equal(await b.button("Start review").count(), 1, "B's review is its own");
    await a.page.screenshot({ path: join(artifactsDir, "notes-review.png") });

    // The task belongs to the session, not to the page: after a reload the button still
    // says Cancel (runningTasks comes from the server's state) and progress goes on.
    await a.page.reload();
    await a.button("Cancel review").waitFor({ timeout: 5_000 });
    await eventually("progress to go on after the reload", async () => (await a.progress()) > p);

    await a.button("Cancel review").click();
    await a.button("Start review").waitFor({ timeout: 5_000 });
    await a.toast("Review cancelled at").waitFor({ timeout: 5_000 });
    await eventually("progress reset", async () => (await a.progress()) === 0);
  }));

test("refused input is explained and the tabs converge", { timeout: 60_000 }, () =>
  withScreenshots("refused", async () => {
    const title = await a.title.inputValue();
    await a.title.fill("x".repeat(80));
    const error = a.page.getByTestId("title-error");
    await error.waitFor({ timeout: 5_000 });
    assert.match(await error.textContent(), /80 characters long; at most 60/);
    await eventually("A's title to roll back", async () => (await a.title.inputValue()) === title);
    assert.equal(await b.title.inputValue(), title, "B never saw the refused title");

    await a.title.fill("Notes, reviewed");
    await eventually("the error to clear", async () => (await error.count()) === 0);
    await eventually("B to see the valid title", async () => (await b.title.inputValue()) === "Notes, reviewed");

    // An action refused for its params: the message comes from the server's Validate.
    await a.newNote.fill("y".repeat(201));
    await a.button("Add").click();
    const listError = a.page.getByTestId("list-error");
    await listError.waitFor({ timeout: 5_000 });
    assert.match(await listError.textContent(), /at most 200 characters; this one has 201/);
    assert.equal(await a.newNote.inputValue(), "y".repeat(201), "the text is kept for fixing");
  }));

test("an alert goes once its cause is gone", { timeout: 60_000 }, () =>
  withScreenshots("alert-gone", async () => {
    const error = a.page.getByTestId("title-error");
    const refuse = async () => {
      const title = await a.title.inputValue();
      await a.title.fill("");
      await error.waitFor({ timeout: 5_000 });
      await eventually("A's title to roll back", async () => (await a.title.inputValue()) === title);
    };

    // The title changes on the server (B renames the list): A's refusal is moot.
    await refuse();
    await a.page.waitForTimeout(600); // past the debounce and the rollback: the alert stays
    assert.equal(await error.count(), 1, "the rollback alone does not clear the alert");
    await b.title.fill("Renamed by B");
    await eventually("A to see B's title", async () => (await a.title.inputValue()) === "Renamed by B");
    await eventually("A's alert to go after B's rename", async () => (await error.count()) === 0);

    // A later title write of A's own is accepted.
    await refuse();
    await a.title.fill("Fixed by A");
    await eventually("B to see A's title", async () => (await b.title.inputValue()) === "Fixed by A");
    await eventually("A's alert to go after its accepted write", async () => (await error.count()) === 0);
  }));

test("an offline alert goes once the connection is back", { timeout: 60_000 }, () =>
  withScreenshots("offline-alert", async () => {
    await server.drop("A", 2_000);
    await eventually("A to notice the drop", async () => (await a.status()) !== "open", 5_000);
    await a.newNote.fill("Added while offline");
    await a.button("Add").click();
    const listError = a.page.getByTestId("list-error");
    await listError.waitFor({ timeout: 5_000 });
    assert.match(await listError.textContent(), /Not connected/);
    await eventually("A to reconnect", async () => (await a.status()) === "open", 20_000);
    await eventually("A's offline alert to go", async () => (await listError.count()) === 0);
    await a.newNote.fill("");
  }));

test("an admin tab sees the activity log and may change every note; guests see neither", { timeout: 60_000 }, () =>
  withScreenshots("admin", async () => {
    const admin = await openTab(browser, `${server.url}/#admin=${adminKey}`, "Admin", pageErrors);
    try {
      await admin.page.getByTestId("activity").waitFor({ timeout: 10_000 });
      assert.equal(await admin.page.getByTestId("me").textContent(), "Admin");
      assert.equal(await a.page.getByTestId("activity").count(), 0, "a guest has no activity log");

      await addNote(a, "Guest's note for the admin");
      // The admins' tabs are another Manager's: the toast crosses the event bus to them.
      await admin.toast("added “Guest's note for the admin”").waitFor({ timeout: 5_000 });
      await eventually("the admin's log to name A's note", async () =>
        (await admin.page.getByTestId("activity").textContent()).includes("Guest's note for the admin"),
      );
      const guestState = await a.page.evaluate(() => document.body.innerText);
      assert.ok(!guestState.includes("Activity"), "the guest's page shows no log");

      await admin.button("Remove “Guest's note for the admin”").click();
      await eventually("A to see the admin's removal", async () => !(await shows(a, "Guest's note for the admin")));
      await admin.button("Remove “Edit the title: every tab sees it”").click();
      await eventually("B to see the server's note go", async () => !(await shows(b, "Edit the title: every tab sees it")));
    } finally {
      await admin.page.context().close();
    }
  }));

test("a wrong admin key gets no admin view", { timeout: 30_000 }, async () => {
  const res = await fetch(`${server.url}/api/admin-token`, { method: "POST", body: "wrong" });
  assert.equal(res.status, 403);
});

test("a phone-wide screen (360×740) has no sideways scroll", { timeout: 30_000 }, () =>
  withScreenshots("narrow", async () => {
    await addNote(a, "a note long enough to wrap on a phone screen of 360 px width");
    await a.page.setViewportSize({ width: 360, height: 740 });
    try {
      const { scrollWidth, innerWidth } = await a.page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      assert.ok(scrollWidth <= innerWidth, `scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`);
    } finally {
      await a.page.setViewportSize({ width: 1000, height: 680 });
    }
  }));

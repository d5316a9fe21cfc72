// The TypeScript tables must match docs/protocol.md exactly; this reads the doc itself.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CloseCode, ERROR_CODES, TERMINAL_CLOSE_CODES, isErrorCode, isTerminalCloseCode } from "../src";

// A string path: jsdom replaces the global URL, which node:url does not accept.
const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "../../../docs/protocol.md"), "utf8");

// Rows of the markdown table that follows `heading`.
function tableRows(heading: string): string[][] {
  const start = doc.indexOf(heading);
  expect(start).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(start).split("\n").slice(1);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines) {
    if (line.startsWith("|")) {
      inTable = true;
      rows.push(line.split("|").slice(1, -1).map((c) => c.trim()));
    } else if (inTable) break;
  }
  return rows.slice(2); // header and separator
}

describe("codes mirror docs/protocol.md", () => {
  it("error codes", () => {
    const documented = tableRows("## Error codes").map((r) => (r[0] as string).replace(/`/g, ""));
    expect(documented.length).toBeGreaterThan(10);
    expect([...ERROR_CODES]).toEqual(documented);
    for (const c of documented) expect(isErrorCode(c)).toBe(true);
    expect(isErrorCode("nope")).toBe(false);
  });

  it("close codes and which are terminal", () => {
    const rows = tableRows("## Close codes");
    const documented = rows.map((r) => Number(r[0]));
    expect(Object.values(CloseCode).sort()).toEqual([...documented].sort());
    const terminal = rows.filter((r) => /^not reconnect/.test(r[2] as string)).map((r) => Number(r[0]));
    expect([...TERMINAL_CLOSE_CODES].sort()).toEqual(terminal.sort());
    expect(terminal.sort()).toEqual([1008, 4000, 4004]); // 4005 (token expired) reconnects
    for (const c of documented) expect(isTerminalCloseCode(c)).toBe(terminal.includes(c));
  });
});

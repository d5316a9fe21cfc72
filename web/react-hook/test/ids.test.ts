import { afterEach, describe, expect, it, vi } from "vitest";
import { randomId, userSessionIds } from "../src";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("randomId", () => {
  it("is a v4 UUID from crypto.randomUUID", () => {
    const ids = new Set(Array.from({ length: 100 }, randomId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(V4);
  });

  it("falls back to getRandomValues without randomUUID (insecure contexts)", () => {
    const real = globalThis.crypto;
    vi.stubGlobal("crypto", { getRandomValues: (b: Uint8Array) => real.getRandomValues(b) });
    const a = randomId();
    expect(a).toMatch(V4);
    expect(randomId()).not.toBe(a);
  });

  it("falls back to Math.random without crypto", () => {
    vi.stubGlobal("crypto", undefined);
    expect(randomId()).toMatch(V4);
  });
});

describe("userSessionIds", () => {
  it("replaces malformed stored ids and keeps valid ones", () => {
    localStorage.setItem("_USER_ID", "not json");
    sessionStorage.setItem("_SESSION_ID", JSON.stringify("tab-1"));
    const ids = userSessionIds();
    expect(ids.user).toMatch(V4);
    expect(ids.session).toBe("tab-1");
    expect(userSessionIds().user).toBe(ids.user);
  });
});

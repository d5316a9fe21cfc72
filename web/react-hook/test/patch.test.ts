import { describe, expect, it } from "vitest";
import { type Operation, PatchError, applyPatch, escapePointerToken, parsePointer, toPointer } from "../src";

describe("JSON Pointer (RFC 6901)", () => {
  it.each([
    ["", []],
    ["/", [""]],
    ["/a/b", ["a", "b"]],
    ["/a~1b", ["a/b"]],
    ["/m~0n", ["m~n"]],
    ["/~01", ["~1"]], // ~1 decoded before ~0
    ["/ ", [" "]],
  ])("parses %j", (ptr, tokens) => {
    expect(parsePointer(ptr)).toEqual(tokens);
  });

  it.each(["a", "/a~", "/a~2"])("rejects %j", (ptr) => {
    expect(() => parsePointer(ptr)).toThrow(PatchError);
  });

  it("escapes and round-trips tokens", () => {
    expect(escapePointerToken("a/b~c")).toBe("a~1b~0c");
    expect(toPointer(["a/b", 0, "~"])).toBe("/a~1b/0/~0");
    expect(parsePointer(toPointer(["x/~y", "-"]))).toEqual(["x/~y", "-"]);
  });
});

describe("applyPatch (RFC 6902)", () => {
  // The examples of RFC 6902 appendix A, and a few more.
  const cases: { name: string; doc: unknown; ops: Operation[]; want: unknown }[] = [
    { name: "add member", doc: { foo: "bar" }, ops: [{ op: "add", path: "/baz", value: "qux" }], want: { foo: "bar", baz: "qux" } },
    { name: "add array element", doc: { foo: ["bar", "baz"] }, ops: [{ op: "add", path: "/foo/1", value: "qux" }], want: { foo: ["bar", "qux", "baz"] } },
    { name: "add with -", doc: { a: [1] }, ops: [{ op: "add", path: "/a/-", value: 2 }], want: { a: [1, 2] } },
    { name: "add at end index", doc: { a: [1] }, ops: [{ op: "add", path: "/a/1", value: 2 }], want: { a: [1, 2] } },
    { name: "add replaces existing member", doc: { a: 1 }, ops: [{ op: "add", path: "/a", value: 2 }], want: { a: 2 } },
    { name: "add nested", doc: { a: { b: {} } }, ops: [{ op: "add", path: "/a/b/c", value: [1] }], want: { a: { b: { c: [1] } } } },
    { name: "remove member", doc: { baz: "qux", foo: "bar" }, ops: [{ op: "remove", path: "/baz" }], want: { foo: "bar" } },
    { name: "remove element", doc: { foo: ["bar", "qux", "baz"] }, ops: [{ op: "remove", path: "/foo/1" }], want: { foo: ["bar", "baz"] } },
    { name: "replace", doc: { baz: "qux", foo: "bar" }, ops: [{ op: "replace", path: "/baz", value: "boo" }], want: { baz: "boo", foo: "bar" } },
    { name: "replace root", doc: { a: 1 }, ops: [{ op: "replace", path: "", value: { b: 2 } }], want: { b: 2 } },
    {
      name: "move member",
      doc: { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      ops: [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      want: { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
    },
    { name: "move element", doc: { foo: ["all", "grass", "cows", "eat"] }, ops: [{ op: "move", from: "/foo/1", path: "/foo/3" }], want: { foo: ["all", "cows", "eat", "grass"] } },
    { name: "move to itself", doc: { a: 1 }, ops: [{ op: "move", from: "/a", path: "/a" }], want: { a: 1 } },
    { name: "copy", doc: { a: { x: [1] } }, ops: [{ op: "copy", from: "/a", path: "/b" }], want: { a: { x: [1] }, b: { x: [1] } } },
    { name: "test then add", doc: { baz: "qux", foo: ["a", 2, "c"] }, ops: [{ op: "test", path: "/baz", value: "qux" }, { op: "test", path: "/foo/1", value: 2 }], want: { baz: "qux", foo: ["a", 2, "c"] } },
    { name: "test deep equal ignores key order", doc: { a: { x: 1, y: [1, { z: null }] } }, ops: [{ op: "test", path: "/a", value: { y: [1, { z: null }], x: 1 } }], want: { a: { x: 1, y: [1, { z: null }] } } },
    { name: "escaped tokens", doc: { "a/b": 1, "m~n": 2 }, ops: [{ op: "replace", path: "/a~1b", value: 3 }, { op: "remove", path: "/m~0n" }], want: { "a/b": 3 } },
    { name: "empty key", doc: { "": 1 }, ops: [{ op: "replace", path: "/", value: 2 }], want: { "": 2 } },
    { name: "null value", doc: { a: 1 }, ops: [{ op: "replace", path: "/a", value: null }], want: { a: null } },
  ];
  it.each(cases)("$name", ({ doc, ops, want }) => {
    const before = JSON.stringify(doc);
    expect(applyPatch(doc, ops)).toEqual(want);
    expect(JSON.stringify(doc)).toBe(before); // input never mutated
  });

  const failures: { name: string; doc: unknown; ops: unknown[]; code: string }[] = [
    { name: "remove missing member", doc: { a: 1 }, ops: [{ op: "remove", path: "/b" }], code: "path_not_found" },
    { name: "replace missing member", doc: { a: 1 }, ops: [{ op: "replace", path: "/b", value: 1 }], code: "path_not_found" },
    { name: "add under missing parent", doc: { a: 1 }, ops: [{ op: "add", path: "/x/y", value: 1 }], code: "path_not_found" },
    { name: "index out of range", doc: { a: [1] }, ops: [{ op: "add", path: "/a/2", value: 1 }], code: "path_not_found" },
    { name: "leading zero index", doc: { a: [1, 2] }, ops: [{ op: "replace", path: "/a/01", value: 1 }], code: "bad_patch" },
    { name: "- outside add", doc: { a: [1] }, ops: [{ op: "remove", path: "/a/-" }], code: "bad_patch" },
    { name: "test mismatch", doc: { a: 1 }, ops: [{ op: "test", path: "/a", value: 2 }], code: "test_failed" },
    { name: "unknown op", doc: { a: 1 }, ops: [{ op: "frob", path: "/a" }], code: "bad_patch" },
    { name: "missing value", doc: { a: 1 }, ops: [{ op: "add", path: "/b" }], code: "bad_patch" },
    { name: "missing from", doc: { a: 1 }, ops: [{ op: "move", path: "/b" }], code: "bad_patch" },
    { name: "bad pointer", doc: { a: 1 }, ops: [{ op: "add", path: "a", value: 1 }], code: "bad_patch" },
    { name: "move into own child", doc: { a: { b: 1 } }, ops: [{ op: "move", from: "/a", path: "/a/b/c" }], code: "bad_patch" },
    { name: "traverse a primitive", doc: { a: 1 }, ops: [{ op: "add", path: "/a/b", value: 1 }], code: "path_not_found" },
    { name: "inherited member", doc: { a: 1 }, ops: [{ op: "remove", path: "/toString" }], code: "path_not_found" },
  ];
  it.each(failures)("fails: $name", ({ doc, ops, code }) => {
    const err = (() => {
      try {
        applyPatch(doc, ops as Operation[]);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(PatchError);
    expect((err as PatchError).code).toBe(code);
  });

  it("is atomic: a failing op leaves the document untouched", () => {
    const doc = { a: [1, 2], b: { c: 1 } };
    const snapshot = JSON.parse(JSON.stringify(doc)) as unknown;
    const ops: Operation[] = [
      { op: "add", path: "/a/-", value: 3 },
      { op: "replace", path: "/b/c", value: 2 },
      { op: "remove", path: "/nope" },
    ];
    expect(() => applyPatch(doc, ops)).toThrow(PatchError);
    expect(doc).toEqual(snapshot);
    try {
      applyPatch(doc, ops);
    } catch (e) {
      expect((e as PatchError).index).toBe(2);
    }
  });

  it("shares untouched subtrees and copies only the written path", () => {
    const doc = { a: { x: [1] }, b: { y: 1 } };
    const out = applyPatch(doc, [{ op: "replace", path: "/b/y", value: 2 }]);
    expect(out.a).toBe(doc.a);
    expect(out.b).not.toBe(doc.b);
    expect(out).not.toBe(doc);
  });

  it("deep-copies on copy so later ops do not alias", () => {
    const out = applyPatch({ a: { n: 1 } }, [
      { op: "copy", from: "/a", path: "/b" },
      { op: "replace", path: "/b/n", value: 2 },
    ]);
    expect(out).toEqual({ a: { n: 1 }, b: { n: 2 } });
  });

  it("treats __proto__ as a plain member", () => {
    const out = applyPatch({}, [{ op: "add", path: "/__proto__", value: { polluted: true } }]);
    expect(Object.prototype.hasOwnProperty.call(out, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it("rejects a non-array patch", () => {
    expect(() => applyPatch({}, { op: "add" } as unknown as Operation[])).toThrow(PatchError);
  });
});

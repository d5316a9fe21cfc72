// A small RFC 6902 (JSON Patch) apply with RFC 6901 pointers, so the package needs no runtime
// dependency. Writes are copy-on-write along each op's path: the input document is never
// mutated, untouched subtrees keep their identity (cheap React re-renders), and a failing op
// simply throws, leaving the caller's document as it was (atomic apply).

/** One RFC 6902 operation. */
export type Operation =
  | { op: "add"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "replace"; path: string; value: unknown }
  | { op: "move"; from: string; path: string }
  | { op: "copy"; from: string; path: string }
  | { op: "test"; path: string; value: unknown };

/** Why a patch did not apply; the codes match the server's (docs/protocol.md). */
export type PatchErrorCode = "bad_patch" | "path_not_found" | "test_failed";

/** Thrown by {@link applyPatch}; `index` is the failing op's position in the patch. */
export class PatchError extends Error {
  override readonly name = "PatchError";
  constructor(
    readonly code: PatchErrorCode,
    message: string,
    readonly index: number,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** Escapes one reference token: `~` → `~0`, `/` → `~1` (RFC 6901 §3). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Joins raw tokens into a JSON Pointer, escaping each: `["a/b", 0]` → `/a~1b/0`. */
export function toPointer(tokens: readonly (string | number)[]): string {
  return tokens.map((t) => "/" + escapePointerToken(String(t))).join("");
}

/** Unescapes one reference token of a valid pointer: `~1` → `/`, `~0` → `~`. */
// ~1 before ~0, so "~01" decodes to "~1" and not "/" (RFC 6901 §4).
export const unescapePointerToken = (t: string): string => t.replace(/~1/g, "/").replace(/~0/g, "~");

/** Splits a JSON Pointer into unescaped tokens; throws on an invalid pointer. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (pointer[0] !== "/" || /~([^01]|$)/.test(pointer)) {
    throw new PatchError("bad_patch", `bad pointer ${JSON.stringify(pointer)}`, -1, pointer);
  }
  return pointer.slice(1).split("/").map(unescapePointerToken);
}

type Container = Record<string, unknown> | unknown[];

const isContainer = (v: unknown): v is Container => typeof v === "object" && v !== null;
/** A JSON object: not null, not an array (package-internal). */
export const isObject = (v: unknown): v is Record<string, unknown> => isContainer(v) && !Array.isArray(v);
/** Own-property test (package-internal). */
export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Deep equality with JSON semantics (used by `test`). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  // Arrays too: a JSON array is dense, so its keys are its indices.
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const ka = Object.keys(x);
  return ka.length === Object.keys(y).length && ka.every((k) => hasOwn(y, k) && jsonEqual(x[k], y[k]));
}

/**
 * Deep copy of a JSON value (package-internal), through its text: JSON.parse keeps a
 * "__proto__" member as an own property. Undefined stays undefined.
 */
export function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

// Assigning "__proto__" would change the prototype instead of adding a member.
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/**
 * Applies `ops` to `doc` and returns the new document. `doc` is never modified; if any op
 * fails, a {@link PatchError} is thrown and nothing has changed. The result is assumed to keep
 * the type `T` (the server only sends patches that do).
 */
export function applyPatch<T>(doc: T, ops: readonly Operation[]): T {
  if (!Array.isArray(ops)) throw new PatchError("bad_patch", "not an array", -1);
  const fresh = new WeakSet<object>(); // containers cloned by this call, safe to mutate
  let root: unknown = doc;
  let index = 0;

  const fail = (code: PatchErrorCode, msg: string, path?: string): never => {
    throw new PatchError(code, msg, index, path);
  };
  const missing = (path: string): never => fail("path_not_found", `path ${path} does not exist`, path);

  const own = (c: Container): Container => {
    if (fresh.has(c)) return c;
    const copy: Container = Array.isArray(c) ? c.slice() : { ...c };
    fresh.add(copy);
    return copy;
  };

  const arrayIndex = (arr: unknown[], tok: string, path: string, forInsert: boolean): number => {
    if (forInsert && tok === "-") return arr.length;
    if (!/^(0|[1-9][0-9]*)$/.test(tok)) return fail("bad_patch", `bad array index ${JSON.stringify(tok)}`, path);
    const i = Number(tok);
    if (i > arr.length || (!forInsert && i === arr.length)) return fail("path_not_found", `index ${i} out of range`, path);
    return i;
  };

  // The member `tok` of `cur`: an existing array element or own object member, else a failure.
  const child = (cur: unknown, tok: string, path: string): unknown =>
    Array.isArray(cur) ? cur[arrayIndex(cur, tok, path, false)] : isContainer(cur) && hasOwn(cur, tok) ? (cur as Record<string, unknown>)[tok] : missing(path);

  const read = (path: string): unknown => parseOrFail(path).reduce((cur: unknown, tok) => child(cur, tok, path), root);

  // Only for a path or from the loop below checked to be a string.
  const parseOrFail = (path: string): string[] => {
    try {
      return parsePointer(path);
    } catch (e) {
      return fail("bad_patch", (e as Error).message, path);
    }
  };

  // Copies every container from the root down to the parent of `tokens`' last token and
  // returns that parent (writable) with the last token.
  const parentFor = (path: string, tokens: string[]): [Container, string] => {
    if (!isContainer(root)) missing(path);
    let cur = own(root as Container);
    root = cur;
    for (let i = 0; i < tokens.length - 1; i++) {
      const tok = tokens[i] as string;
      const c = child(cur, tok, path);
      if (!isContainer(c)) return missing(path);
      const next = own(c);
      setOwn(cur as Record<string, unknown>, tok, next); // an array index, checked by child()
      cur = next;
    }
    return [cur, tokens[tokens.length - 1] as string];
  };

  // add and replace: the root is replaced whole; below it, add inserts (or sets a member)
  // and replace overwrites what is there.
  const put = (path: string, value: unknown, insert: boolean): void => {
    const tokens = parseOrFail(path);
    if (tokens.length === 0) {
      root = value;
      return;
    }
    const [parent, last] = parentFor(path, tokens);
    if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, path, insert), insert ? 0 : 1, value);
    else if (insert || hasOwn(parent, last)) setOwn(parent, last, value);
    else missing(path);
  };

  const remove = (path: string): unknown => {
    const tokens = parseOrFail(path);
    if (tokens.length === 0) return fail("bad_patch", "cannot remove the root", path);
    const [parent, last] = parentFor(path, tokens);
    const old = child(parent, last, path);
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
    return old;
  };

  for (; index < ops.length; index++) {
    const op = ops[index] as unknown;
    if (!isObject(op)) fail("bad_patch", "op is not an object");
    const o = op as Record<string, unknown>;
    const path = o.path as string;
    if (typeof path !== "string") fail("bad_patch", "op has no path");
    const needsValue = o.op === "add" || o.op === "replace" || o.op === "test";
    if (needsValue && !hasOwn(o, "value")) fail("bad_patch", `${String(o.op)} op has no value`, path);
    const needsFrom = o.op === "move" || o.op === "copy";
    if (needsFrom && typeof o.from !== "string") fail("bad_patch", `${String(o.op)} op has no from`, path);
    const from = o.from as string;
    switch (o.op) {
      case "add":
      case "replace":
        put(path, o.value, o.op === "add");
        break;
      case "remove":
        remove(path);
        break;
      case "move":
        if (path === from) {
          read(from);
          break;
        }
        if (path.startsWith(from + "/")) fail("bad_patch", "cannot move into itself", path);
        put(path, remove(from), true);
        break;
      case "copy":
        // A deep copy: the same container must never sit at two places of a document we mutate.
        put(path, cloneJson(read(from)), true);
        break;
      case "test":
        if (!jsonEqual(read(path), o.value)) fail("test_failed", `test at ${path} failed`, path);
        break;
      default:
        fail("bad_patch", `unknown op ${JSON.stringify(o.op)}`, path);
    }
  }
  return root as T;
}

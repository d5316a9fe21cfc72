// Draft-style updates: the caller mutates a private deep copy of the state, and the
// difference between the copy and the state becomes the fewest JSON Patch ops that say it.
// Diffing the finished copy (rather than logging each mutation) makes the ops depend only
// on the outcome: a draft that sets and resets a field sends nothing, and reads after writes
// see the writes because the copy is plain data.
//
// The array rule: an array whose length is unchanged is diffed index by index; one that only
// grew at its end sends `add /path/-` per new element; any other change (an insert or
// removal in the middle, a shrink) replaces the whole array, because index-shifting ops
// would be ambiguous against a concurrent edit of the same array.
import { type Operation, cloneJson as clone, escapePointerToken, hasOwn, isObject, jsonEqual as same } from "./patch";

/** A function that edits `draft` in place. Its return value is ignored. */
export type Recipe<S> = (draft: S) => void;

/** Runs `recipe` on a deep copy of `base` and returns the ops from `base` to the copy. */
export function record<S>(base: S, recipe: Recipe<S>): Operation[] {
  const draft = clone(base);
  recipe(draft); // throws: nothing was touched outside the copy
  const ops: Operation[] = [];
  diff(base, draft, "", ops);
  return ops;
}

function diff(a: unknown, b: unknown, path: string, ops: Operation[]): void {
  if (same(a, b)) return;
  if (isObject(a) && isObject(b)) {
    for (const k of Object.keys(a)) {
      const p = path + "/" + escapePointerToken(k);
      if (!hasOwn(b, k) || b[k] === undefined) ops.push({ op: "remove", path: p });
      else diff(a[k], b[k], p, ops);
    }
    for (const k of Object.keys(b)) {
      if (!hasOwn(a, k) && b[k] !== undefined) ops.push({ op: "add", path: path + "/" + escapePointerToken(k), value: clone(b[k]) });
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && path !== "") {
    if (a.length === b.length) {
      a.forEach((x, i) => diff(x, b[i], path + "/" + i, ops));
      return;
    }
    if (b.length > a.length && a.every((x, i) => same(x, b[i]))) {
      for (const x of b.slice(a.length)) ops.push({ op: "add", path: path + "/-", value: clone(x) });
      return;
    }
  }
  ops.push({ op: "replace", path, value: clone(b) });
}

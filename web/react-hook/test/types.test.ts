// Compile-time checks of the public types; `npm run typecheck` fails if any of these break.
// The functions are never called: hooks need a provider, and the point is the types.
import { describe, expect, expectTypeOf, it } from "vitest";
import { type Returns, type Session, type SyncError, type TaskStatus, useSynced } from "../src";

type Actions = {
  rename: { index: number; text: string } & Returns<string>;
  clear: undefined;
};
type Tasks = { import: { source: string } };
type State = { title: string; notes: string[]; error: number };

function inferred() {
  const n = useSynced("NOTES", { title: "", notes: [] as string[] });
  expectTypeOf(n.title).toEqualTypeOf<string>();
  expectTypeOf(n.notes).toEqualTypeOf<string[]>();
  n.setTitle("x");
  n.setNotes((prev) => [...prev, "y"]);
  n.syncTitle("x", { debounceMs: 300 });
  // @ts-expect-error wrong value type
  n.setTitle(5);
  // @ts-expect-error no such field
  n.syncMissing("x"); // eslint-disable-line @typescript-eslint/no-unsafe-call -- the call is the error expected
  // Without an action map any action is allowed, and the result is unknown.
  expectTypeOf(n.sendAction({ type: "anything", a: 1 })).toEqualTypeOf<Promise<unknown>>();
  expectTypeOf(n.version).toEqualTypeOf<number | undefined>();
  expectTypeOf(n.error).toEqualTypeOf<SyncError | undefined>();
}

function typed() {
  const n = useSynced<State, Actions, Tasks>("NOTES", { title: "", notes: [], error: 0 });
  expectTypeOf(n.sendAction({ type: "rename", index: 0, text: "y" })).toEqualTypeOf<Promise<string>>();
  void n.sendAction({ type: "clear" });
  // @ts-expect-error missing param
  void n.sendAction({ type: "rename", index: 0 });
  // @ts-expect-error wrong param type
  void n.sendAction({ type: "rename", index: "0", text: "y" });
  // @ts-expect-error unknown action
  void n.sendAction({ type: "nope" });
  void n.startTask({ type: "import", source: "a.csv" });
  // @ts-expect-error unknown task
  void n.cancelTask({ type: "export" });
  expectTypeOf(n.tasks).toEqualTypeOf<Readonly<Record<string, TaskStatus>>>();
  // A state field named like a helper is reachable through `state`.
  expectTypeOf(n.state.error).toEqualTypeOf<number>();
  expectTypeOf(n.error).toEqualTypeOf<SyncError | undefined>();
}

function framework(s: Session) {
  const k = s.sync<State, Actions>("NOTES", { title: "", notes: [], error: 0 });
  expectTypeOf(k.state).toEqualTypeOf<State>();
  expectTypeOf(k.sendAction({ type: "rename", index: 1, text: "" })).toEqualTypeOf<Promise<string>>();
  // @ts-expect-error unknown field in a partial update
  k.sync({ nope: 1 });
}

describe("public types", () => {
  it("compile (see npm run typecheck)", () => {
    expect([inferred, typed, framework].every((f) => typeof f === "function")).toBe(true);
  });
});

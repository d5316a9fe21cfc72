// Tabs: a duplicated browser tab copies sessionStorage, so it starts with its original's session
// id, and connecting with it would take the session over (the server closes the original, 4000).
// A Session that holds a session id answers on a BroadcastChannel named after it; a newcomer
// asks first and, when another document answers, takes a fresh id. A reload keeps its id: the
// old document is gone, nobody answers.
import { randomId } from "./ids";

type Msg = { q?: string; a?: string };

// A document is told apart by its sessionStorage object: Sessions of one page share their
// session id on purpose and must not count as duplicates of each other.
const docs = new WeakMap<object, { doc: string; claims: Map<string, Promise<string>> }>();
function docOf(tab: object): { doc: string; claims: Map<string, Promise<string>> } {
  let d = docs.get(tab);
  if (!d) docs.set(tab, (d = { doc: randomId(), claims: new Map() }));
  return d;
}

// Opens the channel of `id` and answers other documents asking for it; `onAnswer` hears answers.
function channel(tab: object, id: string, onAnswer?: () => void): BroadcastChannel | undefined {
  const BC = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
  if (!BC) return undefined;
  const me = docOf(tab).doc;
  const ch = new BC("wssync:tab:" + id);
  (ch as { unref?: () => void }).unref?.(); // Node: an open channel must not keep the process alive
  ch.onmessage = (e: MessageEvent<Msg>) => {
    const m = e.data;
    if (m?.q && m.q !== me) ch.postMessage({ a: me });
    else if (m?.a && m.a !== me) onAnswer?.();
  };
  return ch;
}

/**
 * Resolves with the session id this document may use: `id` when no other document answers
 * within `waitMs`, else a fresh one. One answer per id and document, so Sessions of one page
 * that ask at once agree on the fresh id. Resolves `id` at once without BroadcastChannel.
 */
export function claimSessionId(tab: object, id: string, waitMs: number): Promise<string> {
  const { doc, claims } = docOf(tab);
  let p = claims.get(id);
  if (!p) {
    p = new Promise<string>((resolve) => {
      const done = (v: string) => {
        clearTimeout(timer);
        ch?.close();
        claims.delete(id);
        resolve(v);
      };
      const ch = channel(tab, id, () => done(randomId()));
      ch?.postMessage({ q: doc });
      const timer = setTimeout(() => done(id), ch ? waitMs : 0);
    });
    claims.set(id, p);
  }
  return p;
}

/** Answers for `id` until the returned function is called. */
export function holdSessionId(tab: object, id: string): () => void {
  const ch = channel(tab, id);
  return () => ch?.close();
}

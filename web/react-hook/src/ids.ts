// Ids: request ids for `_RESULT` matching, and the user/session ids of the wsAuth handshake.

/** A random v4 UUID: `crypto.randomUUID` where available (secure contexts), else built from getRandomValues. */
export function randomId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(31);
  if (typeof c?.getRandomValues === "function") c.getRandomValues(b);
  // Last resort (very old runtimes): request ids only need to be unique per connection.
  else b.forEach((_, i) => (b[i] = Math.random() * 256));
  // One random byte per x (a hex digit) and per y (the variant: 8, 9, a or b).
  let i = 0;
  return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (ch) => {
    const r = b[i++] as number;
    return (ch === "x" ? r & 15 : (r & 3) | 8).toString(16);
  });
}

/** Storage keys shared with ws-sync-react, so switching clients keeps a user's identity. */
export const USER_ID_KEY = "_USER_ID";
export const SESSION_ID_KEY = "_SESSION_ID";

/** Where the wsAuth ids live: the user id is shared by all tabs, the session id is per tab. */
export interface IdStorage {
  user?: Storage | undefined;
  session?: Storage | undefined;
}

export function storageOf(name: "localStorage" | "sessionStorage"): Storage | undefined {
  try {
    return (globalThis as Partial<Record<typeof name, Storage>>)[name];
  } catch {
    return undefined; // access throws when storage is disabled (e.g. sandboxed iframes)
  }
}

// Values are JSON strings, as ws-sync-react's storage hooks write them.
function read(storage: Storage | undefined, key: string): string | undefined {
  try {
    const v: unknown = JSON.parse(storage?.getItem(key) || '""');
    if (typeof v === "string" && v !== "") return v;
  } catch {
    // unreadable or malformed: replaced by the caller
  }
  return undefined;
}

/** Stores `id` (also in `memory`, which keeps it when storage is full or disabled). */
export function writeId(storage: Storage | undefined, key: string, memory: { id?: string }, id: string): string {
  memory.id = id;
  try {
    storage?.setItem(key, JSON.stringify(id));
  } catch {
    // storage full or disabled: the id lives in memory for this Session only
  }
  return id;
}

function getOrCreate(storage: Storage | undefined, key: string, memory: { id?: string }): string {
  return read(storage, key) ?? writeId(storage, key, memory, memory.id ?? randomId());
}

/** The tab's storage of the session id, and the id stored there (undefined when none yet). */
export function storedSessionId(store: IdStorage = {}): { tab: Storage | undefined; id: string | undefined } {
  const tab = "session" in store ? store.session : storageOf("sessionStorage");
  return { tab, id: read(tab, SESSION_ID_KEY) };
}

/**
 * Reads (creating on first use) the ids sent in `_USER_SESSION`. `memory` keeps them stable for
 * the Session's lifetime when storage is unavailable.
 */
export function userSessionIds(
  store: IdStorage = {},
  memory: { user: { id?: string }; session: { id?: string } } = { user: {}, session: {} },
): { user: string; session: string } {
  const local = "user" in store ? store.user : storageOf("localStorage");
  return {
    user: getOrCreate(local, USER_ID_KEY, memory.user),
    session: getOrCreate(storedSessionId(store).tab, SESSION_ID_KEY, memory.session),
  };
}

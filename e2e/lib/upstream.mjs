// A client that speaks exactly what ws-sync-react 0.8.0 speaks, and none of wssync's
// extensions: it answers _REQUEST_USER_SESSION with _USER_SESSION (its wsAuth), applies
// every _SET and _PATCH in arrival order (ignoring "v"), and sends actions and task
// starts/cancels as {type, ...params} without a request id. Frames ws-sync-react has no
// handler for (_ERROR, _RESULT, _TASK_STATUS) are only recorded, as ws-sync-react only logs
// them.
//
// Its write path is ws-sync-react's zustand `synced` store's, with the same libraries:
//   - setState(recipe) runs the recipe through immer's produceWithPatches, shows the new
//     state at once and queues the patches; setState(object) does the same with one
//     `replace` op per member (a shallow update); sync() sends the queued patches as one
//     _PATCH, their paths joined with "/" (unescaped), after folding five or more into
//     their net effect on the state before the first;
//   - syncField(field, value) is syncX: set locally, then send one `replace` op;
//   - a _SET is merged into the state (zustand's set); a _PATCH is applied with
//     fast-json-patch's applyReducer on a deep copy; one that throws leaves the state as it
//     was (ws-sync-react does not catch it; the browser logs it).
// So whatever the server sends a writer lands on top of the writer's own write.
import jsonpatch from "fast-json-patch";
import { applyPatches, enablePatches, produce, produceWithPatches } from "immer";
import WebSocket from "ws";
import { eventually } from "./wait.mjs";

enablePatches();
const { applyReducer, deepClone } = jsonpatch;

export class UpstreamClient {
  constructor(url, ids) {
    this.url = url;
    this.ids = ids; // {user, session}, as ws-sync-react keeps them in local/sessionStorage
    this.state = {}; // key → state
    this.toasts = [];
    this.unhandled = []; // frames ws-sync-react would log and drop
    this.disconnected = undefined; // the _DISCONNECT message, if any
    this.pending = {}; // key → immer patches not sent yet
    this.base = {}; // key → the state before the first pending patch
    this.patchErrors = []; // _PATCH frames that threw
  }

  /** Opens the socket; resolves once it is open. */
  connect() {
    this.ws = new WebSocket(this.url);
    this.ws.on("message", (raw, isBinary) => {
      if (!isBinary) this.#receive(JSON.parse(raw.toString()));
    });
    this.closed = new Promise((resolve) => this.ws.once("close", resolve));
    return new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
  }

  #receive(frame) {
    const { type, data } = frame;
    const [event, key] = splitEvent(type);
    if (type === "_REQUEST_USER_SESSION") this.send("_USER_SESSION", this.ids);
    else if (type === "_DISCONNECT") this.disconnected = data;
    else if (type === "_TOAST") this.toasts.push(data);
    else if (event === "_SET") this.state[key] = { ...this.state[key], ...data };
    else if (event === "_PATCH") {
      try {
        this.state[key] = data.reduce(applyReducer, deepClone(this.state[key]));
      } catch (e) {
        this.patchErrors.push({ frame, error: String(e) });
      }
    } else this.unhandled.push(frame);
  }

  send(event, data) {
    this.ws.send(JSON.stringify({ type: event, data }));
  }

  /**
   * The store's setState: a recipe (draft => void) through immer, or an object as a shallow
   * update. Shows the result at once; sync() sends it.
   */
  setState(key, update) {
    const current = this.state[key];
    let next, patches;
    if (typeof update === "function") {
      [next, patches] = produceWithPatches((draft) => {
        const r = update(draft);
        if (r && typeof r === "object") Object.assign(draft, r);
      })(current);
    } else {
      next = { ...current, ...update };
      patches = Object.entries(update).map(([k, value]) => ({ op: "replace", path: [k], value }));
    }
    if (!this.pending[key]?.length) {
      this.pending[key] = [];
      this.base[key] = current;
    }
    this.pending[key].push(...patches);
    this.state[key] = next;
  }

  /** sync(): sends the pending patches of key as one _PATCH (Sync.flush). */
  sync(key) {
    let patches = this.pending[key] ?? [];
    if (patches.length === 0) return;
    if (patches.length >= 5) {
      produce(this.base[key], (draft) => void applyPatches(draft, patches), (p) => (patches = p));
    }
    this.send(`_PATCH:${key}`, patches.map((p) => ({ ...p, path: "/" + p.path.join("/") })));
    this.pending[key] = [];
  }

  /** syncX(value): set locally, then send one replace op, exactly like ws-sync-react. */
  syncField(key, field, value) {
    this.state[key] = { ...this.state[key], [field]: value };
    this.send(`_PATCH:${key}`, [{ op: "replace", path: `/${field}`, value }]);
  }

  action(key, type, params = {}) {
    this.send(`_ACTION:${key}`, { type, ...params });
  }

  startTask(key, type, params = {}) {
    this.send(`_TASK_START:${key}`, { type, ...params });
  }

  cancelTask(key, type) {
    this.send(`_TASK_CANCEL:${key}`, { type });
  }

  /** Waits until predicate(state) holds. */
  waitState(what, predicate, timeoutMs = 10_000) {
    return eventually(what, () => predicate(this.state), timeoutMs);
  }

  async close() {
    this.ws.close();
    await this.closed;
  }
}

function splitEvent(type) {
  const i = type.indexOf(":");
  return i < 0 ? [type, undefined] : [type.slice(0, i), type.slice(i + 1)];
}

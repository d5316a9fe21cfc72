// A client that speaks exactly what ws-sync-react speaks, and none of wssync's extensions:
// it answers _REQUEST_USER_SESSION with _USER_SESSION (its wsAuth), applies _SET and _PATCH
// naively in arrival order (ignoring "v"), writes a field the way its syncX does (one
// `replace` op), and sends actions and task starts/cancels as {type, ...params} without
// a request id. Frames ws-sync-react has no handler for (_ERROR, _RESULT, _TASK_STATUS) are
// only recorded, as ws-sync-react only logs them.
import WebSocket from "ws";
import { eventually } from "./wait.mjs";

export class UpstreamClient {
  constructor(url, ids) {
    this.url = url;
    this.ids = ids; // {user, session}, as ws-sync-react keeps them in local/sessionStorage
    this.state = {}; // key → state
    this.toasts = [];
    this.unhandled = []; // frames ws-sync-react would log and drop
    this.disconnected = undefined; // the _DISCONNECT message, if any
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
    else if (event === "_SET") this.state[key] = data;
    else if (event === "_PATCH") this.state[key] = applyPatch(this.state[key], data);
    else this.unhandled.push(frame);
  }

  send(event, data) {
    this.ws.send(JSON.stringify({ type: event, data }));
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

// A naive RFC 6902 apply: ops in order on a deep copy, no version checks, as a client that
// knows nothing of "v" does.
export function applyPatch(doc, ops) {
  let root = structuredClone(doc);
  for (const { op, path, from, value } of ops) {
    if (path === "" && (op === "add" || op === "replace")) {
      root = structuredClone(value);
    } else if (op === "add") {
      insert(root, path, structuredClone(value));
    } else if (op === "remove") {
      take(root, path);
    } else if (op === "replace") {
      const [parent, last] = locate(root, path);
      parent[Array.isArray(parent) ? Number(last) : last] = structuredClone(value);
    } else if (op === "move") {
      insert(root, path, take(root, from));
    } else if (op === "copy") {
      const [parent, last] = locate(root, from);
      insert(root, path, structuredClone(parent[last]));
    } // "test" changes nothing
  }
  return root;
}

/** The parent container of path's target and the target's (unescaped) last token. */
function locate(root, path) {
  const tokens = path
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  const last = tokens.pop();
  return [tokens.reduce((node, t) => node[t], root), last];
}

function insert(root, path, value) {
  const [parent, last] = locate(root, path);
  if (Array.isArray(parent)) parent.splice(last === "-" ? parent.length : Number(last), 0, value);
  else parent[last] = value;
}

function take(root, path) {
  const [parent, last] = locate(root, path);
  if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
  const v = parent[last];
  delete parent[last];
  return v;
}

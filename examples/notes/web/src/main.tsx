import { SessionProvider, type SyncError } from "@wssync/react";
import { StrictMode, useCallback } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { NOTES } from "./model";
import { Toasts, useToasts } from "./toasts";
import "./styles.css";

// #admin=KEY opens the admin view: the tab connects to /ws-admin with a short-lived token
// the server issues for the key (getToken runs on every connect and before the token
// expires). Other tabs are guests, identified by the wsAuth handshake alone. The key is a
// fragment, which the browser never sends; it moves to sessionStorage (so a reload stays
// admin) and out of the address bar and history.
const adminKey = takeAdminKey();

function takeAdminKey(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("admin");
  if (fromHash) {
    sessionStorage.setItem("notes_admin_key", fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("notes_admin_key");
}

// Same origin as the page, so the Go server's default origin check accepts it.
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/${adminKey ? "ws-admin" : "ws"}`;

// ?heartbeat=MS pings every MS ms and takes a socket silent for MS more for dead (the
// browser tests cut a connection without a close frame); default the library's 25 s + 10 s.
const heartbeat = Number(new URLSearchParams(location.search).get("heartbeat")) || 0;

async function adminToken(): Promise<string> {
  const res = await fetch("/api/admin-token", { method: "POST", body: adminKey ?? "", cache: "no-store" });
  if (!res.ok) throw new Error(`the server refused the admin key (${res.status})`);
  return res.text();
}

function Root() {
  const { toasts, push, dismiss } = useToasts();
  // Errors no request Promise took: refused writes (`_ERROR`) and failed tasks. Title
  // refusals are shown next to the title field instead (see Title.tsx).
  const onError = useCallback(
    (e: SyncError) => {
      if (e.key === NOTES && e.path === "/title") return;
      push({ type: "error", message: e.message });
    },
    [push],
  );
  return (
    <SessionProvider
      url={wsUrl}
      wsAuth
      {...(adminKey ? { getToken: adminToken } : {})}
      onToast={push}
      onError={onError}
      reconnect={{ baseDelayMs: 250, maxDelayMs: 4000 }}
      {...(heartbeat > 0 ? { pingIntervalMs: heartbeat, heartbeatTimeoutMs: heartbeat } : {})}
      // A reload shows the last state at once and resumes from its versions; an edit made
      // offline survives it (kept in this tab's sessionStorage).
      persist
    >
      <App />
      <Toasts toasts={toasts} dismiss={dismiss} />
    </SessionProvider>
  );
}

const root = document.getElementById("root");
if (!root) throw new Error("index.html lacks #root");
createRoot(root).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);

import { useConnectionState } from "@wssync/react";

/** Live / reconnecting / offline, from the Session's connection state. */
export function Connection() {
  const c = useConnectionState();
  let label: string;
  let tone: "ok" | "wait" | "down";
  if (c.status === "open") {
    [label, tone] = ["Live", "ok"];
  } else if (c.terminal) {
    [label, tone] = [`Offline: ${c.lastCloseReason || `closed (${c.lastCloseCode ?? "?"})`}`, "down"];
  } else if (c.attempt > 0 || c.lastCloseCode !== undefined) {
    [label, tone] = [`Reconnecting${c.attempt > 1 ? ` (attempt ${c.attempt})` : ""}…`, "wait"];
  } else {
    [label, tone] = ["Connecting…", "wait"];
  }
  return (
    <span className={`conn conn-${tone}`} data-testid="connection" data-status={c.status}>
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

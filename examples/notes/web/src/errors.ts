import { SyncError, useConnectionState } from "@wssync/react";
import { useCallback, useEffect, useState } from "react";

/** A sentence for the user from anything a request may reject with. */
export function describe(err: unknown): string {
  if (err instanceof SyncError) {
    switch (err.code) {
      case "not_connected":
      case "disconnected":
        return "Not connected to the server; try again in a moment.";
      case "timeout":
        return "The server did not answer in time.";
      default:
        return err.message; // the server's messages are written for people
    }
  }
  return err instanceof Error ? err.message : String(err);
}

const offline = (e: unknown): boolean => e instanceof SyncError && (e.code === "not_connected" || e.code === "disconnected");

/**
 * A request's error for an inline alert, as a sentence, and its setter (undefined clears it).
 * The setter is stable. A caller clears it when the request runs again; an error for being offline goes by itself
 * once the connection has been down and is open again, since its cause is gone then.
 */
export function useRequestError(): [string | undefined, (e: unknown) => void] {
  const status = useConnectionState().status;
  const [err, setErr] = useState<{ e: unknown; down: boolean }>();
  useEffect(() => {
    if (!err || !offline(err.e)) return;
    if (status !== "open") {
      if (!err.down) setErr({ e: err.e, down: true });
    } else if (err.down) setErr(undefined);
  }, [status, err]);
  const set = useCallback((e: unknown) => setErr(e === undefined ? undefined : { e, down: false }), []);
  return [err && describe(err.e), set];
}

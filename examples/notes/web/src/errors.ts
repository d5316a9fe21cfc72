import { SyncError } from "@wssync/react";

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

import { useCallback, useEffect, useRef } from "react";
import { ONLINE, initialOnline, useSynced } from "./model";

/** How long after the last keystroke a tab stops being "typing". */
const idleMs = 2000;

/**
 * Tells the other tabs while this one is writing a note: `typing(true)` on every
 * keystroke, `typing(false)` when the note is sent. Only changes reach the server (as the
 * presence meta of this tab, {"typing": bool}), and "typing" ends by itself after idleMs.
 * A refused update (the server's rate limit) is ignored: the next change is sent anyway.
 */
export function useTyping(): (on: boolean) => void {
  const online = useSynced(ONLINE, initialOnline);
  const sent = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const send = online.sendAction;
  const set = useCallback(
    (on: boolean) => {
      clearTimeout(timer.current);
      if (on) timer.current = setTimeout(() => set(false), idleMs);
      if (sent.current === on) return;
      sent.current = on;
      send({ type: "meta", meta: { typing: on } }).catch(() => {});
    },
    [send],
  );
  useEffect(() => () => clearTimeout(timer.current), []);
  return set;
}

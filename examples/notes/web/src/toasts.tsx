import type { Toast } from "@wssync/react";
import { useCallback, useEffect, useRef, useState } from "react";

export interface ShownToast extends Toast {
  id: number;
}

const visibleMs = 6000;

/** A small toast queue: push adds one, each disappears after a few seconds. */
export function useToasts() {
  const [toasts, setToasts] = useState<ShownToast[]>([]);
  const next = useRef(0);
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Toast) => {
      const id = ++next.current;
      setToasts((ts) => [...ts.slice(-4), { ...t, id }]); // at most five on screen
      const timer = setTimeout(() => {
        timers.current.delete(timer);
        dismiss(id);
      }, visibleMs);
      timers.current.add(timer);
    },
    [dismiss],
  );
  useEffect(() => {
    const pending = timers.current;
    return () => pending.forEach(clearTimeout);
  }, []);
  return { toasts, push, dismiss };
}

export function Toasts({ toasts, dismiss }: { toasts: ShownToast[]; dismiss: (id: number) => void }) {
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.type}`} data-testid="toast">
          <span>{t.message}</span>
          <button type="button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

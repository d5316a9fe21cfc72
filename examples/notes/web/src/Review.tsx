import { useEffect } from "react";
import { useRequestError } from "./errors";
import { VIEW, initialView, useSynced } from "./model";

/**
 * The review task: a slow, cancellable server task with progress. Whether it runs comes
 * from the server's runningTasks field, not from this tab's memory, so the button is right
 * after a reload or a reconnect too.
 */
export function Review() {
  const view = useSynced(VIEW, initialView);
  const [error, setError] = useRequestError();
  const running = view.state.runningTasks.includes("review");
  // A review that runs (started here, or still running after a reload) makes an earlier
  // refusal to start or cancel moot.
  useEffect(() => {
    if (running) setError(undefined);
  }, [running, setError]);

  const request = (call: () => Promise<void>) => {
    setError(undefined);
    call().catch((e: unknown) => setError(e));
  };

  return (
    <section className="panel review" aria-label="Review">
      <h2>Review</h2>
      <p className="hint">A slow server task that reads the shared list. It is private to this tab and keeps running across a reload.</p>
      <div className="review-row">
        {running ? (
          <button type="button" onClick={() => request(() => view.cancelTask({ type: "review" }))}>
            Cancel review
          </button>
        ) : (
          <button type="button" disabled={!view.loaded} onClick={() => request(() => view.startTask({ type: "review" }))}>
            Start review
          </button>
        )}
        <progress max={100} value={view.progress} aria-label="Review progress" data-testid="progress" />
        <span className="percent">{running ? `${view.progress}%` : ""}</span>
      </div>
      {view.lastReview && <p className="last">Last review: {view.lastReview}</p>}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

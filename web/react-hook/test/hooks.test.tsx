// React bindings against a real server: rendering, re-render isolation, writes, rollback.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, type ReactNode, useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Returns, SessionProvider, type SyncError, type Toast, useConnectionState, useEvent, useSession, useSynced } from "../src";
import { type Conn, TestServer, WS, sleep } from "./server";

let server: TestServer;
beforeEach(async () => {
  server = await TestServer.start();
});
afterEach(async () => {
  cleanup(); // unmounting the provider disconnects its Session
  await server.close();
});

const init = { title: "", notes: [] as string[], count: 0 };

function Provider(props: { children: ReactNode; onError?: (e: SyncError) => void; onToast?: (t: Toast) => void }) {
  return (
    <SessionProvider url={server.url} WebSocketImpl={WS} reconnect={{ baseDelayMs: 20, maxDelayMs: 80 }} pingIntervalMs={0} {...props}>
      {props.children}
    </SessionProvider>
  );
}

// A probe that exposes the provider's Session to the test.
let probeSession: ReturnType<typeof useSession> | undefined;
function Probe() {
  probeSession = useSession();
  return null;
}
function useSessionOpen(): boolean {
  return probeSession?.getConnectionState().status === "open";
}

/** Renders `ui` (plus the probe) in a provider and returns the server side of its connection. */
async function mount(ui: ReactNode, opts: { onError?: (e: SyncError) => void; strict?: boolean } = {}): Promise<Conn> {
  const tree = (
    <Provider {...(opts.onError ? { onError: opts.onError } : {})}>
      <Probe />
      {ui}
    </Provider>
  );
  render(opts.strict ? <StrictMode>{tree}</StrictMode> : tree);
  const c = await server.connection(0);
  await waitFor(() => expect(useSessionOpen()).toBe(true));
  return c;
}

function Notes() {
  const n = useSynced("NOTES", init);
  return (
    <div>
      <span data-testid="title">{n.title}</span>
      <span data-testid="count">{n.count}</span>
      <span data-testid="version">{String(n.version)}</span>
      <span data-testid="error">{n.error?.code ?? ""}</span>
      <button onClick={() => n.setTitle("local")}>set</button>
      <button onClick={() => n.syncTitle("synced")}>sync</button>
      <button onClick={() => n.syncCount((c) => c + 100)}>bump</button>
      <button onClick={() => n.sync()}>flush</button>
    </div>
  );
}

describe("useSynced", () => {
  it("shows the initial state, then the server's _SET and patches", async () => {
    const c = await mount(<Notes />);
    expect(screen.getByTestId("title").textContent).toBe("");
    c.send({ type: "_SET:NOTES", data: { ...init, title: "server" }, v: 1 });
    await waitFor(() => expect(screen.getByTestId("title").textContent).toBe("server"));
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 5 }], v: 2 });
    await waitFor(() => expect(screen.getByTestId("count").textContent).toBe("5"));
    expect(screen.getByTestId("version").textContent).toBe("2");
  });

  it("setX is local only; syncX also sends a _PATCH; sync() sends local edits", async () => {
    const c = await mount(<Notes />);
    c.send({ type: "_SET:NOTES", data: init, v: 1 });
    await waitFor(() => expect(screen.getByTestId("version").textContent).toBe("1"));

    fireEvent.click(screen.getByText("set"));
    expect(screen.getByTestId("title").textContent).toBe("local");
    expect(await c.quiet(80)).toBe(true);

    fireEvent.click(screen.getByText("sync"));
    expect(screen.getByTestId("title").textContent).toBe("synced");
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "synced" }] });

    fireEvent.click(screen.getByText("set"));
    fireEvent.click(screen.getByText("flush"));
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "local" }] });
  });

  it("rolls back a rejected write when the server sends _ERROR then _SET", async () => {
    const onError = vi.fn();
    const c = await mount(<Notes />, { onError });
    c.send({ type: "_SET:NOTES", data: { ...init, count: 1 }, v: 1 });
    await waitFor(() => expect(screen.getByTestId("count").textContent).toBe("1"));
    fireEvent.click(screen.getByText("bump"));
    expect(screen.getByTestId("count").textContent).toBe("101"); // optimistic
    expect((await c.next()).data).toEqual([{ op: "replace", path: "/count", value: 101 }]);
    c.send({ type: "_ERROR", data: { code: "read_only", message: "read-only", event: "_PATCH:NOTES", path: "/count" } });
    c.send({ type: "_SET:NOTES", data: { ...init, count: 1 }, v: 1 });
    await waitFor(() => expect(screen.getByTestId("count").textContent).toBe("1"));
    expect(screen.getByTestId("error").textContent).toBe("read_only");
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "read_only", path: "/count" }));
  });

  it("re-renders only the components whose key changed", async () => {
    const renders = { A: 0, B: 0 };
    function A() {
      const a = useSynced("A", { n: 0 });
      renders.A++;
      return <span data-testid="a">{a.n}</span>;
    }
    function B() {
      const b = useSynced("B", { n: 0 });
      renders.B++;
      return <span data-testid="b">{b.n}</span>;
    }
    const c = await mount(
      <>
        <A />
        <B />
      </>,
    );
    c.send({ type: "_SET:A", data: { n: 1 }, v: 1 });
    c.send({ type: "_SET:B", data: { n: 1 }, v: 1 });
    await waitFor(() => expect(screen.getByTestId("b").textContent).toBe("1"));
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("1"));
    const before = { ...renders };
    for (let v = 2; v <= 4; v++) c.send({ type: "_PATCH:B", data: [{ op: "replace", path: "/n", value: v }], v });
    await waitFor(() => expect(screen.getByTestId("b").textContent).toBe("4"));
    await sleep(30);
    expect(renders.A).toBe(before.A);
    expect(renders.B).toBeGreaterThan(before.B);
  });

  it("handles server → client actions through options.actions (latest handler)", async () => {
    const seen: string[] = [];
    function Flash() {
      const [prefix, setPrefix] = useState("v1");
      useSynced("NOTES", init, { actions: { flash: (p: { text?: unknown }) => seen.push(`${prefix}:${String(p.text)}`) } });
      return <button onClick={() => setPrefix("v2")}>next</button>;
    }
    const c = await mount(<Flash />);
    c.send({ type: "_ACTION:NOTES", data: { type: "flash", text: "a" } });
    await waitFor(() => expect(seen).toEqual(["v1:a"]));
    fireEvent.click(screen.getByText("next"));
    c.send({ type: "_ACTION:NOTES", data: { type: "flash", text: "b" } });
    await waitFor(() => expect(seen).toEqual(["v1:a", "v2:b"]));
  });

  it("sendAction resolves with the result; typed actions", async () => {
    type Actions = { rename: { index: number; text: string } & Returns<string> };
    let result = "";
    function Renamer() {
      const n = useSynced<typeof init, Actions>("NOTES", init);
      return <button onClick={() => void n.sendAction({ type: "rename", index: 0, text: "y" }).then((r) => (result = r))}>go</button>;
    }
    const c = await mount(<Renamer />);
    c.send({ type: "_SET:NOTES", data: init, v: 1 });
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    fireEvent.click(screen.getByText("go"));
    const f = await c.next();
    expect(f).toMatchObject({ type: "_ACTION:NOTES", data: { type: "rename", index: 0, text: "y" } });
    c.send({ type: "_RESULT", id: f.id, data: "done" });
    await waitFor(() => expect(result).toBe("done"));
  });

  it("debounces per field via options.debounceMs", async () => {
    function Editor() {
      const n = useSynced("NOTES", init, { debounceMs: { title: 40 } });
      return <input aria-label="t" value={n.title} onChange={(e) => n.syncTitle(e.target.value)} />;
    }
    const c = await mount(<Editor />);
    c.send({ type: "_SET:NOTES", data: init, v: 1 });
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    await sleep(20);
    const input = screen.getByLabelText<HTMLInputElement>("t");
    for (const v of ["a", "ab", "abc"]) fireEvent.change(input, { target: { value: v } });
    expect(input.value).toBe("abc");
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "abc" }] });
    expect(await c.quiet(80)).toBe(true);
  });

  it("options.maxWaitMs bounds a field's debounce while typing continues", async () => {
    function Editor() {
      const n = useSynced("NOTES", init, { debounceMs: { title: 10_000 }, maxWaitMs: { title: 60 } });
      return <input aria-label="t" value={n.title} onChange={(e) => n.syncTitle(e.target.value)} />;
    }
    const c = await mount(<Editor />);
    c.send({ type: "_SET:NOTES", data: init, v: 1 });
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    await sleep(20);
    const input = screen.getByLabelText<HTMLInputElement>("t");
    fireEvent.change(input, { target: { value: "a" } });
    fireEvent.change(input, { target: { value: "ab" } });
    // without maxWaitMs nothing would be sent for 10 s
    expect(await c.next(1000)).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "ab" }] });
  });

  it("update(draft) sends the nested ops the draft made", async () => {
    let n: ReturnType<typeof useSynced<typeof init>> | undefined;
    function Grab() {
      n = useSynced("NOTES", init);
      return null;
    }
    const c = await mount(<Grab />);
    c.send({ type: "_SET:NOTES", data: init, v: 1 });
    await waitFor(() => expect(n?.loaded).toBe(true));
    await sleep(20);
    act(() => n?.update((d) => void d.notes.push("x")));
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "x" }] });
    await waitFor(() => expect(n?.notes).toEqual(["x"]));
  });

  it("asks for the state (_GET) when mounted after the replay", async () => {
    function Lazy() {
      const [show, setShow] = useState(false);
      return show ? <Notes /> : <button onClick={() => setShow(true)}>show</button>;
    }
    const c = await mount(<Lazy />);
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    fireEvent.click(screen.getByText("show"));
    expect(await c.next()).toEqual({ type: "_GET:NOTES", data: {} });
    c.send({ type: "_SET:NOTES", data: { ...init, title: "late" }, v: 3 });
    await waitFor(() => expect(screen.getByTestId("title").textContent).toBe("late"));
  });

  it("works under StrictMode (double effects) with one live connection", async () => {
    await mount(<Notes />, { strict: true });
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    await sleep(50);
    const open = server.conns.filter((x) => !x.closed);
    expect(open).toHaveLength(1);
    (open[0] as Conn).send({ type: "_SET:NOTES", data: { ...init, title: "strict" }, v: 1 });
    await waitFor(() => expect(screen.getByTestId("title").textContent).toBe("strict"));
  });

  it("opens no socket it closes at once under StrictMode (the connect waits a task)", async () => {
    let made = 0;
    class Counting extends WS {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        made++;
      }
    }
    const warn = vi.spyOn(console, "warn");
    const error = vi.spyOn(console, "error");
    render(
      <StrictMode>
        <SessionProvider url={server.url} WebSocketImpl={Counting} pingIntervalMs={0}>
          <Probe />
          <Notes />
        </SessionProvider>
      </StrictMode>,
    );
    await server.connection(0);
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    await sleep(50);
    expect(made).toBe(1);
    expect(server.conns).toHaveLength(1);
    const logged = [...warn.mock.calls, ...error.mock.calls].flat().map(String);
    expect(logged.filter((m) => /closed before the connection/.test(m))).toEqual([]);
    warn.mockRestore();
    error.mockRestore();
  });
});

describe("the runningTasks name", () => {
  it("shows a state field named runningTasks; activeTasks counts the task statuses", async () => {
    function Jobs() {
      const j = useSynced("JOBS", { runningTasks: [] as string[] });
      return (
        <span data-testid="both">
          {j.runningTasks.join(",")}|{j.activeTasks.join(",")}
        </span>
      );
    }
    const c = await mount(<Jobs />);
    c.send({ type: "_SET:JOBS", data: { runningTasks: ["fromServer"] }, v: 1 });
    c.send({ type: "_TASK_STATUS:JOBS", data: { type: "import", status: "running" } });
    await waitFor(() => expect(screen.getByTestId("both").textContent).toBe("fromServer|import"));
  });
});

describe("useConnectionState and the provider", () => {
  it("reports open, then closed with a retry, then open again", async () => {
    const seen: string[] = [];
    function Status() {
      const st = useConnectionState();
      const label = st.status + (st.retryInMs !== undefined ? `+retry#${st.attempt}` : "");
      if (seen[seen.length - 1] !== label) seen.push(label);
      return <span data-testid="status">{label}</span>;
    }
    const c = await mount(<Status />);
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("open"));
    await act(async () => {
      c.close(1001);
      await server.connection(1);
    });
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("open"));
    expect(seen).toEqual(["closed", "connecting", "open", "closed+retry#1", "connecting", "open"]);
  });

  it("passes toasts to the latest onToast without reconnecting", async () => {
    const first = vi.fn();
    const second = vi.fn();
    function App() {
      const [which, setWhich] = useState(0);
      return (
        <Provider onToast={which === 0 ? first : second}>
          <Probe />
          <button onClick={() => setWhich(1)}>swap</button>
        </Provider>
      );
    }
    render(<App />);
    const c = await server.connection(0);
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    fireEvent.click(screen.getByText("swap"));
    c.send({ type: "_TOAST", data: { type: "info", message: "hi" } });
    await waitFor(() => expect(second).toHaveBeenCalledWith({ type: "info", message: "hi" }));
    expect(first).not.toHaveBeenCalled();
    expect(server.conns).toHaveLength(1);
  });

  it("disconnects on unmount and useSession throws outside a provider", async () => {
    const { unmount } = render(
      <Provider>
        <Probe />
      </Provider>,
    );
    const c = await server.connection(0);
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    unmount();
    await vi.waitFor(() => expect(c.closed).toBe(true));
    function Outside() {
      useSession();
      return null;
    }
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => render(<Outside />)).toThrow(/inside <SessionProvider>/);
    vi.restoreAllMocks();
  });

  it("passes getToken through, the latest one without reconnecting", async () => {
    function App() {
      const [tok, setTok] = useState("first");
      return (
        <SessionProvider url={server.url} WebSocketImpl={WS} pingIntervalMs={0} getToken={() => Promise.resolve(tok)}>
          <Probe />
          <button onClick={() => setTok("second")}>swap</button>
        </SessionProvider>
      );
    }
    render(<App />);
    const c = await server.connection(0);
    expect(c.offered).toEqual(["wssync", "wssync.bearer.first"]);
    await waitFor(() => expect(useSessionOpen()).toBe(true));
    fireEvent.click(screen.getByText("swap"));
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: true } });
    expect((await c.nextOf("_AUTH")).data).toEqual({ token: "second" });
    expect(server.conns).toHaveLength(1);
  });
});

describe("tasks after a reconnect", () => {
  it("counts a task the server reports running (after a reconnect) as running", async () => {
    function Jobs() {
      const j = useSynced("JOBS", { n: 0 });
      return (
        <span data-testid="running">
          {j.activeTasks.join(",")}
          {j.runningTasks.join(",") === j.activeTasks.join(",") ? "" : "!legacy"}
        </span>
      );
    }
    const c = await mount(<Jobs />);
    c.send({ type: "_SET:JOBS", data: { n: 0 }, v: 1 });
    c.send({ type: "_TASK_STATUS:JOBS", data: { type: "import", status: "running" } });
    c.send({ type: "_TASK_STATUS:JOBS", data: { type: "export", status: "started" } });
    await waitFor(() => expect(screen.getByTestId("running").textContent).toBe("import,export"));
    c.send({ type: "_TASK_STATUS:JOBS", data: { type: "import", status: "done" } });
    await waitFor(() => expect(screen.getByTestId("running").textContent).toBe("export"));
  });
});

describe("useEvent", () => {
  it("calls the latest handler with the event's data, registers once across re-renders, and unsubscribes on unmount", async () => {
    const seen: string[] = [];
    function Listener() {
      const [n, setN] = useState(0);
      useEvent("noteAdded", (d) => seen.push(`${n}:${(d as { title: string }).title}`));
      return <button onClick={() => setN((x) => x + 1)}>rerender</button>;
    }
    function App() {
      const [on, setOn] = useState(true);
      return (
        <>
          {on && <Listener />}
          <button onClick={() => setOn(false)}>unmount</button>
        </>
      );
    }
    const c = await mount(<App />);
    c.send({ type: "noteAdded", data: { title: "a" } });
    await waitFor(() => expect(seen).toEqual(["0:a"]));
    fireEvent.click(screen.getByText("rerender"));
    fireEvent.click(screen.getByText("rerender"));
    c.send({ type: "noteAdded", data: { title: "b" } });
    await waitFor(() => expect(seen).toEqual(["0:a", "2:b"])); // the latest handler, once
    fireEvent.click(screen.getByText("unmount"));
    c.send({ type: "noteAdded", data: { title: "c" } });
    c.send({ type: "_TOAST", data: { type: "info", message: "after" } }); // a frame after it, to wait for
    await sleep(50);
    expect(seen).toEqual(["0:a", "2:b"]);
  });

  it("works under StrictMode (effects run twice) without double delivery", async () => {
    const handler = vi.fn();
    function Listener() {
      useEvent("tick", handler);
      return null;
    }
    const c = await mount(<Listener />, { strict: true });
    c.send({ type: "tick", data: 1 });
    await waitFor(() => expect(handler).toHaveBeenCalledWith(1));
    await sleep(30);
    expect(handler).toHaveBeenCalledTimes(1);
  });
});

describe("useConnectionState", () => {
  it("carries rttMs once the server answers a ping", async () => {
    let state: ReturnType<typeof useConnectionState> | undefined;
    function Badge() {
      state = useConnectionState();
      return <span data-testid="rtt">{state.rttMs === undefined ? "" : "rtt"}</span>;
    }
    render(
      <SessionProvider url={server.url} WebSocketImpl={WS} pingIntervalMs={60_000} getToken={() => "t"}>
        <Badge />
      </SessionProvider>,
    );
    const c = await server.connection(0);
    const p = await c.nextOf("ping");
    c.send({ type: "pong", data: p.data });
    await waitFor(() => expect(screen.getByTestId("rtt").textContent).toBe("rtt"));
    expect(state?.rttMs).toBeGreaterThanOrEqual(0);
  });
});

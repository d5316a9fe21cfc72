package wsclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"
)

// Client is a connection to a wssync server that reconnects on its own. It keeps the
// state of every key the server sends (see Bind), answers the identification handshake,
// and sends actions, tasks and writes. Its methods are safe for concurrent use.
//
// A Client runs three goroutines: a supervisor that connects and reconnects, the reader
// of the current connection, which applies frames to the state, and a dispatcher that
// runs the callbacks (OnChange, OnEvent, ...) one at a time in arrival order. Close ends
// them all and waits for them.
type Client struct {
	url    string
	cfg    config
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	disp   dispatcher
	rng    *rand.Rand // the supervisor's only: jitter

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change of what waiters look at
	conn     *conn         // the live connection, nil between connections
	keys     map[string]*keyState
	pending  map[string]chan reply // request id (or ping data) → its answer
	nextID   uint64
	handlers handlers
	err      error         // why the client stopped; nil while it runs
	lastErr  error         // why the latest connection attempt or connection ended
	done     chan struct{} // closed when the client stops (Close or a terminal disconnect)

	resumes     int     // _RESUMED answers received
	lastResumed Resumed // the latest of them
}

// Dial connects to the wssync endpoint url (ws:// or wss://) and returns once the
// connection is identified (the handshake answered, or the first frame received), retrying
// with backoff until then. It fails at once on a terminal refusal (HTTP 401/403, a
// terminal close code) and when ctx ends first. ctx bounds only Dial: the client keeps
// reconnecting afterwards until Close or a terminal disconnect.
func Dial(ctx context.Context, url string, opts ...Option) (*Client, error) {
	cfg := newConfig(opts)
	if cfg.user == "" {
		cfg.user = uuid.NewString()
	}
	if cfg.session == "" {
		cfg.session = uuid.NewString()
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url: url, cfg: cfg, ctx: cctx, cancel: cancel,
		rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		changed: make(chan struct{}),
		keys:    make(map[string]*keyState),
		pending: make(map[string]chan reply),
		done:    make(chan struct{}),
	}
	c.disp.init()
	c.wg.Add(2)
	go c.supervise()
	go func() { defer c.wg.Done(); c.disp.run(c.done) }()
	if _, err := c.ready(ctx); err != nil {
		_ = c.Close()
		if terr := c.Err(); terr != nil && !errors.Is(terr, ErrClosed) {
			return nil, terr
		}
		c.mu.Lock()
		last := c.lastErr
		c.mu.Unlock()
		if last != nil {
			return nil, fmt.Errorf("wsclient: dial %s: %w (last attempt: %w)", url, err, last)
		}
		return nil, fmt.Errorf("wsclient: dial %s: %w", url, err)
	}
	return c, nil
}

// Identity returns the user and session ids the client answers the handshake with.
func (c *Client) Identity() (user, session string) { return c.cfg.user, c.cfg.session }

// Connected reports whether a connection is live and identified right now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil && c.conn.ready
}

// Done is closed when the client has stopped: after Close, or after a terminal
// disconnect (see Err).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped: ErrClosed after Close, a *CloseError or
// *HandshakeError matching ErrTerminal after a terminal disconnect; nil while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection (1000, normal), stops reconnecting, fails waiting calls and
// waits for every goroutine of the client to end, callbacks included. It must not be called
// from a callback. Close is idempotent and returns nil.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// stop records why the client stopped and wakes every waiter. The first reason wins.
func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
	c.notifyLocked()
}

// notifyLocked wakes every waiter (ready, Binding.Wait, writes waiting for their key).
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor blocks until cond (called with c.mu held) returns true, the client stops or ctx
// ends.
func (c *Client) waitFor(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok, ch, stopped := cond(), c.changed, c.err
		c.mu.Unlock()
		if ok {
			return nil
		}
		if stopped != nil {
			return stopped
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// ready waits for an identified connection and returns it.
func (c *Client) ready(ctx context.Context) (*conn, error) {
	var cn *conn
	err := c.waitFor(ctx, func() bool {
		cn = c.conn
		return cn != nil && cn.ready
	})
	return cn, err
}

// supervise connects, serves the connection until it ends, and reconnects with backoff,
// until Close or a terminal disconnect.
func (c *Client) supervise() {
	defer c.wg.Done()
	attempt := 0
	for {
		cn, err := c.connect(c.ctx)
		if err == nil {
			err = c.serve(cn)
			if cn.wasReady() {
				attempt = 0 // the server took us: the next outage starts the backoff again
			}
		}
		if c.ctx.Err() != nil {
			c.stop(ErrClosed)
			return
		}
		if errors.Is(err, ErrTerminal) {
			c.cfg.logger.Warn("wsclient: terminal disconnect, not reconnecting", "url", c.url, "err", err)
			c.stop(err)
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		d := c.cfg.backoff.delay(attempt, c.rng)
		attempt++
		c.cfg.logger.Info("wsclient: disconnected, reconnecting", "url", c.url, "err", err, "in", d)
		if !sleep(c.ctx, d) {
			c.stop(ErrClosed)
			return
		}
	}
}

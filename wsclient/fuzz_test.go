package wsclient

import (
	"encoding/json"
	"log/slog"
	"testing"
)

// FuzzHandleFrame feeds arbitrary server frames to a client's frame handler: it never
// panics, and every key's state stays valid JSON that a Binding can decode or refuse.
func FuzzHandleFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"_SET:K","data":{"a":[1,2],"b":{"c":"d"}},"v":3}`,
		`{"type":"_PATCH:K","data":[{"op":"add","path":"/a/-","value":3}],"v":4}`,
		`{"type":"_PATCH:K","data":[{"op":"move","from":"/b","path":"/a/0"}],"v":5}`,
		`{"type":"_PATCH:K","data":[{"op":"remove","path":"/zz"}]}`,
		`{"type":"_PATCH:K","data":{"not":"ops"},"v":1}`,
		`{"type":"_RESULT","id":"c1","error":{"code":"bad_params"}}`,
		`{"type":"_TASK_STATUS:K","data":{"type":"t","status":"done"}}`,
		`{"type":"_AUTH_EXPIRING","data":{"expires":1,"refresh":true}}`,
		`{"type":"pong","data":"p1"}`,
		`{"type":"_SET:K","data":null,"v":18446744073709551615}`,
		`[1,2]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c := &Client{
			cfg:     config{logger: slog.New(slog.DiscardHandler)},
			changed: make(chan struct{}),
			keys:    map[string]*keyState{},
			pending: map[string]chan reply{"c1": make(chan reply, 1)},
		}
		c.disp.init()
		b := &Binding[map[string]any]{c: c, key: "K", changes: make(chan struct{}, 1), subs: map[int]func(map[string]any){}}
		c.keyLocked("K").bound = b
		cn := &conn{ready: true} // no socket: answers (a _GET) are dropped
		c.conn = cn
		c.handle(cn, []byte(`{"type":"_SET:K","data":{"a":[1],"b":{}},"v":1}`))
		c.handle(cn, frame)
		c.handle(cn, frame)
		for key, k := range c.keys {
			if k.loaded && !json.Valid(k.raw) {
				t.Fatalf("state of %q is not JSON: %q", key, k.raw)
			}
		}
	})
}

package wsclient

import (
	"encoding/json"
	"log/slog"
	"testing"
)

// FuzzHandleFrame feeds arbitrary server frames to a client's frame handler, text and
// binary (`_BIN_META` announcements and their payloads included): it never panics, and every key's state stays valid JSON that a Binding can decode or refuse.
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
		`{"type":"_SET:K","data":{"a":[]},"v":7,"epoch":"e2"}`,
		`{"type":"_RESUMED","data":{"patched":["K"],"set":[]}}`,
		`{"type":"_BIN_META","data":{"type":"thumb","metadata":{"w":2}}}`,
		`{"type":"_BIN_META","data":{"type":""}}`,
		`{"type":"_BIN_META","data":[1]}`,
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
		c.handleBinary(cn, frame) // a binary frame after it, announced or not
		c.handle(cn, frame)
		for key, k := range c.keys {
			if k.loaded && !json.Valid(k.raw) {
				t.Fatalf("state of %q is not JSON: %q", key, k.raw)
			}
		}
	})
}

// FuzzResumed feeds arbitrary `_RESUMED` data to a client that has just sent `_RESUME`
// naming key K: it never panics, only a key the client named can become live, and K's
// state is untouched by the answer.
func FuzzResumed(f *testing.F) {
	for _, s := range []string{
		`{"patched":["K"],"set":[]}`,
		`{"patched":[],"set":["K"]}`,
		`{"patched":["K","X"],"set":["K"]}`,
		`{"patched":"K"}`,
		`{"patched":[1,null]}`,
		`null`,
		`[]`,
		`"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Client{
			cfg:     config{logger: slog.New(slog.DiscardHandler)},
			changed: make(chan struct{}),
			keys:    map[string]*keyState{},
			pending: map[string]chan reply{},
		}
		c.disp.init()
		cn := &conn{ready: true} // no socket: the _RESUME is built, and dropped
		c.conn = cn
		c.handle(cn, []byte(`{"type":"_SET:K","data":{"a":[1]},"v":4,"epoch":"e1"}`))
		c.handle(cn, []byte(`{"type":"_SET:U","data":{}}`)) // no epoch: cannot resume
		for _, k := range c.keys {
			k.disconnected()
		}
		c.sendResumeLocked(cn)
		if !c.keys["K"].resuming || c.keys["U"].resuming {
			t.Fatal("the _RESUME must name exactly the key with an epoch")
		}
		frame, _ := json.Marshal(map[string]json.RawMessage{"type": json.RawMessage(`"_RESUMED"`), "data": data})
		if !json.Valid(data) {
			frame = append([]byte(`{"type":"_RESUMED","data":`), data...)
		}
		c.handle(cn, frame)
		k := c.keys["K"]
		if json.Valid(frame) && k.resuming { // an undecodable frame is dropped unread
			t.Fatalf("after _RESUMED %q: K still resuming", data)
		}
		if c.keys["U"].live || c.keys["U"].resuming {
			t.Fatalf("after _RESUMED %q: U live %v", data, c.keys["U"].live)
		}
		if string(k.raw) != `{"a":[1]}` || k.v != 4 || k.epoch != "e1" {
			t.Fatalf("_RESUMED %q changed K: %s v%d %q", data, k.raw, k.v, k.epoch)
		}
		if _, ok := c.keys["X"]; ok {
			t.Fatal("a key the client never named was created")
		}
	})
}

// FuzzDecodeBinMeta: a server's `_BIN_META` data decodes to an announcement with a
// non-empty event, or to an error; never a panic.
func FuzzDecodeBinMeta(f *testing.F) {
	for _, s := range []string{`{"type":"thumb","metadata":{"w":2}}`, `{"type":""}`, `{"type":1}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeBinMeta(data)
		if (err == nil) == (m == nil) || (m != nil && m.Type == "") {
			t.Fatalf("decodeBinMeta(%q) = %+v, %v", data, m, err)
		}
	})
}

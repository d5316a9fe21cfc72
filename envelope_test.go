package wssync

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	act, err := NewAction("ROOM", "refresh", map[string]int{"page": 2})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := NewEvent("typing", true)
	for _, c := range []struct {
		to  Target
		msg Message
	}{
		{ToSession("s1"), ev.Transient()},
		{ToUser("u1").Except("s2"), ev.WithID("job-1")},
		{ToSubscribers("ROOM").Except("s1"), act},
		{ToEveryone(), NewDownload("a.txt", []byte("hi"))},
	} {
		b, err := encodeEnvelope("node-1", c.to, c.msg)
		if err != nil {
			t.Fatal(err)
		}
		from, to, msg, err := decodeEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if from != "node-1" || to != c.to || msg.id != c.msg.id || msg.event != c.msg.event || msg.key != c.msg.key ||
			msg.transient != c.msg.transient || !bytes.Equal(msg.data, c.msg.data) {
			t.Errorf("round trip of %s: %q %+v %+v", b, from, to, msg)
		}
	}
}

func TestDecodeEnvelopeRefusesWhatNoSenderMakes(t *testing.T) {
	for _, p := range []string{
		`{}`, `null`, `[]`, `{"v":2,"id":"a","to":117,"t":"u","ev":"x","d":1}`,
		`{"v":1,"id":"","to":117,"t":"u","ev":"x","d":1}`,                   // no id
		`{"v":1,"id":"a","to":120,"t":"u","ev":"x","d":1}`,                  // unknown target kind
		`{"v":1,"id":"a","to":117,"t":"","ev":"x","d":1}`,                   // a user target without a user
		`{"v":1,"id":"a","to":101,"t":"u","ev":"x","d":1}`,                  // everyone with an id
		`{"v":1,"id":"a","to":117,"t":"u","ev":"_SET:K","d":{}}`,            // a protocol event
		`{"v":1,"id":"a","to":117,"t":"u","ev":"_ACTION:K","k":"L","d":{}}`, // action of another key
		`{"v":1,"id":"a","to":117,"t":"u","ev":"pong","d":1}`,
		`{"v":1,"id":"a","to":117,"t":"u","ev":"x"}`, // no data
	} {
		if _, _, _, err := decodeEnvelope([]byte(p)); err == nil {
			t.Errorf("decoded %s", p)
		}
	}
}

// FuzzDecodeEnvelope: whatever the bus carries, decoding never panics, and what it accepts
// is a message a constructor could have made, which encodes back to an equal envelope.
func FuzzDecodeEnvelope(f *testing.F) {
	ev, _ := NewEvent("hello", map[string]int{"n": 1})
	for _, to := range []Target{ToSession("s"), ToUser("u").Except("s"), ToSubscribers("K"), ToEveryone()} {
		b, _ := encodeEnvelope("n", to, ev)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"id":"a","to":107,"t":"K","ev":"_ACTION:K","k":"K","d":{"type":"x"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		from, to, msg, err := decodeEnvelope(payload)
		if err != nil {
			return
		}
		if !to.valid() || msg.id == "" || !json.Valid(msg.data) || !validEnvelopeEvent(msg.event, msg.key) {
			t.Fatalf("accepted %q as %+v %+v", payload, to, msg)
		}
		again, err := encodeEnvelope(from, to, msg)
		if err != nil {
			t.Fatal(err)
		}
		f2, to2, msg2, err := decodeEnvelope(again)
		if err != nil || f2 != from || to2 != to || msg2.id != msg.id || msg2.event != msg.event {
			t.Fatalf("re-encoding %q changed it: %q", payload, again)
		}
	})
}

package wssync

import (
	"encoding/json"
	"testing"
)

// TestFrameHeadAndTail checks that the head and tail builders make one JSON object with the
// event, its data and its version, whatever the event name holds.
func TestFrameHeadAndTail(t *testing.T) {
	for _, event := range []string{"_SET:NOTES", `_PATCH:a"b\c`, "_SET:日本語"} {
		buf := appendEventHead(nil, event)
		buf = append(buf, `{"x":1}`...)
		buf = appendVersionTail(buf, 18446744073709551615)
		var f struct {
			Type string
			Data map[string]int
			V    uint64
		}
		if err := json.Unmarshal(buf, &f); err != nil {
			t.Fatalf("%q: frame %s is not JSON: %v", event, buf, err)
		}
		if f.Type != event || f.Data["x"] != 1 || f.V != 18446744073709551615 {
			t.Errorf("%q: frame %s decodes to %+v", event, buf, f)
		}
	}
}

func TestFramePreparedOnce(t *testing.T) {
	f := &frame{data: []byte(`{"type":"_SET:K","data":{},"v":1}`)}
	a, err := f.prepared()
	if err != nil || a == nil {
		t.Fatalf("prepared: %v, %v", a, err)
	}
	if b, _ := f.prepared(); b != a {
		t.Error("a second call built another PreparedMessage: fan-out would pay for framing per connection")
	}
}

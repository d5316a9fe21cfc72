package wssync

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "line\nbreak\ttab", "<html>&", "é☃ 日本語", "\x00\x1f", "\u2028"} {
		got := appendJSONString([]byte("x"), s)
		if got[0] != 'x' {
			t.Fatalf("%q: the buffer's prefix was overwritten: %s", s, got)
		}
		var back string
		if err := json.Unmarshal(got[1:], &back); err != nil || back != s {
			t.Errorf("%q: appended %s, which decodes to %q, %v", s, got[1:], back, err)
		}
		want, _ := json.Marshal(s)
		if string(got[1:]) != string(want) {
			t.Errorf("%q: appended %s, encoding/json writes %s", s, got[1:], want)
		}
	}
}

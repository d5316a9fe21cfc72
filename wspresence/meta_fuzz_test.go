package wspresence

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeMeta feeds decodeMeta what a client may send as its Meta: it either refuses
// with a documented error or returns compact JSON within the limit, which decodes to
// itself again.
func FuzzDecodeMeta(f *testing.F) {
	for _, s := range []string{``, `null`, ` {"typing": true} `, `[1,2,3]`, `"x"`, `{"a":`, `1e999`, "\"\\ud800\"", `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		const max = 64
		meta, err := decodeMeta(raw, max)
		if err != nil {
			if meta != nil {
				t.Fatalf("a refusal returned %q", meta)
			}
			return
		}
		if meta == nil {
			return
		}
		if !json.Valid(meta) || len(meta) > max {
			t.Fatalf("decodeMeta(%q) = %q: not JSON within %d bytes", raw, meta, max)
		}
		again, err := decodeMeta(meta, max)
		if err != nil || !bytes.Equal(again, meta) {
			t.Fatalf("decodeMeta is not stable on %q: %q, %v", meta, again, err)
		}
	})
}

// FuzzDecodeMember: any store entry either decodes to a member with the entry's id or is
// skipped; none panics.
func FuzzDecodeMember(f *testing.F) {
	f.Add("s1", []byte(`{"user":"u","session":"other","meta":{"a":1}}`))
	f.Add("s2", []byte(`{"meta":null}`))
	f.Add("s3", []byte(`[]`))
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		m, ok := decodeMember(id, data)
		if ok && m.Session != id {
			t.Fatalf("member %+v from entry %q", m, id)
		}
		if ok && m.Meta != nil && !json.Valid(m.Meta) {
			t.Fatalf("meta %q is not JSON", m.Meta)
		}
	})
}

package patch

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestPropertyRandomPairs diffs many random pairs of documents, applies each
// patch with evanphx/json-patch and checks the result. Half of the pairs are
// derived from each other by a few small edits, so arrays and objects share
// structure the way successive states do. Documents are encoded either by
// encoding/json or by a deliberately non-canonical encoder (random member
// order, whitespace, \u escapes, duplicate keys).
func TestPropertyRandomPairs(t *testing.T) {
	iterations := 4000
	if testing.Short() {
		iterations = 500
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range iterations {
		g := gen{r: r}
		old := g.value(0)
		var nw any
		if r.IntN(2) == 0 {
			nw = g.value(0)
		} else {
			nw = old
			for range 1 + r.IntN(3) {
				nw = g.mutate(nw, 0)
			}
		}
		canonical := r.IntN(2) == 0
		oldB, newB := g.encode(old, canonical), g.encode(nw, canonical)
		if !json.Valid(oldB) || !json.Valid(newB) {
			t.Fatalf("case %d: generator produced invalid JSON:\n%s\n%s", i, oldB, newB)
		}
		opts := []*Options{nil, {MaxEditDistance: 2}, {MaxEditDistance: -1}}[r.IntN(3)]
		if _, _, err := diffAndApply(oldB, newB, opts); err != nil {
			t.Fatalf("case %d (opts %+v):\nold: %s\nnew: %s\n%v", i, opts, oldB, newB, err)
		}
	}
}

// gen generates random JSON-able values: map[string]any, []any, string,
// json.Number, bool and nil.
type gen struct{ r *rand.Rand }

// Characters that exercise escaping in keys and strings.
var genRunes = []rune{'a', 'b', 'c', 'a', 'b', '~', '/', '0', '1', '"', '\\', '\n', '\x00', '<', '&', 'é', '✓', '😀', '\u2028', ' '}

func (g gen) string(maxLen int) string {
	var b []rune
	for range g.r.IntN(maxLen + 1) {
		b = append(b, genRunes[g.r.IntN(len(genRunes))])
	}
	return string(b)
}

func (g gen) key() string {
	// Few distinct keys so that objects share members; sometimes empty.
	if g.r.IntN(10) == 0 {
		return ""
	}
	for {
		if k := g.string(2); k != "" {
			return k
		}
	}
}

func (g gen) scalar() any {
	switch g.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return json.Number(strconv.Itoa(g.r.IntN(20) - 5))
	case 3:
		return json.Number([]string{"0.5", "-1.25e-3", "1e300", "12345678901234567890", "-0", "3.0"}[g.r.IntN(6)])
	default:
		return g.string(6)
	}
}

func (g gen) value(depth int) any {
	k := g.r.IntN(10)
	if depth >= 4 || k < 4 {
		return g.scalar()
	}
	n := g.r.IntN(6)
	if k < 7 {
		a := make([]any, n)
		for i := range a {
			a[i] = g.value(depth + 1)
		}
		return a
	}
	m := make(map[string]any, n)
	for range n {
		m[g.key()] = g.value(depth + 1)
	}
	return m
}

// mutate returns a copy of v with one small random edit somewhere inside.
func (g gen) mutate(v any, depth int) any {
	switch v := v.(type) {
	case []any:
		a := slices.Clone(v)
		switch op := g.r.IntN(5); {
		case op == 0 || len(a) == 0:
			return slices.Insert(a, g.r.IntN(len(a)+1), g.value(depth+1))
		case op == 1:
			i := g.r.IntN(len(a))
			return slices.Delete(a, i, i+1)
		case op == 2:
			a[g.r.IntN(len(a))] = g.value(depth + 1)
			return a
		default:
			i := g.r.IntN(len(a))
			a[i] = g.mutate(a[i], depth+1)
			return a
		}
	case map[string]any:
		m := make(map[string]any, len(v)+1)
		var keys []string
		for k, x := range v {
			m[k] = x
			keys = append(keys, k)
		}
		slices.Sort(keys)
		switch op := g.r.IntN(4); {
		case op == 0 || len(keys) == 0:
			m[g.key()] = g.value(depth + 1)
		case op == 1:
			delete(m, keys[g.r.IntN(len(keys))])
		default:
			k := keys[g.r.IntN(len(keys))]
			m[k] = g.mutate(m[k], depth+1)
		}
		return m
	default:
		if g.r.IntN(3) == 0 {
			return g.value(depth)
		}
		return g.scalar()
	}
}

// encode marshals v with encoding/json, or else with random formatting.
func (g gen) encode(v any, canonical bool) []byte {
	if canonical {
		return mustMarshal(v)
	}
	var buf bytes.Buffer
	g.write(&buf, v)
	return buf.Bytes()
}

func (g gen) space(buf *bytes.Buffer) {
	if g.r.IntN(4) == 0 {
		buf.WriteString([]string{" ", "\n", "\t ", "\r\n  "}[g.r.IntN(4)])
	}
}

func (g gen) write(buf *bytes.Buffer, v any) {
	g.space(buf)
	switch v := v.(type) {
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			g.write(buf, x)
		}
		g.space(buf)
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if g.r.IntN(8) == 0 {
				// A duplicate that the real member, written later, overrides.
				g.writeString(buf, k)
				buf.WriteByte(':')
				g.write(buf, g.scalar())
				buf.WriteByte(',')
			}
			g.writeString(buf, k)
			g.space(buf)
			buf.WriteByte(':')
			g.write(buf, v[k])
		}
		g.space(buf)
		buf.WriteByte('}')
	case string:
		g.writeString(buf, v)
	default:
		buf.Write(mustMarshal(v))
	}
	g.space(buf)
}

// writeString writes s as a JSON string, escaping characters at random.
func (g gen) writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteRune(c)
		case c < 0x20 || g.r.IntN(4) == 0:
			if c > 0xffff {
				r1, r2 := utf16Pair(c)
				fmt.Fprintf(buf, `\u%04x\u%04X`, r1, r2)
			} else {
				fmt.Fprintf(buf, `\u%04x`, c)
			}
		case c == '/' && g.r.IntN(2) == 0:
			buf.WriteString(`\/`)
		default:
			buf.WriteRune(c)
		}
	}
	buf.WriteByte('"')
}

func utf16Pair(c rune) (rune, rune) {
	c -= 0x10000
	return 0xd800 + (c>>10)&0x3ff, 0xdc00 + c&0x3ff
}

// TestPropertyArrayEdits applies random insertions, removals and
// modifications to longer arrays with many repeated elements (the hard case
// for element matching) and checks the patches, and that their op count
// stays within twice the number of edits while the edit bound is not hit.
func TestPropertyArrayEdits(t *testing.T) {
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range iterations {
		elem := func() any {
			if r.IntN(4) == 0 {
				return map[string]any{"k": r.IntN(4)}
			}
			return r.IntN(5)
		}
		old := make([]any, r.IntN(200))
		for j := range old {
			old[j] = elem()
		}
		nw := slices.Clone(old)
		edits := r.IntN(12)
		if r.IntN(10) == 0 {
			edits = r.IntN(200)
		}
		for range edits {
			switch j := r.IntN(len(nw) + 1); {
			case r.IntN(3) == 0 || j == len(nw):
				nw = slices.Insert(nw, j, elem())
			case r.IntN(2) == 0:
				nw = slices.Delete(nw, j, j+1)
			default:
				nw[j] = elem()
			}
		}
		opts := &Options{MaxEditDistance: []int{0, 1, 8, 1000, -1}[r.IntN(5)]}
		oldB, newB := mustMarshal(old), mustMarshal(nw)
		ops, n, err := diffAndApply(oldB, newB, opts)
		if err != nil {
			t.Fatalf("case %d (opts %+v):\nold: %s\nnew: %s\n%v", i, opts, oldB, newB, err)
		}
		maxEdit := cmp.Or(opts.MaxEditDistance, defaultMaxEditDistance)
		if 2*edits <= maxEdit && n > max(1, 2*edits) {
			t.Errorf("case %d: %d ops for %d edits:\nold: %s\nnew: %s\nops: %s", i, n, edits, oldB, newB, ops)
		}
	}
}

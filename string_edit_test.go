package wssync

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A string is a leaf of the diff: a one-character edit of a long string field is sent as
// one replace of the whole string, so the patch grows with the string, not with the edit.
// Text kept as a list of lines costs only the line that changed. docs/go-guide.md and
// docs/benchmarks.md quote these sizes.

type longText struct {
	Text string `sync:"text"`
}

type lineText struct {
	Lines []string `sync:"lines"`
}

// frameSubscriber keeps a copy of every frame published to it.
type frameSubscriber struct{ frames []string }

func (c *frameSubscriber) deliver(_ *object, f *frame) { c.frames = append(c.frames, string(f.data)) }
func (c *frameSubscriber) resync(*object)              {}

// editOneChar returns s with the character at its middle replaced.
func editOneChar(s string) string {
	mid := len(s) / 2
	return s[:mid] + "X" + s[mid+1:]
}

// textOf returns n characters of prose-like text (ASCII: one byte per character).
func textOf(n int) string {
	return strings.Repeat("lorem ipsum dolor sit amet, ", n/28+1)[:n]
}

func TestStringEditReplacesWholeString(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1_000, 10_000} {
		t.Run(fmt.Sprintf("chars=%d", n), func(t *testing.T) {
			t.Parallel()
			state := &longText{Text: textOf(n)}
			s, err := Register(NewSession(), "K", state)
			if err != nil {
				t.Fatal(err)
			}
			sub := &frameSubscriber{}
			s.o.subscribe(sub)
			edited := editOneChar(state.Text)
			if err := s.Update(func(st *longText) { st.Text = edited }); err != nil {
				t.Fatal(err)
			}
			want := `{"type":"_PATCH:K","data":[{"op":"replace","path":"/text","value":"` + edited + `"}],"v":1}`
			if len(sub.frames) != 1 || sub.frames[0] != want {
				t.Fatalf("frames %.200q, want one replace of the whole string", sub.frames)
			}
			// the size docs/benchmarks.md quotes: the string plus 77 bytes of frame
			if got := len(sub.frames[0]); got != n+77 {
				t.Errorf("frame of %d bytes, want %d", got, n+77)
			}
		})
	}
}

func TestLineEditReplacesOneLine(t *testing.T) {
	t.Parallel()
	state := &lineText{}
	for i := range 100 { // 10,000 characters as 100 lines of 100
		state.Lines = append(state.Lines, textOf(100)[:99-len(fmt.Sprint(i))]+fmt.Sprint(i)+"\n")
	}
	s, err := Register(NewSession(), "K", state)
	if err != nil {
		t.Fatal(err)
	}
	sub := &frameSubscriber{}
	s.o.subscribe(sub)
	edited := editOneChar(state.Lines[50])
	if err := s.Update(func(st *lineText) { st.Lines[50] = edited }); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"_PATCH:K","data":[{"op":"replace","path":"/lines/50","value":` + fmt.Sprintf("%q", edited) + `}],"v":1}`
	if len(sub.frames) != 1 || sub.frames[0] != want {
		t.Fatalf("frames %q, want %q", sub.frames, want)
	}
}

// BenchmarkStringEdit: a one-character edit of a string of 1,000 and 10,000 characters,
// held as one string field and as a list of 100-character lines, against json.Marshal of
// the state (the floor of any Sync). Frames are exact; times are for reading as ratios.
//
//	go test -run '^$' -bench StringEdit -benchmem -count 3 .
func BenchmarkStringEdit(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("chars=%d/string", n), func(b *testing.B) {
			text := textOf(n)
			state := &longText{Text: text}
			benchEdit(b, state, func(i int) { state.Text = editAt(text, i) })
		})
		b.Run(fmt.Sprintf("chars=%d/marshal", n), func(b *testing.B) {
			text := textOf(n)
			state := &longText{Text: text}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				state.Text = editAt(text, i)
				if _, err := json.Marshal(state); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("chars=%d/lines", n), func(b *testing.B) {
			state := &lineText{}
			for range n / 100 {
				state.Lines = append(state.Lines, textOf(100))
			}
			orig := append([]string(nil), state.Lines...)
			benchEdit(b, state, func(i int) {
				j := (i / 2) % len(orig)
				state.Lines[j] = editAt(orig[j], i)
			})
		})
	}
}

// editAt is s with one character, chosen by i, changed, and back to s on the next i.
func editAt(s string, i int) string {
	if i%2 == 1 {
		return s
	}
	k := (i / 2 * 7919) % len(s)
	return s[:k] + "#" + s[k+1:]
}

func benchEdit[T any](b *testing.B, state *T, edit func(i int)) {
	s, err := Register(NewSession(), "K", state)
	if err != nil {
		b.Fatal(err)
	}
	sub := &countingSubscriber{}
	s.o.subscribe(sub)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.o.state.Lock()
		edit(i)
		s.o.state.Unlock()
		if err := s.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(sub.bytes)/float64(sub.frames), "frame-B")
}

package wssync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

type benchNote struct {
	ID     string `json:"id"`
	Author string `json:"author"`
	Text   string `json:"text"`
}

type benchRuled struct {
	Notes []benchNote `sync:"notes,write,owner=author"`
}

type benchOpen struct {
	Notes []benchNote `sync:"notes,write"`
}

// benchHooked checks ownership by hand, as an application would without the tag: every
// element another user owns must encode as before, in order.
type benchHooked struct {
	Notes []benchNote `sync:"notes,write"`
}

func (*benchHooked) ValidateWriteContext(ctx context.Context, prev, next *benchHooked) error {
	id, _ := IdentityFrom(ctx)
	others := func(ns []benchNote) [][]byte {
		var out [][]byte
		for _, n := range ns {
			if n.Author != id.User {
				b, _ := json.Marshal(n)
				out = append(out, b)
			}
		}
		return out
	}
	a, b := others(prev.Notes), others(next.Notes)
	if len(a) != len(b) {
		return errors.New("another's note")
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return errors.New("another's note")
		}
	}
	return nil
}

func benchNotes(n int) []benchNote {
	notes := make([]benchNote, n)
	for i := range notes {
		author := "ann"
		if i%2 == 1 {
			author = "bob"
		}
		notes[i] = benchNote{ID: fmt.Sprint(i), Author: author, Text: "a note of some forty bytes of text, say"}
	}
	return notes
}

// BenchmarkOwnerRuleWrite: bob replaces the text of one of his notes in a list of n notes
// (half his): the owner rule of the tag, against the same write with no rule and with the
// same check written as a ValidateWriteContext hook.
func BenchmarkOwnerRuleWrite(b *testing.B) {
	bob := newSession(&config{}, newMetrics(), Identity{User: "bob", Session: "b"})
	for _, n := range []int{10, 1000} {
		run := func(b *testing.B, o *object) {
			b.ReportAllocs()
			for i := range b.N {
				op := fmt.Sprintf(`[{"op":"replace","path":"/notes/%d/text","value":"edit %d"}]`, n-1, i)
				if err := o.clientPatchFrom(bob, json.RawMessage(op), 1<<20, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("n=%d/tag", n), func(b *testing.B) {
			s, _ := NewShared("R", &benchRuled{Notes: benchNotes(n)})
			run(b, s.o)
		})
		b.Run(fmt.Sprintf("n=%d/none", n), func(b *testing.B) {
			s, _ := NewShared("R", &benchOpen{Notes: benchNotes(n)})
			run(b, s.o)
		})
		b.Run(fmt.Sprintf("n=%d/hook", n), func(b *testing.B) {
			s, _ := NewShared("R", &benchHooked{Notes: benchNotes(n)})
			run(b, s.o)
		})
	}
}

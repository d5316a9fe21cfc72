package wssync

import (
	"errors"
	"strings"
	"testing"
)

func TestShiftsArray(t *testing.T) {
	for p, want := range map[string]bool{
		"/items/0":    true,
		"/items/12":   true,
		"/a/b/3":      true,
		"/items/-":    false, // an append shifts nothing
		"/items":      false,
		"/0":          false, // a field named "0", not an index below a field
		"/items/":     false,
		"/items/1a":   false,
		"":            false,
		"/items/0/id": false,
	} {
		if got := shiftsArray(p); got != want {
			t.Errorf("shiftsArray(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestSizeTally(t *testing.T) {
	tooLargeCode := &Error{Code: CodeTooLarge}
	for _, tc := range []struct {
		name     string
		tally    sizeTally
		changes  [][2]int // next, cur
		refused  bool
		mentions string
	}{
		{"shrinks", sizeTally{maxState: 10, growthLimit: 1, size: 100}, [][2]int{{1, 50}}, false, ""},
		{"within", sizeTally{maxState: 100, growthLimit: 10, size: 90}, [][2]int{{15, 5}}, false, ""},
		{"over the growth limit", sizeTally{maxState: 1000, growthLimit: 10, size: 0}, [][2]int{{6, 0}, {6, 0}}, true, "at most 10"},
		{"over the state bound", sizeTally{maxState: 100, growthLimit: 50, size: 95}, [][2]int{{10, 4}}, true, "101 bytes"},
		{"net of a shrink", sizeTally{maxState: 100, growthLimit: 10, size: 95}, [][2]int{{20, 0}, {0, 15}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := tc.tally
			for _, c := range tc.changes {
				tl.add(c[0], c[1])
			}
			err := tl.check()
			if (err != nil) != tc.refused {
				t.Fatalf("check() = %v, refused want %v", err, tc.refused)
			}
			if err != nil && (!errors.Is(err, tooLargeCode) || !strings.Contains(err.Error(), tc.mentions)) {
				t.Errorf("check() = %v, want a %s refusal mentioning %q", err, CodeTooLarge, tc.mentions)
			}
		})
	}
}

func TestWithMaxStateSizeIgnoresNonPositive(t *testing.T) {
	r := &registration{maxState: 7}
	WithMaxStateSize(0)(r)
	WithMaxStateSize(-1)(r)
	if r.maxState != 7 {
		t.Errorf("a non-positive size changed the bound to %d", r.maxState)
	}
	WithMaxStateSize(100)(r)
	if r.maxState != 100 {
		t.Errorf("WithMaxStateSize(100) set %d", r.maxState)
	}
}

package wssync

import (
	"slices"
	"testing"
)

func TestParsePointer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"/", []string{""}},
		{"/a", []string{"a"}},
		{"/a/b/0", []string{"a", "b", "0"}},
		{"/a~1b", []string{"a/b"}},
		{"/m~0n", []string{"m~n"}},
		{"/~01", []string{"~1"}}, // ~0 first, so "~01" is "~1", not "/"
		{"/~10", []string{"/0"}},
		{"//", []string{"", ""}},
		{"/é☃", []string{"é☃"}},
	} {
		got, err := parsePointer(tc.in)
		if err != nil || !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("parsePointer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePointerRefuses(t *testing.T) {
	for _, in := range []string{"a", "a/b", "#/a", "/~", "/a~", "/~2", "/a~x/b", "/ok/~"} {
		if got, err := parsePointer(in); err == nil {
			t.Errorf("parsePointer(%q) = %q, want an error", in, got)
		}
	}
}

package redistest

import (
	"fmt"
	"strings"
	"testing"
)

// endingTB is a testing.TB that records Fatalf and Skipf instead of ending the test. As
// the real ones end the test, only the first of them counts.
type endingTB struct {
	testing.TB
	fatal, skip string
}

func (e *endingTB) Helper() {}
func (e *endingTB) Fatalf(format string, args ...any) {
	if e.fatal == "" && e.skip == "" {
		e.fatal = fmt.Sprintf(format, args...)
	}
}

func (e *endingTB) Skipf(format string, args ...any) {
	if e.fatal == "" && e.skip == "" {
		e.skip = fmt.Sprintf(format, args...)
	}
}

// TestMissingServerPolicy: without redis-server on PATH a test is skipped with a message
// naming the variable, unless the variable is set: then it fails.
func TestMissingServerPolicy(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // an empty directory: no redis-server
	for _, tc := range []struct {
		value string
		fails bool
	}{
		{"", false},
		{"0", false},
		{"1", true},
		{"yes", true},
	} {
		t.Setenv(RequireEnv, tc.value)
		e := &endingTB{TB: t}
		if bin := serverBinary(e); bin != "" {
			t.Fatalf("%s=%q: found %s on an empty PATH", RequireEnv, tc.value, bin)
		}
		msg := e.skip
		if tc.fails {
			msg = e.fatal
		}
		if msg == "" || (e.fatal != "") != tc.fails || (e.skip != "") == tc.fails {
			t.Errorf("%s=%q: fatal %q, skip %q; want it to fail: %v", RequireEnv, tc.value, e.fatal, e.skip, tc.fails)
		}
		if !strings.Contains(msg, "redis-server not found") || !strings.Contains(msg, RequireEnv) {
			t.Errorf("%s=%q: message %q does not say what is missing and which variable decides", RequireEnv, tc.value, msg)
		}
	}
}

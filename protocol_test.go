package wssync

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wssync/wssync/internal/proto"
)

// TestFrameBuilders: every outbound frame is one JSON object whose type is a protocol name.
func TestFrameBuilders(t *testing.T) {
	result, err := resultFrame("r1", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := binMetaFrame("upload", map[string]string{"name": "a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	set := appendVersionTail(append(appendSetHead(nil, "K"), `{"a":1}`...), 3)
	patch := appendVersionTail(append(patchHead("K"), ']'), 4)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"set", set, `{"type":"_SET:K","data":{"a":1},"v":3}`},
		{"patch", patch, `{"type":"_PATCH:K","data":[],"v":4}`},
		{"result", result.data, `{"type":"_RESULT","id":"r1","data":{"n":1}}`},
		{"error result", errorFrame(&Error{Code: CodeBadData, Message: "m"}, "r2").data,
			`{"type":"_RESULT","id":"r2","error":{"code":"bad_data","message":"m"}}`},
		{"error", errorFrame(&Error{Code: CodeBadData, Message: "m"}, "").data,
			`{"type":"_ERROR","data":{"code":"bad_data","message":"m"}}`},
		{"disconnect", disconnectFrame().data,
			`{"type":"_DISCONNECT","data":"This session was opened elsewhere; this connection is closed."}`},
		{"request user session", requestUserSessionFrame, `{"type":"_REQUEST_USER_SESSION"}`},
		{"bin meta", bin.data, `{"type":"_BIN_META","data":{"type":"upload","metadata":{"name":"a.txt"}}}`},
		{"event", eventFrame("custom", []byte(`[1]`)).data, `{"type":"custom","data":[1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid(tt.data) {
				t.Fatalf("not JSON: %s", tt.data)
			}
			if string(tt.data) != tt.want {
				t.Errorf("got  %s\nwant %s", tt.data, tt.want)
			}
		})
	}
}

func TestMergeType(t *testing.T) {
	for _, tt := range []struct {
		params any
		want   string
	}{
		{nil, `{"type":"go"}`},
		{struct{}{}, `{"type":"go"}`},
		{map[string]int{"n": 2}, `{"type":"go","n":2}`},
	} {
		got, err := mergeType("go", tt.params)
		if err != nil || string(got) != tt.want {
			t.Errorf("mergeType(%v) = %s, %v; want %s", tt.params, got, err, tt.want)
		}
	}
	if _, err := mergeType("go", []int{1}); err == nil {
		t.Error("params that are not an object were accepted")
	}
}

// TestEventNamesHaveOneHome: no Go source file but internal/proto spells an event name, so
// the wire is read in one place.
func TestEventNamesHaveOneHome(t *testing.T) {
	literal := regexp.MustCompile(`"_[A-Z_]+`)
	home := filepath.Join("internal", "proto", "proto.go")
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "web" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == home {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if literal.MatchString(line) {
				t.Errorf("%s:%d spells an event name; use internal/proto: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEventNamesDocumented: every name of internal/proto is an event of docs/protocol.md.
func TestEventNamesDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		proto.Set, proto.Patch, proto.Get, proto.Action, proto.TaskStart, proto.TaskCancel, proto.TaskStatus,
		proto.Result, proto.Error, proto.BinMeta, proto.Toast, proto.Download, proto.Disconnect,
		proto.RequestUserSession, proto.UserSession, proto.Auth, proto.AuthExpiring, proto.AuthExpired,
		proto.Subprotocol + "`", proto.BearerPrefix + "`", proto.Resume, proto.Resumed, proto.ResumeSubprotocol + "`",
	} {
		if !strings.Contains(string(doc), "`"+name) {
			t.Errorf("docs/protocol.md does not document %s", name)
		}
	}
}

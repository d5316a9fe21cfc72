package wssync

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeInbound(t *testing.T) {
	for _, tc := range []struct {
		in              string
		event, data, id string
	}{
		{`{"type":"_GET:K"}`, "_GET:K", "", ""},
		{`{"type":"chat","data":{"text":"hi"}}`, "chat", `{"text":"hi"}`, ""},
		{`{"type":"x","data":null}`, "x", "", ""}, // null data is no data
		{`{"type":"x","data":[1,2],"id":"r1"}`, "x", `[1,2]`, "r1"},
		{`{"type":"x","id":null}`, "x", "", ""},
		{`{"type":"a","type":"b"}`, "b", "", ""}, // the last duplicate wins, as with encoding/json
		{`{"other":1,"type":"x"}`, "x", "", ""},
	} {
		got, err := decodeInbound([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: refused: %v", tc.in, err)
			continue
		}
		if got.event != tc.event || string(got.data) != tc.data || got.id != tc.id {
			t.Errorf("%s: decoded event %q data %q id %q; want %q %q %q", tc.in, got.event, got.data, got.id, tc.event, tc.data, tc.id)
		}
	}
}

func TestDecodeInboundRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code Code
	}{
		{`not json`, CodeMalformedJSON},
		{`{"type":"x"`, CodeMalformedJSON},
		{`[1]`, CodeBadEnvelope},
		{`"x"`, CodeBadEnvelope},
		{`{}`, CodeBadEnvelope},
		{`{"type":""}`, CodeBadEnvelope},
		{`{"type":7}`, CodeBadEnvelope},
		{`{"type":"x","id":""}`, CodeBadEnvelope},
		{`{"type":"x","id":5}`, CodeBadEnvelope},
		{`{"type":"x","id":"` + strings.Repeat("i", maxRequestID+1) + `"}`, CodeBadEnvelope},
	} {
		if got, err := decodeInbound([]byte(tc.in)); err == nil || err.Code != tc.code {
			t.Errorf("%.40s: %+v, %v; want code %s", tc.in, got, err, tc.code)
		}
	}
	if _, err := decodeInbound([]byte(`{"type":"x","id":"` + strings.Repeat("i", maxRequestID) + `"}`)); err != nil {
		t.Errorf("an id of exactly %d bytes refused: %v", maxRequestID, err)
	}
}

func TestClip(t *testing.T) {
	if got := clip("short", 10); got != "short" {
		t.Errorf("clip of a short string changed it: %q", got)
	}
	for _, s := range []string{strings.Repeat("a", 100), strings.Repeat("é", 50), strings.Repeat("日本", 40)} {
		got := clip(s, 20)
		if len(got) > 20 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || !strings.HasPrefix(s, strings.TrimSuffix(got, "…")) {
			t.Errorf("clip(%.10q…, 20) = %q: want at most 20 bytes of valid UTF-8, a prefix marked with …", s, got)
		}
	}
}

func TestErrorFrame(t *testing.T) {
	e := &Error{Code: CodeBadParams, Message: "m", Path: "/p"}
	var plain struct {
		Type string
		Data Error
	}
	if err := json.Unmarshal(errorFrame(e, "").data, &plain); err != nil || plain.Type != "_ERROR" || plain.Data != *e {
		t.Errorf("_ERROR frame decodes to %+v, %v", plain, err)
	}
	var result struct {
		Type, ID string
		Error    Error
	}
	b := errorFrame(e, `r"1`).data
	if err := json.Unmarshal(b, &result); err != nil || result.Type != "_RESULT" || result.ID != `r"1` || result.Error != *e {
		t.Errorf("_RESULT frame %s decodes to %+v, %v", b, result, err)
	}
}

func TestUnknownEvent(t *testing.T) {
	s := &Session{}
	for ev, want := range map[string]Code{
		"_SET:NOPE":         CodeUnknownKey,
		"_PATCH:NOPE":       CodeUnknownKey,
		"_GET:NOPE":         CodeUnknownKey,
		"_ACTION:NOPE":      CodeUnknownKey,
		"_TASK_START:NOPE":  CodeUnknownKey,
		"_TASK_CANCEL:NOPE": CodeUnknownKey,
		"chat":              CodeUnknownEvent,
		"_WHATEVER":         CodeUnknownEvent,
	} {
		if e := s.unknownEvent(ev); e.Code != want || (want == CodeUnknownKey && !strings.Contains(e.Message, "NOPE")) {
			t.Errorf("unknownEvent(%q) = %+v, want code %s naming the key", ev, e, want)
		}
	}
	if e := s.unknownEvent(strings.Repeat("x", 10000)); len(e.Message) > 2*maxEchoedName {
		t.Errorf("a long event name is echoed in full (%d bytes)", len(e.Message))
	}
}

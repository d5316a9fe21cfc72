package wssync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// schemaBase is embedded by schemaState: its fields are flattened into the state.
type schemaBase struct {
	ID string `sync:"id"`
}

// celsius has a custom MarshalJSON and no schema of its own: any JSON value.
type celsius float64

func (c celsius) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(strconv.FormatFloat(float64(c), 'f', 1, 64) + "C")), nil
}

// level describes its own JSON encoding.
type level int

func (l level) MarshalJSON() ([]byte, error) { return json.Marshal([]string{"low", "high"}[l]) }
func (level) JSONSchema() *JSONSchema {
	return &JSONSchema{Type: TypeList{"string"}, Enum: []any{"low", "high"}}
}

type schemaInner struct {
	Label   string       `json:"label" validate:"required,max=20"`
	Hidden  string       `json:"-"`
	Count   int          `json:"count,omitempty"`
	Big     int64        `json:"big,string"`
	Parent  *schemaInner `json:"parent"`
	private int          // unexported: not encoded
}

type schemaEmbedPtr struct {
	Extra string `json:"extra"`
}

type schemaNested struct {
	*schemaEmbedPtr
	Name string
}

type schemaState struct {
	schemaBase
	Title     string             `sync:"title,write" doc:"the shown title" validate:"min=1,max=60"`
	Tags      []string           `sync:"tags" validate:"required,max=5,dive,oneof=red green 'dark blue'"`
	Optional  []string           `sync:"optional"`
	Scores    map[string]float64 `sync:"scores"`
	ByNum     map[int]bool       `sync:"byNum"`
	Inner     *schemaInner       `sync:"inner"`
	Items     []schemaInner      `sync:"items,write"`
	Nested    schemaNested       `sync:"nested"`
	When      time.Time          `sync:"when"`
	Raw       json.RawMessage    `sync:"raw"`
	Temp      celsius            `sync:"temp"`
	Level     level              `sync:"level"`
	Blob      []byte             `sync:"blob"`
	Fixed     [2]uint8           `sync:"fixed"`
	Any       any                `sync:"any"`
	Mode      string             `sync:"mode,write" validate:"omitempty,oneof=a b"`
	NoteCount uint16
	Skipped   string `sync:"-"`
}

type renameArgs struct {
	ID    string `json:"id" validate:"required"`
	Text  string `json:"text" validate:"min=1,max=200"`
	Force *bool  `json:"force"`
	Note  string `json:"note,omitempty"`
	Size  int    `validate:"gte=1,lte=10"`
}

type renameResult struct {
	Old string `json:"old"`
	New string `json:"new"`
}

type pingData struct {
	Seq int `json:"seq"`
}

// newSchemaSession registers a state with every tricky type, an action with a result, an
// action without one, a task, a computed value, the running tasks and custom events.
func newSchemaSession(t *testing.T) (*Session, *Synced[schemaState]) {
	t.Helper()
	sess := NewSession()
	t.Cleanup(sess.Close)
	st := &schemaState{Title: "hello", Tags: []string{"red"}, Items: []schemaInner{{Label: "a", Big: 7, private: 1}},
		When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Raw: json.RawMessage(`{"x":[1]}`), Temp: 21.5, Level: 1}
	s, err := Register(sess.Scope("room"), "STATE", st, WithComputed("total", func() any { return len(st.Items) }),
		WithComputed("nothing", func() any { return nil }), WithRunningTasks("running"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ActionResult(s, "rename", func(ctx context.Context, p renameArgs) (renameResult, error) { return renameResult{}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := Action(s, "clear", func(ctx context.Context, p struct{}) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := Task(s, "import", func(ctx context.Context, p struct {
		Source string `json:"source"`
	}) error {
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := On(sess, "ping", func(ctx context.Context, p pingData) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := On(sess, "count", func(ctx context.Context, n int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return sess, s
}

func mustSchema(t *testing.T, sess *Session) *Schema {
	t.Helper()
	sc, err := sess.Schema()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSchemaState: each tricky type of the state gets the schema its encoding has.
func TestSchemaState(t *testing.T) {
	sess, _ := newSchemaSession(t)
	sc := mustSchema(t, sess)
	if len(sc.Keys) != 1 || sc.Keys[0].Key != "room/STATE" || sc.Keys[0].Scope != "room" || sc.Keys[0].Shared {
		t.Fatalf("keys %+v", sc.Keys)
	}
	state := sc.Keys[0].State
	if state.Schema != JSONSchemaDraft || toJSON(t, state.AdditionalProperties) != "false" {
		t.Fatalf("state head: %s", toJSON(t, state))
	}
	var names []string
	for _, p := range state.Properties {
		names = append(names, p.Name)
	}
	want := []string{"id", "title", "tags", "optional", "scores", "byNum", "inner", "items", "nested", "when", "raw", "temp",
		"level", "blob", "fixed", "any", "mode", "noteCount", "total", "nothing", "running"}
	if !slices.Equal(names, want) || !slices.Equal(state.Required, want) {
		t.Fatalf("properties %v\nrequired %v\nwant %v", names, state.Required, want)
	}
	cases := map[string]string{
		"id":        `{"type":"string","readOnly":true}`,
		"title":     `{"description":"the shown title","type":"string","minLength":1,"maxLength":60,"x-wssync-validate":"min=1,max=60"}`,
		"tags":      `{"type":"array","items":{"type":"string","enum":["red","green","dark blue"]},"maxItems":5,"readOnly":true,"x-wssync-validate":"required,max=5,dive,oneof=red green 'dark blue'"}`,
		"optional":  `{"type":["array","null"],"items":{"type":"string"},"readOnly":true}`,
		"scores":    `{"type":["object","null"],"additionalProperties":{"type":"number"},"readOnly":true}`,
		"byNum":     `{"type":["object","null"],"additionalProperties":{"type":"boolean"},"propertyNames":{"pattern":"^-?[0-9]+$"},"readOnly":true}`,
		"inner":     `{"anyOf":[{"$ref":"#/$defs/schemaInner"},{"type":"null"}],"readOnly":true}`,
		"items":     `{"type":["array","null"],"items":{"$ref":"#/$defs/schemaInner"}}`,
		"nested":    `{"$ref":"#/$defs/schemaNested","readOnly":true}`,
		"when":      `{"type":"string","format":"date-time","readOnly":true}`,
		"raw":       `{"$comment":"json.RawMessage: any JSON value","readOnly":true}`,
		"temp":      `{"$comment":"custom MarshalJSON: any JSON value","readOnly":true,"x-go-type":"wssync.celsius"}`,
		"level":     `{"type":"string","enum":["low","high"],"readOnly":true}`,
		"blob":      `{"type":["string","null"],"contentEncoding":"base64","readOnly":true}`,
		"fixed":     `{"type":"array","items":{"type":"integer","minimum":0,"maximum":255},"minItems":2,"maxItems":2,"readOnly":true}`,
		"any":       `{"readOnly":true}`,
		"mode":      `{"type":"string","anyOf":[{"const":""},{"enum":["a","b"]}],"x-wssync-validate":"omitempty,oneof=a b"}`,
		"noteCount": `{"type":"integer","minimum":0,"maximum":65535,"readOnly":true}`,
		"total":     `{"type":"integer","readOnly":true,"x-wssync-computed":true}`,
		"nothing":   `{"readOnly":true,"x-wssync-computed":true}`,
		"running":   `{"description":"names of the running tasks, sorted","type":"array","items":{"type":"string"},"readOnly":true,"x-wssync-computed":true}`,
	}
	for name, w := range cases {
		if got := toJSON(t, state.Properties.Get(name)); got != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got, w)
		}
	}
	defs := map[string]string{
		// Hidden (json:"-") and private are not encoded; omitempty is optional; ",string" is a string.
		"schemaInner": `{"type":"object","properties":{"label":{"type":"string","minLength":1,"maxLength":20,"x-wssync-validate":"required,max=20"},"count":{"type":"integer"},"big":{"type":"string"},"parent":{"anyOf":[{"$ref":"#/$defs/schemaInner"},{"type":"null"}]}},"required":["label","big","parent"],"additionalProperties":false,"x-go-type":"wssync.schemaInner"}`,
		// An embedded pointer's fields are flattened and optional (absent while it is nil);
		// untagged nested fields keep their Go name.
		"schemaNested": `{"type":"object","properties":{"extra":{"type":"string"},"Name":{"type":"string"}},"required":["Name"],"additionalProperties":false,"x-go-type":"wssync.schemaNested"}`,
	}
	for name, w := range defs {
		if got := toJSON(t, state.Defs[name]); got != w {
			t.Errorf("$defs/%s:\n got %s\nwant %s", name, got, w)
		}
	}
}

// TestSchemaCalls: params follow the decoder (naming rule, required unless nilable or
// omitempty, nothing else accepted); results follow encoding/json; events and tasks too.
func TestSchemaCalls(t *testing.T) {
	sess, _ := newSchemaSession(t)
	sc := mustSchema(t, sess)
	k := sc.Keys[0]
	if len(k.Actions) != 2 || k.Actions[0].Name != "clear" || k.Actions[1].Name != "rename" {
		t.Fatalf("actions %+v", k.Actions)
	}
	rename := k.Actions[1]
	wantParams := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"id":{"type":"string","minLength":1,"x-wssync-validate":"required"},"text":{"type":"string","minLength":1,"maxLength":200,"x-wssync-validate":"min=1,max=200"},"force":{"type":["boolean","null"]},"note":{"type":"string"},"size":{"type":"integer","minimum":1,"maximum":10,"x-wssync-validate":"gte=1,lte=10"}},"required":["id","text","size"],"additionalProperties":false,"x-go-type":"wssync.renameArgs"}`
	if got := toJSON(t, rename.Params); got != wantParams {
		t.Errorf("rename params:\n got %s\nwant %s", got, wantParams)
	}
	wantResult := `{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"#/$defs/renameResult","$defs":{"renameResult":{"type":"object","properties":{"old":{"type":"string"},"new":{"type":"string"}},"required":["old","new"],"additionalProperties":false,"x-go-type":"wssync.renameResult"}}}`
	if got := toJSON(t, rename.Result); got != wantResult {
		t.Errorf("rename result:\n got %s\nwant %s", got, wantResult)
	}
	if got := toJSON(t, k.Actions[0].Result); got != `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"null"}` {
		t.Errorf("clear result %s", got)
	}
	if len(k.Tasks) != 1 || k.Tasks[0].Name != "import" || k.Tasks[0].Result != nil || !slices.Equal(k.Tasks[0].Params.Required, []string{"source"}) {
		t.Errorf("tasks %s", toJSON(t, k.Tasks))
	}
	if len(sc.Events) != 2 || sc.Events[0].Name != "count" || sc.Events[1].Name != "ping" {
		t.Fatalf("events %s", toJSON(t, sc.Events))
	}
	if got := toJSON(t, sc.Events[0].Data); got != `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer"}` {
		t.Errorf("count data %s", got)
	}
	if got := sc.Events[1].Data.Properties.Get("seq"); got == nil || !slices.Equal(sc.Events[1].Data.Required, []string{"seq"}) {
		t.Errorf("ping data %s", toJSON(t, sc.Events[1].Data))
	}
	if !sess.Off("ping") || len(mustSchema(t, sess).Events) != 1 {
		t.Error("Off did not remove the event from the schema")
	}
	if !slices.Equal(sc.ErrorCodes, allCodes) || len(sc.CloseCodes) != len(closeCodes) {
		t.Error("codes missing")
	}
}

// TestSchemaValidatesRealFrames: the emitted schemas, compiled by a real JSON Schema
// validator, accept the data of real frames (a _SET as the client receives it over a
// WebSocket, a _RESULT) and refuse what the server refuses.
func TestSchemaValidatesRealFrames(t *testing.T) {
	sess, _ := newSchemaSession(t)
	sc := mustSchema(t, sess)
	k := sc.Keys[0]
	state := compileSchema(t, k.State)

	cl := dialSession(t, sess)
	set := cl.State("room/STATE")
	if err := state.Validate(set); err != nil {
		t.Fatalf("the _SET data does not validate: %v\n%s", err, toJSON(t, set))
	}
	bad := map[string]any{}
	for key, v := range set.(map[string]any) {
		bad[key] = v
	}
	bad["title"] = 5
	if state.Validate(bad) == nil {
		t.Error("a number title validated")
	}
	delete(bad, "title")
	if state.Validate(bad) == nil {
		t.Error("a state without title validated")
	}

	params := compileSchema(t, k.Actions[1].Params)
	for _, good := range []string{`{"id":"n1","text":"x","size":3}`, `{"id":"n1","text":"x","size":3,"force":null,"note":"n"}`} {
		if err := params.Validate(decodeAny(t, good)); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, refused := range []string{`{"id":"n1","text":"x"}`, `{"id":"n1","text":"x","size":3,"other":1}`, `{"id":"","text":"x","size":3}`, `{"id":"n","text":"x","size":11}`} {
		if params.Validate(decodeAny(t, refused)) == nil {
			t.Errorf("%s validated", refused)
		}
	}
	res, err := json.Marshal(renameResult{Old: "a", New: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t, k.Actions[1].Result).Validate(decodeAny(t, string(res))); err != nil {
		t.Errorf("result: %v", err)
	}
}

// TestSchemaJSONRoundTrip: a Schema survives encoding/json (what cmd/wssync-gen reads),
// property order and boolean schemas included.
func TestSchemaJSONRoundTrip(t *testing.T) {
	sess, _ := newSchemaSession(t)
	sc := mustSchema(t, sess)
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	var back Schema
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("round trip differs:\n%s\n%s", b, b2)
	}
}

// TestManagerSchemaDryRun: the factory runs on a session that is not kept, the schema has
// its keys, its OnClose hooks ran, and a failing factory is an error.
func TestManagerSchemaDryRun(t *testing.T) {
	closed := make(chan struct{})
	shared, err := NewShared("ROOM", &struct {
		Name string `sync:"name"`
	}{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(func(ctx context.Context, sess *Session) error {
		sess.OnClose(func(context.Context) { close(closed) })
		if err := shared.Join(sess); err != nil {
			return err
		}
		_, err := Register(sess, "ME", &struct {
			User string `sync:"user"`
		}{User: sess.Identity().User})
		return err
	})
	defer func() { _ = m.Shutdown(context.Background()) }()
	sc, err := m.Schema(context.Background(), Identity{User: "u1", Session: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Keys) != 2 || sc.Keys[0].Key != "ME" || sc.Keys[1].Key != "ROOM" || !sc.Keys[1].Shared || sc.Keys[0].Shared {
		t.Fatalf("keys %s", toJSON(t, sc.Keys))
	}
	select {
	case <-closed:
	default:
		t.Error("the dry-run session was not closed")
	}
	if len(m.Sessions()) != 0 || m.Stats().Sessions != 0 {
		t.Errorf("the dry run left a session: %d, stats %d", len(m.Sessions()), m.Stats().Sessions)
	}
	if len(shared.o.sessions()) != 0 {
		t.Error("the dry-run session is still subscribed to the shared object")
	}
	failing := NewManager(func(ctx context.Context, sess *Session) error { return errors.New("no") })
	defer func() { _ = failing.Shutdown(context.Background()) }()
	if _, err := failing.Schema(context.Background(), Identity{}); err == nil || !strings.Contains(err.Error(), "no") {
		t.Errorf("failing factory: %v", err)
	}
}

// TestSchemaComputedPanics: a computed value that panics fails Schema instead of the process.
func TestSchemaComputedPanics(t *testing.T) {
	sess := NewSession()
	defer sess.Close()
	armed := false
	if _, err := Register(sess, "K", &struct {
		A int `sync:"a"`
	}{}, WithComputed("boom", func() any {
		if armed {
			panic("boom")
		}
		return 1
	})); err != nil {
		t.Fatal(err)
	}
	armed = true
	if _, err := sess.Schema(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err %v", err)
	}
}

// TestCloseCodeTable: the schema's close codes are the Close constants of codes.go, with
// the terminal ones marked as their comment says.
func TestCloseCodeTable(t *testing.T) {
	declared := constValues(t, "Close")
	if len(declared) != len(closeCodes) {
		t.Fatalf("%d constants, %d in the table", len(declared), len(closeCodes))
	}
	for i, c := range declared {
		if strconv.Itoa(closeCodes[i].Code) != c.value || closeCodes[i].Terminal != strings.Contains(c.comment, "terminal") {
			t.Errorf("row %d: %+v, constant %s (%q)", i, closeCodes[i], c.value, c.comment)
		}
	}
}

// TestValidateTagTranslation covers the rules the schema translates, one kind at a time.
func TestValidateTagTranslation(t *testing.T) {
	type v struct {
		S   string         `validate:"len=3"`
		G   string         `validate:"gt=2,lt=5"`
		E   string         `validate:"email"`
		A   string         `validate:"alphanum"`
		N   float64        `validate:"gt=0,lt=1"`
		I   int            `validate:"oneof=1 2 3"`
		Eq  int            `validate:"eq=4"`
		M   map[string]int `validate:"min=1,dive,max=9"`
		Or  string         `validate:"email|url"`
		P   *string        `validate:"required,max=3"`
		Opt *int           `validate:"omitempty,min=2"`
	}
	b := newSchemaBuilder()
	s := b.structSchema(reflectTypeOf[v]())
	cases := map[string]string{
		"S":   `{"type":"string","minLength":3,"maxLength":3,"x-wssync-validate":"len=3"}`,
		"G":   `{"type":"string","minLength":3,"maxLength":4,"x-wssync-validate":"gt=2,lt=5"}`,
		"E":   `{"type":"string","format":"email","x-wssync-validate":"email"}`,
		"A":   `{"type":"string","pattern":"^[a-zA-Z0-9]+$","x-wssync-validate":"alphanum"}`,
		"N":   `{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1,"x-wssync-validate":"gt=0,lt=1"}`,
		"I":   `{"type":"integer","enum":[1,2,3],"x-wssync-validate":"oneof=1 2 3"}`,
		"Eq":  `{"type":"integer","const":4,"x-wssync-validate":"eq=4"}`,
		"M":   `{"type":["object","null"],"additionalProperties":{"type":"integer","maximum":9},"minProperties":1,"x-wssync-validate":"min=1,dive,max=9"}`,
		"Or":  `{"type":"string","x-wssync-validate":"email|url"}`,
		"P":   `{"type":"string","minLength":1,"maxLength":3,"x-wssync-validate":"required,max=3"}`,
		"Opt": `{"type":["integer","null"],"anyOf":[{"const":null},{"minimum":2}],"x-wssync-validate":"omitempty,min=2"}`,
	}
	for name, w := range cases {
		if got := toJSON(t, s.Properties.Get(name)); got != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got, w)
		}
	}
}

func compileSchema(t *testing.T, s *JSONSchema) *jsonschema.Schema {
	t.Helper()
	doc := decodeAny(t, toJSON(t, s))
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		t.Fatal(err)
	}
	compiled, err := c.Compile("mem://schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v\n%s", err, toJSON(t, s))
	}
	return compiled
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// dialSession serves sess over a loopback WebSocket and returns a client that has received
// the _SET of every key.
func dialSession(t *testing.T, sess *Session) *setClient {
	t.Helper()
	c := wstest.Dial(t, wstest.Serve(t, http.HandlerFunc(sess.ServeWS)))
	wstest.WaitType(t, c, "_SET:room/STATE")
	return &setClient{t: t, c: c}
}

type setClient struct {
	t *testing.T
	c *wssynctest.Client
}

// State is the key's state as the client holds it, decoded for the validator.
func (s *setClient) State(key string) any {
	raw, _, ok := s.c.State(key)
	if !ok {
		s.t.Fatalf("no state for %q", key)
	}
	return decodeAny(s.t, string(raw))
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// TestSchemaAgreesWithServer holds the schema to what the server does over a real
// WebSocket: a field is readOnly exactly when the server refuses a client write to it
// (read_only), and a param is required exactly when the server refuses the call without it.
func TestSchemaAgreesWithServer(t *testing.T) {
	sess, _ := newSchemaSession(t)
	sc := mustSchema(t, sess)
	k := sc.Keys[0]
	cl := dialSession(t, sess)
	ctx := wstest.Context(t)
	n := 0
	// call sends frame (with request id frameID, if not ""), then a clear action with a
	// request id as a barrier (frames are handled in order), and returns the code of the
	// refusal sent meanwhile: an _ERROR, or the frame's own _RESULT carrying an error.
	call := func(frame map[string]any, frameID string) string {
		t.Helper()
		n++
		id := "barrier" + strconv.Itoa(n)
		if frameID != "" {
			frame["id"] = frameID
		}
		if err := cl.c.SendFrame(frame); err != nil {
			t.Fatal(err)
		}
		if err := cl.c.SendFrame(map[string]any{"type": "_ACTION:" + k.Key, "data": map[string]any{"type": "clear"}, "id": id}); err != nil {
			t.Fatal(err)
		}
		code := ""
		if _, err := cl.c.WaitFrame(ctx, func(f wssynctest.Frame) bool {
			if f.Type == "_ERROR" || (f.Type == "_RESULT" && frameID != "" && f.ID == frameID) {
				var e struct {
					Code string `json:"code"`
				}
				raw := f.Data
				if f.Error != nil {
					raw = f.Error
				}
				_ = json.Unmarshal(raw, &e)
				code = e.Code
			}
			return f.Type == "_RESULT" && f.ID == id
		}); err != nil {
			t.Fatal(err)
		}
		return code
	}
	state := cl.State(k.Key).(map[string]any)
	for _, p := range k.State.Properties {
		code := call(map[string]any{"type": "_PATCH:" + k.Key, "data": []any{map[string]any{"op": "replace", "path": "/" + p.Name, "value": state[p.Name]}}}, "")
		if refused := code == string(CodeReadOnly); refused != p.Schema.ReadOnly {
			t.Errorf("field %s: readOnly %v, server answered %q", p.Name, p.Schema.ReadOnly, code)
		}
	}
	rename := k.Actions[1]
	full := map[string]any{"id": "n1", "text": "x", "force": true, "note": "n", "size": 3}
	for _, p := range rename.Params.Properties {
		params := map[string]any{"type": "rename"}
		for name, v := range full {
			if name != p.Name {
				params[name] = v
			}
		}
		code := call(map[string]any{"type": "_ACTION:" + k.Key, "data": params}, "call-"+p.Name)
		required := slices.Contains(rename.Params.Required, p.Name)
		if refused := code == string(CodeBadParams); refused != required {
			t.Errorf("param %s: required %v, server answered %q", p.Name, required, code)
		}
	}
}

// TestSchemaDuringUpdates: Schema reads computed values under the object's lock while
// handlers mutate (run with -race).
func TestSchemaDuringUpdates(t *testing.T) {
	sess, s := newSchemaSession(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			_ = s.Update(func(st *schemaState) { st.Items = append(st.Items, schemaInner{Label: "x"}) })
		}
	}()
	for i := 0; i < 20; i++ {
		mustSchema(t, sess)
	}
	<-done
}

// TestSchemaWriteRules: a field only some clients may write is not readOnly, and its rule
// is in x-wssync-write.
func TestSchemaWriteRules(t *testing.T) {
	type item struct {
		Author string `json:"author"`
		Text   string `json:"text"`
	}
	sess := NewSession()
	defer sess.Close()
	if _, err := Register(sess, "K", &struct {
		Topic string `sync:"topic,write=admin|editor"`
		Items []item `sync:"items,write,owner=author"`
		Free  string `sync:"free,write"`
	}{}); err != nil {
		t.Fatal(err)
	}
	st := mustSchema(t, sess).Keys[0].State
	for name, want := range map[string]string{
		"topic": `{"type":"string","x-wssync-write":{"roles":["admin","editor"]}}`,
		"items": `{"type":["array","null"],"items":{"$ref":"#/$defs/item"},"x-wssync-write":{"owner":"author"}}`,
		"free":  `{"type":"string"}`,
	} {
		if got := toJSON(t, st.Properties.Get(name)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

package wssync

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
)

// SchemaVersion is the version of the Schema document's layout; it changes when a member
// changes meaning.
const SchemaVersion = 1

// Schema describes what a client of a session sees and may send, as the server's
// registrations define it at run time: every key with the JSON Schema of its state, its
// actions and tasks, the custom events, and the error and close codes. Each JSONSchema in
// it is a standalone draft 2020-12 document (its named struct types in its own $defs).
// Marshal it with encoding/json; cmd/wssync-gen turns it into TypeScript.
type Schema struct {
	Version int           `json:"version"`
	Keys    []KeySchema   `json:"keys"`
	Events  []EventSchema `json:"events,omitempty"`
	// ServerEvents are the events the server sends (declared with DefineEvent, in the
	// whole process), with the data each carries.
	ServerEvents []EventSchema `json:"serverEvents,omitempty"`
	ErrorCodes   []Code        `json:"errorCodes"`
	CloseCodes   []CloseCode   `json:"closeCodes"`
}

// KeySchema describes one registered key.
type KeySchema struct {
	// Key is the full key, scope prefix included; Scope is that prefix without its
	// trailing "/" ("" outside a Scope).
	Key   string `json:"key"`
	Scope string `json:"scope,omitempty"`
	// Shared is true for an object of NewShared, false for one Register made in the session.
	Shared bool `json:"shared,omitempty"`
	// State is the schema of the `_SET:KEY` data: every synced field and computed value,
	// under its wire name, present unless a view (WithViews) hides it whole; a field
	// clients may not write is readOnly, and one a view hides, whole or in part, names
	// that view in x-wssync-hidden-in (a part a view hides inside a field is described
	// as the full state holds it).
	State   *JSONSchema  `json:"state"`
	Actions []CallSchema `json:"actions,omitempty"`
	Tasks   []CallSchema `json:"tasks,omitempty"`
}

// CallSchema describes an action or a task. Params is the schema of the call's params,
// the members of `{"type": NAME, ...params}` other than "type"; Result, for an action, the
// schema of the `_RESULT` data (null for an Action without a result), and for a task, the
// schema of the "result" of its `done` status (absent for a Task without a result).
type CallSchema struct {
	Name   string      `json:"name"`
	Params *JSONSchema `json:"params"`
	Result *JSONSchema `json:"result,omitempty"`
}

// EventSchema describes a custom event, one a client sends (registered with On) or one the
// server sends (DefineEvent): Data is the schema of the frame's "data".
type EventSchema struct {
	Name string      `json:"name"`
	Data *JSONSchema `json:"data"`
}

// CloseCode is one WebSocket close code the server uses. Terminal codes tell the client
// not to reconnect on its own.
type CloseCode struct {
	Code     int    `json:"code"`
	Name     string `json:"name"`
	Terminal bool   `json:"terminal,omitempty"`
}

// closeCodes is the table of the Close constants (a test holds it to codes.go).
var closeCodes = []CloseCode{
	{CloseNormal, "CloseNormal", false},
	{CloseGoingAway, "CloseGoingAway", false},
	{CloseInvalidPayload, "CloseInvalidPayload", false},
	{ClosePolicyViolation, "ClosePolicyViolation", true},
	{CloseMessageTooBig, "CloseMessageTooBig", false},
	{CloseInternalError, "CloseInternalError", false},
	{CloseTryAgainLater, "CloseTryAgainLater", false},
	{CloseReplaced, "CloseReplaced", true},
	{CloseSlowConsumer, "CloseSlowConsumer", false},
	{CloseRateLimited, "CloseRateLimited", false},
	{CloseSessionClosed, "CloseSessionClosed", false},
	{CloseUnauthorized, "CloseUnauthorized", true},
	{CloseTokenExpired, "CloseTokenExpired", false},
}

// Schema describes the session's keys and custom events as they are registered now,
// sorted by key and by name. Computed values are described by the type of the value they
// return now (any JSON value when it is nil); Schema calls them under the object's read
// lock, as a publish does. It fails only when a computed value panics.
func (s *Session) Schema() (*Schema, error) {
	s.mu.Lock()
	objs := make([]*object, 0, len(s.objects))
	for _, o := range s.objects {
		objs = append(objs, o)
	}
	events := make(map[string]reflect.Type, len(s.eventTypes))
	for name, t := range s.eventTypes {
		events[name] = t
	}
	s.mu.Unlock()
	sort.Slice(objs, func(i, j int) bool { return objs[i].key < objs[j].key })

	out := &Schema{Version: SchemaVersion, Keys: []KeySchema{}, ErrorCodes: append([]Code(nil), allCodes...),
		CloseCodes: append([]CloseCode(nil), closeCodes...)}
	for _, o := range objs {
		k, err := o.schema()
		if err != nil {
			return nil, err
		}
		out.Keys = append(out.Keys, k)
	}
	names := make([]string, 0, len(events))
	for name := range events {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out.Events = append(out.Events, EventSchema{Name: name, Data: dataSchema(events[name])})
	}
	out.ServerEvents = serverEventSchemas()
	return out, nil
}

// serverEventSchemas describes the events DefineEvent declared, by name.
func serverEventSchemas() []EventSchema {
	var out []EventSchema
	serverEvents.Range(func(name, t any) bool {
		out = append(out, EventSchema{Name: name.(string), Data: dataSchema(t.(reflect.Type))})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Schema runs the factory on a dry-run session, one that never connects, and returns that
// session's Schema; the session is then closed (its OnClose hooks run). Use it to export
// the schema of a server whose objects are built per session, e.g. from a flag that
// prints it instead of serving. id is the identity the factory sees (SessionFrom,
// Session.Identity); a factory that registers other keys for other identities is
// described only for this one. The dry-run session is not stored, counted or bound.
func (m *Manager) Schema(ctx context.Context, id Identity) (*Schema, error) {
	metrics := newMetrics()
	metrics.sessions.Add(1)
	cfg := m.cfg
	cfg.sessionStore = nil // a dry run saves nothing, even when the factory mutates
	sess := newSession(&cfg, metrics, id)
	defer sess.Close()
	stop := context.AfterFunc(ctx, sess.cancel)
	defer stop()
	if _, err := callSafely(func() (any, error) { return nil, m.factory(sess.ctx, sess) }); err != nil {
		return nil, fmt.Errorf("wssync: schema: the session factory failed: %w", bare(err))
	}
	return sess.Schema()
}

// schema describes one object: its fields, computed values, actions and tasks.
func (o *object) schema() (KeySchema, error) {
	k := KeySchema{Key: o.key, Shared: o.owner == nil}
	if o.scope != "" {
		k.Scope = o.scope[:len(o.scope)-1]
	}
	state, err := o.stateSchema()
	if err != nil {
		return k, err
	}
	k.State = state

	o.hmu.RLock()
	defer o.hmu.RUnlock()
	for _, name := range slices.Sorted(maps.Keys(o.actions)) {
		a := o.actions[name]
		b := newSchemaBuilder()
		result := &JSONSchema{Type: TypeList{"null"}}
		if a.result != nil {
			result = b.typeSchema(a.result) // encoding/json encodes a result
		}
		result = b.document(result)
		k.Actions = append(k.Actions, CallSchema{Name: name, Params: a.params.schema(), Result: result})
	}
	for _, name := range slices.Sorted(maps.Keys(o.tasks)) {
		t := o.tasks[name]
		cs := CallSchema{Name: name, Params: t.params.schema()}
		if t.result != nil {
			b := newSchemaBuilder()
			cs.Result = b.document(b.typeSchema(t.result)) // encoding/json encodes a result
		}
		k.Tasks = append(k.Tasks, cs)
	}
	return k, nil
}

// stateSchema is the schema of the object's `_SET` data.
func (o *object) stateSchema() (s *JSONSchema, err error) {
	b := newSchemaBuilder()
	root := &JSONSchema{Type: TypeList{"object"}, Properties: Properties{}, Required: []string{},
		AdditionalProperties: &JSONSchema{False: true}, GoType: o.val.Type().String()}
	for i := range o.fields {
		f := &o.fields[i]
		var fs *JSONSchema
		if f.compute != nil {
			if fs, err = o.computedSchema(b, f); err != nil {
				return nil, err
			}
		} else {
			fs = b.fieldSchema(f.spec.typ, o.val.Type().FieldByIndex(f.spec.index))
		}
		fs.ReadOnly = !f.writable
		if f.spec != nil && f.writable && (len(f.spec.roles) > 0 || f.spec.owner != nil) {
			fs.Write = &WriteRule{Roles: f.spec.roles}
			if f.spec.owner != nil {
				fs.Write.Owner = f.spec.owner.member
			}
		}
		whole, parts := o.views.hiding(i)
		fs.HiddenIn = append(whole, parts...)
		root.Properties = append(root.Properties, Property{Name: f.wire, Schema: fs})
		if len(whole) == 0 { // a view that hides it whole leaves it out of its _SET
			root.Required = append(root.Required, f.wire)
		}
	}
	return b.document(root), nil
}

// computedSchema describes a computed value by the type of what it returns now.
func (o *object) computedSchema(b *schemaBuilder, f *boundField) (*JSONSchema, error) {
	if f.wire == o.runningWire {
		return &JSONSchema{Type: TypeList{"array"}, Items: &JSONSchema{Type: TypeList{"string"}}, Computed: true,
			Description: "names of the running tasks, sorted"}, nil
	}
	o.state.RLock()
	v, err := callSafely(func() (any, error) { return f.compute(), nil })
	o.state.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("wssync: key %q computed value %q: %w", o.key, f.wire, bare(err))
	}
	s := &JSONSchema{}
	if v != nil {
		s = b.typeSchema(reflect.TypeOf(v))
	}
	s.Computed = true
	return s, nil
}

// schema is the params object of an action, task or struct event: named by the
// registration's rule, required as the decoder requires, no other members.
func (d *paramDecoder) schema() *JSONSchema {
	b := newSchemaBuilder()
	root := &JSONSchema{Type: TypeList{"object"}, Properties: Properties{}, AdditionalProperties: &JSONSchema{False: true},
		GoType: d.typ.String()}
	for _, f := range d.fields {
		root.Properties = append(root.Properties, Property{Name: f.wire, Schema: b.fieldSchema(f.spec.typ, d.typ.FieldByIndex(f.spec.index))})
		if f.required {
			root.Required = append(root.Required, f.wire)
		}
	}
	return b.document(root)
}

// dataSchema is the standalone schema of the data of a custom event of type t: a struct as
// params (named by the default rule, as On decodes it), anything else as encoding/json
// decodes it.
func dataSchema(t reflect.Type) *JSONSchema {
	if t.Kind() == reflect.Struct && specialSchema(t) == nil {
		if d, err := newParamDecoder(t, lowerCamel); err == nil {
			return d.schema()
		}
	}
	b := newSchemaBuilder()
	return b.document(b.typeSchema(t))
}

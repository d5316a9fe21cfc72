// Package jsontree holds JSON documents decoded into trees (map[string]any, []any,
// json.Number, string, bool, nil) and applies RFC 6902 patches to them in place, as a
// browser client does: a patch costs the size of its ops, not a parse of the whole state.
// The Go clients (wssynctest and wsclient) keep each key's state this way, and apply their
// own whole-state writes to it with Merge.
package jsontree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Decode decodes b keeping numbers as json.Number, so they re-encode unchanged.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

type op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

// Apply applies the RFC 6902 ops of raw (a JSON array) to doc and returns the new
// document. doc is modified in place where possible; on error the caller must drop it
// (a client resynchronises with _GET).
func Apply(doc any, raw []byte) (any, error) {
	var ops []op
	if err := json.Unmarshal(raw, &ops); err != nil {
		return doc, err
	}
	for _, o := range ops {
		var err error
		switch o.Op {
		case "add", "replace", "test":
			var v any
			if v, err = Decode(o.Value); err != nil {
				return doc, err
			}
			switch o.Op {
			case "add":
				doc, err = set(doc, o.Path, v, true)
			case "replace":
				doc, err = set(doc, o.Path, v, false)
			default:
				var cur any
				if cur, err = get(doc, o.Path); err == nil && !reflect.DeepEqual(cur, v) {
					err = fmt.Errorf("test %s failed", o.Path)
				}
			}
		case "remove":
			doc, _, err = remove(doc, o.Path)
		case "move", "copy":
			var v any
			if o.Op == "move" {
				doc, v, err = remove(doc, o.From)
			} else if v, err = get(doc, o.From); err == nil {
				v, err = Clone(v)
			}
			if err == nil {
				doc, err = set(doc, o.Path, v, true)
			}
		default:
			err = fmt.Errorf("unknown op %q", o.Op)
		}
		if err != nil {
			return doc, err
		}
	}
	return doc, nil
}

// Clone returns a deep copy of the decoded tree v.
func Clone(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

func tokens(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("bad pointer %q", p)
	}
	ts := strings.Split(p[1:], "/")
	for i, t := range ts {
		ts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return ts, nil
}

func index(t string, n int, allowEnd bool) (int, error) {
	if allowEnd && t == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(t)
	if err != nil || i < 0 || i > n || (!allowEnd && i == n) || (len(t) > 1 && t[0] == '0') {
		return 0, fmt.Errorf("bad index %q", t)
	}
	return i, nil
}

func get(doc any, p string) (any, error) {
	ts, err := tokens(p)
	if err != nil {
		return nil, err
	}
	return walk(doc, ts)
}

// walk returns the value at the unescaped path ts.
func walk(doc any, ts []string) (any, error) {
	cur := doc
	for _, t := range ts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("no member %q", t)
			}
			cur = v
		case []any:
			i, err := index(t, len(c), false)
			if err != nil {
				return nil, err
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("cannot index %T", cur)
		}
	}
	return cur, nil
}

// set adds (insert) or replaces the value at p and returns the possibly new root.
func set(doc any, p string, v any, insert bool) (any, error) {
	ts, err := tokens(p)
	if err != nil {
		return doc, err
	}
	return setAt(doc, ts, v, insert)
}

func setAt(doc any, ts []string, v any, insert bool) (any, error) {
	if len(ts) == 0 {
		return v, nil
	}
	parent, err := walk(doc, ts[:len(ts)-1])
	if err != nil {
		return doc, err
	}
	last := ts[len(ts)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[last]; !ok && !insert {
			return doc, fmt.Errorf("no member %q to replace", last)
		}
		c[last] = v
		return doc, nil
	case []any:
		i, err := index(last, len(c), insert)
		if err != nil {
			return doc, err
		}
		if !insert {
			c[i] = v
			return doc, nil
		}
		c = append(c, nil)
		copy(c[i+1:], c[i:])
		c[i] = v
		return setAt(doc, ts[:len(ts)-1], c, false) // the grown slice replaces the old one
	}
	return doc, fmt.Errorf("cannot set in %T", parent)
}

// remove deletes the value at p and returns the new root and the removed value.
func remove(doc any, p string) (any, any, error) {
	ts, err := tokens(p)
	if err != nil || len(ts) == 0 {
		return doc, nil, fmt.Errorf("cannot remove %q", p)
	}
	parent, err := walk(doc, ts[:len(ts)-1])
	if err != nil {
		return doc, nil, err
	}
	last := ts[len(ts)-1]
	switch c := parent.(type) {
	case map[string]any:
		v, ok := c[last]
		if !ok {
			return doc, nil, fmt.Errorf("no member %q", last)
		}
		delete(c, last)
		return doc, v, nil
	case []any:
		i, err := index(last, len(c), false)
		if err != nil {
			return doc, nil, err
		}
		v := c[i]
		c = append(c[:i], c[i+1:]...)
		doc, err = setAt(doc, ts[:len(ts)-1], c, false) // the shrunk slice replaces the old one
		return doc, v, err
	}
	return doc, nil, fmt.Errorf("cannot remove from %T", parent)
}

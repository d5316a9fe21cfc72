package wssync

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

type tagNote struct {
	Author string `json:"author"`
	N      int    `json:"n"`
}

type embeddedOwner struct {
	Author string `json:"by"`
}

type embeddingNote struct {
	embeddedOwner
	Text string `json:"text"`
}

// The `sync` tag's rule options: what is accepted, and each malformed one refused with
// ErrBadTag before anything is registered.
func TestSyncTagRules(t *testing.T) {
	t.Parallel()
	type good struct {
		A string             `sync:"a,write=admin|editor"`
		B []tagNote          `sync:"b,write,owner=author"`
		C map[string]tagNote `sync:"c,write=mod,owner=author"`
		D [2]*tagNote        `sync:",owner=author,write"`
		E []embeddingNote    `sync:"e,write,owner=by"`
	}
	spec, err := typeSpecOf(reflect.TypeFor[good]())
	if err != nil {
		t.Fatal(err)
	}
	f := spec.fields
	if !f[0].writable || !slices.Equal(f[0].roles, []string{"admin", "editor"}) || f[0].owner != nil {
		t.Errorf("a: %+v", f[0])
	}
	if !f[1].writable || f[1].roles != nil || f[1].owner == nil || f[1].owner.isMap || !slices.Equal(f[1].owner.index, []int{0}) {
		t.Errorf("b: %+v", f[1])
	}
	if !slices.Equal(f[2].roles, []string{"mod"}) || f[2].owner == nil || !f[2].owner.isMap {
		t.Errorf("c: %+v", f[2])
	}
	if !f[3].writable || f[3].owner == nil {
		t.Errorf("d: %+v", f[3])
	}
	if f[4].owner == nil || !slices.Equal(f[4].owner.index, []int{0, 0}) {
		t.Errorf("e: %+v", f[4])
	}

	bad := map[string]any{
		"owner without write": struct {
			X []tagNote `sync:"x,owner=author"`
		}{},
		"empty roles": struct {
			X string `sync:"x,write="`
		}{},
		"empty role": struct {
			X string `sync:"x,write=a||b"`
		}{},
		"write twice": struct {
			X string `sync:"x,write,write=a"`
		}{},
		"owner twice": struct {
			X []tagNote `sync:"x,write,owner=author,owner=n"`
		}{},
		"owner without member": struct {
			X []tagNote `sync:"x,write,owner="`
		}{},
		"owner of a string": struct {
			X string `sync:"x,write,owner=author"`
		}{},
		"owner of strings": struct {
			X []string `sync:"x,write,owner=author"`
		}{},
		"missing member": struct {
			X []tagNote `sync:"x,write,owner=who"`
		}{},
		"member not a string": struct {
			X []tagNote `sync:"x,write,owner=n"`
		}{},
		"map with int keys": struct {
			X map[int]tagNote `sync:"x,write,owner=author"`
		}{},
		"go name, not json": struct {
			X []tagNote `sync:"x,write,owner=Author"`
		}{},
		"unknown option": struct {
			X string `sync:"x,read=admin"`
		}{},
		"dash with a rule": struct {
			X string `sync:"-,write=a"`
		}{},
		"owner through pointer": struct {
			X []struct{ *embeddedOwner } `sync:"x,write,owner=by"`
		}{},
	}
	for name, v := range bad {
		if _, err := typeSpecOf(reflect.TypeOf(v)); !errors.Is(err, ErrBadTag) {
			t.Errorf("%s: %v, want ErrBadTag", name, err)
		}
	}
}

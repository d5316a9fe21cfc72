//go:build goexperiment.jsonv2

package wssync

import (
	"encoding/json/jsontext"
	"strconv"
	"testing"
)

// toScale is read by scaled.MarshalJSONTo: an encoding input outside the element's memory.
var toScale int64 = 1

// scaled has an encoding of its own through encoding/json/v2's MarshalerTo, which
// encoding/json honours when built with GOEXPERIMENT=jsonv2.
type scaled int64

func (s scaled) MarshalJSONTo(e *jsontext.Encoder) error {
	return e.WriteToken(jsontext.String(strconv.FormatInt(int64(s)*toScale, 10)))
}

type scaledState struct {
	Items []scaled `sync:"items" json:"items"`
}

func TestAttackListCacheMarshalerTo(t *testing.T) {
	toScale = 1
	st := &scaledState{Items: make([]scaled, 40)}
	for i := range st.Items {
		st.Items[i] = scaled(i)
	}
	c := newListChecker(t, st)
	c.step("scale moves, one element changes", func() { toScale = 2; st.Items[39] = 100 })
}

// prefixed encodes through encoding.TextAppender, which encoding/json honours when built
// with GOEXPERIMENT=jsonv2.
type prefixed int32

var textPrefix = "a"

func (p prefixed) AppendText(b []byte) ([]byte, error) {
	return strconv.AppendInt(append(b, textPrefix...), int64(p), 10), nil
}

type prefixedState struct {
	Items []prefixed `sync:"items" json:"items"`
}

func TestAttackListCacheAppendText(t *testing.T) {
	textPrefix = "a"
	st := &prefixedState{Items: make([]prefixed, 40)}
	c := newListChecker(t, st)
	c.step("prefix moves, one element changes", func() { textPrefix = "b"; st.Items[39] = 1 })
}

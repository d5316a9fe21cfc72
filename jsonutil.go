package wssync

import (
	"encoding/json"
)

// appendJSONString appends s as a JSON string, escaped as encoding/json does.
func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}

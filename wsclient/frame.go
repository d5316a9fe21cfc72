package wsclient

import (
	"encoding/json"
	"fmt"
)

// inFrame is one text frame from the server: {"type":..., "data":...} with the protocol's
// optional top-level fields.
type inFrame struct {
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data"`
	V     *uint64         `json:"v"`
	Epoch string          `json:"epoch"`
	ID    string          `json:"id"`
	Error *Error          `json:"error"`
}

// outFrame is one text frame to the server.
type outFrame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
	ID   string `json:"id,omitempty"`
}

// callData builds the data of an `_ACTION`, `_TASK_START` or `_TASK_CANCEL` frame:
// {"type": name, ...params}. params must marshal to a JSON object or null.
func callData(name string, params any) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, fmt.Errorf("wsclient: params of %q: %w", name, err)
		}
		if string(b) != "null" {
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("wsclient: params of %q must be a JSON object: %s", name, b)
			}
		}
	}
	t, _ := json.Marshal(name) // a string always marshals
	m["type"] = t
	return m, nil
}

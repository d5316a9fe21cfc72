package jsontree

import "errors"

// errNotObjects is Merge's error when the state or the write is not a JSON object.
var errNotObjects = errors.New("jsontree: a whole-state write needs an object state and an object value")

// Merge applies a client's own whole-state write (the data of a `_SET:KEY` it sends) to
// state, as the server applies it: each member of raw replaces the state's member of that
// name, and members raw leaves out keep their value. It returns a new tree; state is not
// changed. Both must be JSON objects.
func Merge(state any, raw []byte) (any, error) {
	m, ok := state.(map[string]any)
	w, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	members, wok := w.(map[string]any)
	if !ok || !wok {
		return nil, errNotObjects
	}
	next, err := Clone(m)
	if err != nil {
		return nil, err
	}
	for name, x := range members {
		next.(map[string]any)[name] = x
	}
	return next, nil
}

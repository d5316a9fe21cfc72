package patch

// Reader reads one JSON value in place, one container at a time: a caller walks only the
// levels it cares about and skips the rest, and every byte is scanned once however deep the
// walk goes. It validates as it reads; the first error sticks.
type Reader struct {
	b     []byte
	pos   int
	depth int
}

// NewReader starts reading the JSON value b.
func NewReader(b []byte) *Reader { return &Reader{b: b, pos: skipSpace(b, 0)} }

// Peek returns the first byte of the next value: '{', '[', '"', 't', 'f', 'n', or a
// number's first byte; 0 at the end of the input.
func (r *Reader) Peek() byte {
	if r.pos >= len(r.b) {
		return 0
	}
	return r.b[r.pos]
}

// Skip consumes the next value and returns it.
func (r *Reader) Skip() ([]byte, error) {
	start := r.pos
	end, err := scanValue(r.b, start, r.depth)
	if err != nil {
		return nil, err
	}
	r.pos = end
	return r.b[start:end], nil
}

// Object consumes the object that is the next value, calling fn with each member's
// decoded key while the reader stands at the member's value; fn must consume that value
// (with Skip, Object or Array).
func (r *Reader) Object(fn func(key string) error) error {
	if r.Peek() != '{' {
		return errSyntax("not an object")
	}
	if r.depth++; r.depth > maxDepth {
		return errSyntax("exceeded max depth")
	}
	it := memberIter{b: r.b, pos: r.pos + 1, depth: r.depth}
	err := it.eachKey(func(key string) error {
		r.pos = it.pos
		if err := fn(key); err != nil {
			return err
		}
		it.skipTo(r.pos)
		return nil
	})
	if err != nil {
		return err
	}
	r.pos = it.pos
	r.depth--
	return nil
}

// Array consumes the array that is the next value, calling fn for each element (its
// index) while the reader stands at it; fn must consume the element.
func (r *Reader) Array(fn func(i int) error) error {
	if r.Peek() != '[' {
		return errSyntax("not an array")
	}
	if r.depth++; r.depth > maxDepth {
		return errSyntax("exceeded max depth")
	}
	it := elemIter{b: r.b, pos: r.pos + 1, depth: r.depth}
	for i := 0; ; i++ {
		more, err := it.more()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		r.pos = it.pos
		if err := fn(i); err != nil {
			return err
		}
		it.skip(r.pos - it.pos)
	}
	r.pos = it.pos
	r.depth--
	return nil
}

// AtEnd reports whether nothing but white space follows the values read.
func (r *Reader) AtEnd() bool { return skipSpace(r.b, r.pos) >= len(r.b) }

// Members is Object for a caller that copies keys: fn gets each member's decoded key (a
// view of the input or of a scratch buffer, valid only during the call) and its key as
// written, quotes included.
func (r *Reader) Members(fn func(key, raw []byte) error) error {
	if r.Peek() != '{' {
		return errSyntax("not an object")
	}
	if r.depth++; r.depth > maxDepth {
		return errSyntax("exceeded max depth")
	}
	it := memberIter{b: r.b, pos: r.pos + 1, depth: r.depth}
	for {
		raw, flags, more, err := it.key()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		m, err := decodeKey(raw, flags)
		if err != nil {
			return err
		}
		r.pos = it.pos
		if err := fn(m.key, raw); err != nil {
			return err
		}
		it.skipTo(r.pos)
	}
	r.pos = it.pos
	r.depth--
	return nil
}

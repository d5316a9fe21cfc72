// Package patch computes RFC 6902 JSON Patch operations directly on raw JSON
// bytes.
//
// It is built for the case where a value is marshaled with encoding/json over
// and over and only the difference has to be shipped: encoding/json output is
// canonical (equal values give identical bytes), so unchanged parts can be
// recognized with plain byte comparisons instead of decoding into interface{}
// trees. A small validating scanner finds value boundaries in place; arrays are
// diffed element-wise (common prefix and suffix first, then a bounded Myers
// diff on the rest), objects member-wise by key.
//
// Any valid JSON is accepted (whitespace, any member order, duplicate keys,
// escapes in keys); the patch is always correct, it is only guaranteed to be
// small for canonical input.
package patch

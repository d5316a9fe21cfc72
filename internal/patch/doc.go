// Package patch computes RFC 6902 JSON Patch operations directly on raw JSON
// bytes.
//
// It is built for the case where a value is marshaled with encoding/json over
// and over and only the difference has to be shipped. encoding/json output
// is canonical (equal values give identical bytes), so unchanged parts can
// be recognized with plain byte comparisons instead of decoding into
// interface{} trees. A small validating scanner finds value boundaries in
// place; the byte-wise common prefix and suffix of the two inputs, and
// comparisons of elements against the expected old element, spare most of
// new from being scanned at all. Arrays are then diffed element-wise (a
// bounded Myers diff, with a positional fallback), objects member-wise by
// key.
//
// Cost: old is scanned once and new mostly not at all, except that the
// elements and members that did change are rescanned at each level they are
// diffed at, so a change deep down a long chain of nested containers costs
// O(depth × size of the changed subtree).
//
// Any valid JSON is accepted (whitespace, any member order, duplicate keys,
// escapes in keys) and the patch is always correct; it is only guaranteed to
// be small, and cheap to compute, for canonical input.
package patch

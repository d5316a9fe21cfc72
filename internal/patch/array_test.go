package patch

import (
	"fmt"
	"slices"
	"testing"
)

// TestArraySingleInsertRemove checks that inserting or removing one element
// anywhere yields exactly one op, for distinct, repetitive and object
// elements.
func TestArraySingleInsertRemove(t *testing.T) {
	kinds := map[string]func(i int) any{
		"distinct":   func(i int) any { return i },
		"repetitive": func(i int) any { return i % 3 },
		"constant":   func(int) any { return 0 },
		"objects":    func(i int) any { return map[string]any{"id": i, "name": fmt.Sprint("n", i), "tags": []int{i, i}} },
	}
	for kind, elem := range kinds {
		t.Run(kind, func(t *testing.T) {
			for l := 1; l <= 50; l++ {
				base := make([]any, l)
				for i := range base {
					base[i] = elem(i)
				}
				for _, at := range []int{0, l / 2, l - 1, l} {
					ins := slices.Insert(slices.Clone(base), at, elem(1000+at))
					checkOps(t, fmt.Sprintf("len %d insert at %d", l, at), base, ins, 1)
					if at < l {
						rem := slices.Delete(slices.Clone(base), at, at+1)
						checkOps(t, fmt.Sprintf("len %d remove at %d", l, at), base, rem, 1)
					}
				}
			}
		})
	}
}

// TestArrayModifications checks that same-length arrays with a few changed
// elements get one op per changed element, whatever the Myers bound.
func TestArrayModifications(t *testing.T) {
	for _, maxEdit := range []int{-1, 2, 0, 1000} {
		t.Run(fmt.Sprint("MaxEditDistance=", maxEdit), func(t *testing.T) {
			opts := &Options{MaxEditDistance: maxEdit}
			old := make([]map[string]int, 1000)
			for i := range old {
				old[i] = map[string]int{"id": i, "v": i * 7}
			}
			nw := slices.Clone(old)
			changed := 0
			for i := 3; i < len(nw); i += 37 {
				nw[i] = map[string]int{"id": i, "v": -1}
				changed++
			}
			checkOptsOps(t, "scattered", old, nw, opts, changed)

			// Plus an append: the edit script is long, alignment still works.
			checkOptsOps(t, "scattered+append", old, append(slices.Clone(nw), map[string]int{"id": -1}), opts, changed+1)
			// Plus a removal at the start.
			checkOptsOps(t, "scattered+remove first", old[:], nw[1:], opts, changed+1)
		})
	}
}

func TestArrayMyersBound(t *testing.T) {
	old := make([]string, 200)
	for i := range old {
		old[i] = fmt.Sprintf("element %d, long enough that removing it beats rewriting the array", i)
	}
	// Every other element removed: 100 edits.
	var nw []string
	for i := 0; i < len(old); i += 2 {
		nw = append(nw, old[i])
	}
	checkOptsOps(t, "within bound", old, nw, &Options{MaxEditDistance: 100}, 100)
	checkOptsOps(t, "beyond bound", old, nw, &Options{MaxEditDistance: 99}, 1)
	checkOptsOps(t, "default bound", old, nw, nil, 1)
}

func TestArrayReplaceWhenShorter(t *testing.T) {
	// Every element changed: one replace of the array beats n replaces.
	checkOptsOps(t, "all changed", []int{1, 2, 3, 4}, []int{5, 6, 7, 8}, nil, 1)
}

func checkOps(t *testing.T, name string, old, new any, want int) {
	t.Helper()
	checkOptsOps(t, name, old, new, nil, want)
}

func checkOptsOps(t *testing.T, name string, old, new any, opts *Options, want int) {
	t.Helper()
	ops, n, err := diffAndApply(mustMarshal(old), mustMarshal(new), opts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if n != want {
		t.Errorf("%s: %d ops, want %d: %s", name, n, want, ops)
	}
}

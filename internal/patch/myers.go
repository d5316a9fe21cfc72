package patch

// myersWork bounds the Myers search to myersWork·(N+M) element comparisons.
const myersWork = 32

// myers finds a shortest edit script turning the elements om into nm
// (E. Myers, "An O(ND) Difference Algorithm and Its Variations", 1986) and
// appends it to d.hunks. It gives up and returns false when more than maxD
// elements would have to be inserted or removed. Elements are compared by
// length, then bytes.
//
// Cost: O((N+M)·D) comparisons, and the D+1 rows of the frontier (row d
// has 2d+1 entries, O(D²) in all) are kept to trace the path back. The
// work is also capped at myersWork·(N+M) steps (it gives up then too), which
// bounds time and memory by O(N+M) whatever maxD is; with distinct elements
// the cap is far away, long runs of equal elements can reach it.
func (d *differ) myers(old, new []byte, om, nm []span, maxD int) bool {
	n, m := len(om), len(nm)
	maxD = min(maxD, n+m)
	budget := myersWork*(n+m) + 4096

	// v[off+k] is the furthest x reached on diagonal k = x-y.
	off := maxD + 1
	if need := 2*maxD + 3; cap(d.v) < need {
		d.v = make([]int32, need)
	}
	v := d.v[:2*maxD+3]
	v[off+1] = 0
	trace := d.trace[:0]
	defer func() { d.trace = trace[:0] }()

	for D := 0; D <= maxD; D++ {
		for k := -D; k <= D; k += 2 {
			var x int
			if k == -D || (k != D && v[off+k-1] < v[off+k+1]) {
				x = int(v[off+k+1]) // step down: insert new[y-1]
			} else {
				x = int(v[off+k-1]) + 1 // step right: remove old[x-1]
			}
			y, x0 := x-k, x
			for x < n && y < m && spanEqual(old, new, om[x], nm[y]) {
				x, y = x+1, y+1
			}
			if budget -= x - x0 + 1; budget < 0 {
				return false
			}
			v[off+k] = int32(x)
			if x >= n && y >= m {
				trace = append(trace, v[off-D:off+D+1]...)
				d.backtrack(trace, n, m, D)
				return true
			}
		}
		trace = append(trace, v[off-D:off+D+1]...)
	}
	return false
}

// backtrack walks the saved frontiers from (n,m) back to (0,0) and appends
// the edits, merged into hunks, to d.hunks in forward order.
func (d *differ) backtrack(trace []int32, n, m, D int) {
	hb := len(d.hunks)
	x, y := n, m
	for ; D > 0; D-- {
		row := trace[(D-1)*(D-1) : D*D] // frontier after D-1 edits, k in [-(D-1), D-1]
		at := func(k int) int { return int(row[k+D-1]) }
		k := x - y
		var px, py int
		if k == -D || (k != D && at(k-1) < at(k+1)) {
			px = at(k + 1)
			py = px - (k + 1)
			d.hunks = append(d.hunks, hunk{px, px, py, py + 1}) // insert new[py]
		} else {
			px = at(k - 1)
			py = px - (k - 1)
			d.hunks = append(d.hunks, hunk{px, px + 1, py, py}) // remove old[px]
		}
		x, y = px, py
	}
	// Reverse into forward order, merging edits not separated by a snake.
	hs := d.hunks[hb:]
	for i, j := 0, len(hs)-1; i < j; i, j = i+1, j-1 {
		hs[i], hs[j] = hs[j], hs[i]
	}
	out := hs[:0]
	for _, h := range hs {
		if l := len(out) - 1; l >= 0 && out[l].o1 == h.o0 && out[l].n1 == h.n0 {
			out[l].o1, out[l].n1 = h.o1, h.n1
			continue
		}
		out = append(out, h)
	}
	d.hunks = d.hunks[:hb+len(out)]
}

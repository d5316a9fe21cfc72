package proto

import "testing"

func u(v uint64) *uint64 { return &v }

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		local    uint64
		hasLocal bool
		v        *uint64
		want     Verdict
	}{
		{"next version", 4, true, u(5), Apply},
		{"duplicate", 4, true, u(4), Stale},
		{"older", 4, true, u(1), Stale},
		{"gap", 4, true, u(6), Gap},
		{"no version on the frame", 4, true, nil, Apply},
		{"no version held", 0, false, u(9), Apply},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.local, tc.hasLocal, tc.v); got != tc.want {
				t.Fatalf("Classify(%d, %v, %v) = %v, want %v", tc.local, tc.hasLocal, tc.v, got, tc.want)
			}
		})
	}
}

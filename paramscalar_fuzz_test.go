package wssync

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

type nameParam string

type ratioParam float32

// scalarKinds are the param types the fuzzer decodes a literal into, each with a value
// that no literal decodes to by accident, to see that a declined literal leaves it alone.
var scalarKinds = []any{
	true, int(-77), int8(-77), int16(-77), int32(-77), int64(-77),
	uint(77), uint8(77), uint16(77), uint32(77), uint64(77),
	float32(-77.25), float64(-77.25), levelParam(-77), nameParam("sentinel"), ratioParam(-77.25), "sentinel",
}

// sameValue compares two scalars bit for bit: -0 is not 0.
func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	}
	return a.Interface() == b.Interface()
}

// For any literal, the fast path either declines and leaves the param as it was (the
// caller then decodes with encoding/json), or stores exactly, bit for bit, what
// encoding/json stores and encoding/json accepts the literal.
func FuzzDecodeScalarMatchesEncodingJSON(f *testing.F) {
	for _, lit := range []string{
		"0", "-0", "-0.0", "0e0", "-0e-0", "1e308", "1.7976931348623157e308", "1.7976931348623159e308",
		"4.9e-324", "2e-324", "1e-45", "1.4e-45", "3.4028234663852886e38", "3.4028235677973366e38",
		"123456789012345678901234567890", "-9223372036854775808", "18446744073709551615",
		"00", "-", "-01", "1.", ".1", "1e", "1e+", "1E5", "+5", "0x1p3", "1_0", "Inf", "NaN",
		"true", "false", "null", "True", " true", "true ",
		`"a"`, `""`, `"\u0041"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xed\xa0\x80\"", "\"\xff\"", "\"\x7f\"",
		"\"\u2028\"", "\"\x00\"", `"\"`, `"a"b"`, `"`, `'a'`, "\"\xef\xbb\xbfa\"",
	} {
		f.Add(lit)
	}
	f.Fuzz(func(t *testing.T, lit string) {
		for _, k := range scalarKinds {
			typ := reflect.TypeOf(k)
			if !scalarParam(typ) {
				t.Fatalf("%s does not take the fast path", typ)
			}
			dst := reflect.New(typ).Elem()
			dst.Set(reflect.ValueOf(k))
			if !decodeScalar([]byte(lit), dst) {
				if !sameValue(dst, reflect.ValueOf(k)) {
					t.Fatalf("%s %q: declined but changed the param to %v", typ, lit, dst)
				}
				continue
			}
			want := reflect.New(typ)
			if err := json.Unmarshal([]byte(lit), want.Interface()); err != nil {
				t.Fatalf("%s %q: fast path decoded %v, encoding/json refuses it: %v", typ, lit, dst, err)
			}
			if !sameValue(dst, want.Elem()) {
				t.Fatalf("%s %q: fast path %v, encoding/json %v", typ, lit, dst, want.Elem())
			}
		}
	})
}

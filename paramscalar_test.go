package wssync

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"
)

type levelParam int

type textParam int

func (t *textParam) UnmarshalText([]byte) error { *t = 7; return nil }

// A param decoded on the fast path gets exactly what encoding/json gives it, and every
// literal encoding/json refuses (or would decode otherwise) is left to encoding/json.
func TestDecodeScalarMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	lits := []string{
		"0", "-0", "1", "-1", "7", "42", "007", "01", "1.0", "1.5", "-2.5e3", "1e2", "1E-2", "1e+2",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "127", "128", "-128", "-129", "255", "256",
		"65535", "65536", "4294967295", "4294967296", "3.4028235e38", "3.5e38", "1e400", "-1e400",
		"1e-400", "0.1", ".5", "5.", "+1", "-", "1e", "1e+", "0x10", "1_000", "Infinity", "NaN",
		"true", "false", "null", `"1"`, `"true"`, "[]", "{}", "tru", " 1", "1 ",
		`""`, `"plain"`, `"é ü 日本"`, `"a\nb"`, `"\u00e9"`, `"\ud800"`, "\"\xff\"", "\"a\tb\"", `"a"b"`, `"`, `"unterminated`,
	}
	for i := range 200 {
		lits = append(lits, strconv.FormatInt(int64(i*i*i-5000), 10), strconv.FormatFloat(float64(i)*1.37e-3, 'g', -1, 64))
	}
	for _, v := range []any{
		new(bool), new(int), new(int8), new(int16), new(int32), new(int64),
		new(uint), new(uint8), new(uint16), new(uint32), new(uint64),
		new(float32), new(float64), new(levelParam), new(string),
	} {
		typ := reflect.TypeOf(v).Elem()
		if !scalarParam(typ) {
			t.Fatalf("%s does not take the fast path", typ)
		}
		for _, lit := range lits {
			fast := reflect.New(typ).Elem()
			if !decodeScalar([]byte(lit), fast) {
				continue
			}
			want := reflect.New(typ)
			if err := json.Unmarshal([]byte(lit), want.Interface()); err != nil {
				t.Errorf("%s %s: decoded %v on the fast path, but encoding/json refuses it: %v", typ, lit, fast, err)
				continue
			}
			if !reflect.DeepEqual(fast.Interface(), want.Elem().Interface()) {
				t.Errorf("%s %s: fast path %v, encoding/json %v", typ, lit, fast, want.Elem())
			}
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[textParam](), reflect.TypeFor[time.Duration](), reflect.TypeFor[[]byte]()} {
		if want := typ == reflect.TypeFor[time.Duration](); scalarParam(typ) != want {
			t.Errorf("scalarParam(%s) = %v, want %v", typ, !want, want)
		}
	}
}

// The fast path decodes what it should: it is not a fast path that always declines.
func TestDecodeScalarTakesPlainLiterals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v   any
		lit string
	}{
		{new(int), "-12"}, {new(uint8), "255"}, {new(bool), "true"}, {new(float64), "-2.5e3"},
		{new(float32), "0.1"}, {new(int64), fmt.Sprint(math.MinInt64)}, {new(string), `"buy milk"`},
	}
	for _, c := range cases {
		dst := reflect.ValueOf(c.v).Elem()
		if !decodeScalar([]byte(c.lit), dst) {
			t.Errorf("%s %s: not decoded on the fast path", dst.Type(), c.lit)
		}
	}
}

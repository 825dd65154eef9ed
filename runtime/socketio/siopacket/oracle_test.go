package siopacket

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The types below hold binary ([]byte, encoded as attachments) beside the
// struct features encoding/json defines: tag names and options, embedded
// structs and pointers, name conflicts, unexported embedding.
type (
	oracleA struct {
		Name string
		B    []byte
	}
	oracleB      struct{ Name string }
	oracleTagged struct {
		Name string `json:"Name"`
	}
	oracleDeep     struct{ oracleA }
	oracleConflict struct {
		oracleA
		oracleB
		Data []byte
	}
	oracleTagWins struct {
		oracleA
		oracleTagged
	}
	oracleShallowWins struct {
		oracleDeep
		Name string
	}
	oracleTwice struct {
		oracleDeep
		Other oracleDeep
	}
	oracleTags struct {
		N    int       `json:"n,string"`
		F    float64   `json:"f,string"`
		Flag bool      `json:",string"`
		S    string    `json:"s,string"`
		P    *int      `json:"p,string"`
		Z    time.Time `json:"z,omitzero"`
		E    []byte    `json:"e,omitempty"`
		Skip int       `json:"-"`
		//lint:ignore SA5008 a field named "-", as encoding/json reads this tag
		Dash int `json:"-,"`
		//lint:ignore SA5008 an invalid name: encoding/json falls back to the field's
		Bad     int               `json:"a\"b"`
		Punct   int               `json:"x-y.z"`
		M       map[string][]byte `json:"m,omitempty"`
		private int
	}
	oraclePtr struct {
		*oracleA
		Opt *oracleB `json:"opt,omitempty"`
		Any any
	}
	oracleUnexported struct {
		oracleB // unexported embedded struct: its fields are promoted
		Extra   []byte
	}
)

// encodeWithOracle encodes v our way and then puts each attachment back
// as encoding/json writes a []byte (a base64 string): the result must be
// what encoding/json writes for v.
func encodeWithOracle(t *testing.T, v any) (ours, want string) {
	t.Helper()
	wantB, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	e := argEncoder{}
	if err := e.value(reflect.ValueOf(v)); err != nil {
		t.Fatalf("%T: %v", v, err)
	}
	got := string(e.buf)
	for i, a := range e.atts {
		b, _ := json.Marshal(a)
		got = strings.Replace(got, `{"_placeholder":true,"num":`+strconv.Itoa(i)+`}`, string(b), 1)
	}
	return got, string(wantB)
}

func TestEncodingMatchesEncodingJSON(t *testing.T) {
	seven := 7
	for _, v := range []any{
		oracleConflict{oracleA{"a", []byte{1}}, oracleB{"b"}, []byte{2}},
		oracleTagWins{oracleA{"a", []byte{1}}, oracleTagged{"t"}},
		oracleShallowWins{oracleDeep{oracleA{"deep", []byte{3}}}, "top"},
		oracleTwice{oracleDeep{oracleA{"x", []byte{4}}}, oracleDeep{oracleA{"y", nil}}},
		oracleTags{N: 5, F: 1.5, Flag: true, S: `q"s`, P: &seven, E: []byte{9}, Bad: 1, Punct: 2, M: map[string][]byte{"k": {1, 2}}, private: 3},
		oracleTags{Z: time.Unix(1, 0).UTC()},
		oraclePtr{oracleA: &oracleA{"p", []byte{5}}, Any: []byte{6}},
		oraclePtr{}, // nil embedded pointer: its fields are left out
		oracleUnexported{oracleB{"u"}, []byte{7}},
		map[string]any{"list": []any{[]byte{8}, oracleB{"m"}}},
	} {
		if got, want := encodeWithOracle(t, v); got != want {
			t.Errorf("%T:\n ours %s\n json %s", v, got, want)
		}
	}
}

// FuzzEncodingMatchesEncodingJSON fills the types above with values made
// from the input and checks each against encoding/json.
func FuzzEncodingMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte("seed"), int64(1), 2.5, "name")
	f.Add([]byte{}, int64(-9), math.Inf(1), "")
	f.Add([]byte{0xff, 0}, int64(math.MaxInt64), math.Copysign(0, -1), "\u2028<&>")
	f.Fuzz(func(t *testing.T, b []byte, n int64, x float64, s string) {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			x = 0 // encoding/json refuses them; so do we, elsewhere
		}
		var bs []byte
		if len(b) > 0 {
			bs = b
		}
		ni := int(n)
		for _, v := range []any{
			oracleConflict{oracleA{s, bs}, oracleB{s}, bs},
			oracleTagWins{oracleA{s, bs}, oracleTagged{s}},
			oracleShallowWins{oracleDeep{oracleA{s, bs}}, s},
			oracleTags{N: ni, F: x, Flag: n%2 == 0, S: s, P: &ni, E: bs, Bad: ni, M: map[string][]byte{s: bs}, Z: time.Unix(n%1e10, 0).UTC()},
			oraclePtr{oracleA: &oracleA{s, bs}, Opt: &oracleB{s}, Any: map[string]any{s: bs, "n": n}},
			oracleUnexported{oracleB{s}, bs},
		} {
			if got, want := encodeWithOracle(t, v); got != want {
				t.Fatalf("%T:\n ours %s\n json %s", v, got, want)
			}
		}
	})
}

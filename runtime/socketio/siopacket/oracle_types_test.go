package siopacket

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Random types for the encoding/json oracle: structs made with
// reflect.StructOf from fields of the kinds that matter (binary, scalars,
// pointers, slices, maps, nested and embedded structs) with random tags
// (names that collide, omitempty, omitzero, string, "-").

// Named structs to embed, with fields that collide with the random ones.
type (
	EmbA struct {
		Name string
		B    []byte
	}
	EmbB      struct{ Name, N string }
	EmbTagged struct {
		Data []byte `json:"Name,omitempty"`
	}
	EmbDeep struct{ EmbA }
)

// typeMaker builds random types and values from one random source.
type typeMaker struct{ rng *rand.Rand }

var (
	scalarTypes = []reflect.Type{
		reflect.TypeFor[string](), reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[uint16](),
		reflect.TypeFor[float64](), reflect.TypeFor[float32](), reflect.TypeFor[bool](), reflect.TypeFor[[]byte](),
		reflect.TypeFor[json.Number](), reflect.TypeFor[any](),
	}
	// embeddable are named struct types (StructOf's own are unnamed, and
	// only named types can be embedded; StructOf takes exported fields only).
	embeddable = []reflect.Type{
		reflect.TypeFor[EmbA](), reflect.TypeFor[EmbB](), reflect.TypeFor[EmbTagged](),
		reflect.TypeFor[EmbDeep](), reflect.TypeFor[*EmbA](), reflect.TypeFor[*EmbB](),
	}
	fieldNames = []string{"A", "B", "Name", "N", "Data"}
	tagNames   = []string{"", "", "a", "Name", "n", "x-y", "B"}
	tagOptions = []string{"", "", ",omitempty", ",omitzero", ",string", ",omitempty,string"}
)

// typ returns a random type, nesting at most depth levels.
func (m *typeMaker) typ(depth int) reflect.Type {
	switch k := m.rng.IntN(10); {
	case depth <= 0 || k < 5:
		return scalarTypes[m.rng.IntN(len(scalarTypes))]
	case k == 5:
		return reflect.PointerTo(m.typ(depth - 1))
	case k == 6:
		return reflect.SliceOf(m.typ(depth - 1))
	case k == 7:
		return reflect.MapOf(reflect.TypeFor[string](), m.typ(depth-1))
	default:
		return m.structType(depth - 1)
	}
}

// structType returns a random struct type.
func (m *typeMaker) structType(depth int) reflect.Type {
	n := 1 + m.rng.IntN(5)
	var fields []reflect.StructField
	used := map[string]bool{}
	for range n {
		if m.rng.IntN(5) == 0 {
			t := embeddable[m.rng.IntN(len(embeddable))]
			name := t.Name()
			if t.Kind() == reflect.Pointer {
				name = t.Elem().Name()
			}
			if used[name] {
				continue
			}
			used[name] = true
			fields = append(fields, reflect.StructField{Name: name, Type: t, Anonymous: true})
			continue
		}
		name := fieldNames[m.rng.IntN(len(fieldNames))]
		for used[name] {
			name += "X"
		}
		used[name] = true
		tag := ""
		if m.rng.IntN(3) > 0 {
			tag = fmt.Sprintf(`json:"%s%s"`, tagNames[m.rng.IntN(len(tagNames))], tagOptions[m.rng.IntN(len(tagOptions))])
		}
		if m.rng.IntN(15) == 0 {
			tag = `json:"-"`
		}
		fields = append(fields, reflect.StructField{Name: name, Type: m.typ(depth), Tag: reflect.StructTag(tag)})
	}
	return reflect.StructOf(fields)
}

// value returns a random value of t; zero values come often, so that
// omitempty and omitzero are exercised.
func (m *typeMaker) value(t reflect.Type, depth int) reflect.Value {
	v := reflect.New(t).Elem()
	if m.rng.IntN(4) == 0 {
		return v
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString([]string{"", "s", `q"<&>`, "\u2028é", "12"}[m.rng.IntN(5)])
	case reflect.Int, reflect.Int8:
		v.SetInt(int64(m.rng.IntN(200) - 100))
	case reflect.Uint16:
		v.SetUint(uint64(m.rng.IntN(70000) % 65536))
	case reflect.Float64, reflect.Float32:
		v.SetFloat([]float64{0, 1.5, -2, 1e21, 3.25e-7}[m.rng.IntN(5)])
	case reflect.Bool:
		v.SetBool(m.rng.IntN(2) == 0)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			b := make([]byte, m.rng.IntN(5))
			for i := range b {
				b[i] = byte(m.rng.IntN(256))
			}
			v.SetBytes(b)
			return v
		}
		n := m.rng.IntN(3)
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			s.Index(i).Set(m.value(t.Elem(), depth-1))
		}
		v.Set(s)
	case reflect.Map:
		mv := reflect.MakeMap(t)
		for i := range m.rng.IntN(3) {
			mv.SetMapIndex(reflect.ValueOf(fmt.Sprint("k", i)), m.value(t.Elem(), depth-1))
		}
		v.Set(mv)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		p.Elem().Set(m.value(t.Elem(), depth-1))
		v.Set(p)
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() || t.Field(i).Anonymous {
				if f := v.Field(i); f.CanSet() {
					f.Set(m.value(t.Field(i).Type, depth-1))
				}
			}
		}
	case reflect.Interface:
		switch m.rng.IntN(3) {
		case 0:
			v.Set(reflect.ValueOf([]byte{1, 2, 3}))
		case 1:
			v.Set(reflect.ValueOf(map[string]any{"b": []byte{4}, "s": "x"}))
		default:
			v.Set(reflect.ValueOf("plain"))
		}
	}
	if t == reflect.TypeFor[json.Number]() {
		v.SetString([]string{"1", "-2.5", "1e3"}[m.rng.IntN(3)])
	}
	return v
}

// checkAgainstOracle checks one value both ways: our encoding, with
// attachments as encoding/json writes []byte, is encoding/json's; and
// decoding what we encoded (attachments and all) into a new value of the
// type gives what encoding/json decodes from its own encoding.
func checkAgainstOracle(t *testing.T, v reflect.Value) {
	t.Helper()
	want, err := json.Marshal(v.Interface())
	if err != nil {
		return // encoding/json refuses it (a ,string on an unquotable value, say): not a case
	}
	e := argEncoder{}
	if err := e.value(v); err != nil {
		t.Fatalf("%v: we refuse what encoding/json encodes as %s: %v", v.Type(), want, err)
	}
	ours := string(e.buf)
	with := ours
	for i, a := range e.atts {
		b, _ := json.Marshal(a)
		with = strings.Replace(with, fmt.Sprintf(`{"_placeholder":true,"num":%d}`, i), string(b), 1)
	}
	if with != string(want) {
		t.Fatalf("%v:\n ours %s\n json %s", v.Type(), with, want)
	}
	// Decoding: what we sent, as a receiver's Args, into the same type.
	args, err := ParseArgs([]byte("["+ours+"]"), e.atts)
	if err != nil {
		t.Fatalf("%v: our encoding %s does not parse: %v", v.Type(), ours, err)
	}
	got := reflect.New(v.Type())
	errOurs := args.Decode(0, got.Interface())
	oracle := reflect.New(v.Type())
	errJSON := json.Unmarshal(want, oracle.Interface())
	if (errOurs == nil) != (errJSON == nil) {
		t.Fatalf("%v: decoding %s: ours %v, encoding/json's %v", v.Type(), ours, errOurs, errJSON)
	}
	if errJSON == nil && !reflect.DeepEqual(got.Elem().Interface(), oracle.Elem().Interface()) {
		g, _ := json.Marshal(got.Interface())
		o, _ := json.Marshal(oracle.Interface())
		t.Fatalf("%v: decoding %s:\n ours %s\n json %s", v.Type(), ours, g, o)
	}
}

func TestRandomTypesMatchEncodingJSON(t *testing.T) {
	m := &typeMaker{rand.New(rand.NewPCG(1, 2))}
	for range 3000 {
		typ := m.structType(3)
		checkAgainstOracle(t, m.value(typ, 4))
	}
}

// FuzzRandomTypesMatchEncodingJSON: random types and values from the
// fuzzer's seeds, checked against encoding/json both ways.
func FuzzRandomTypesMatchEncodingJSON(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(7))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		m := &typeMaker{rand.New(rand.NewPCG(a, b))}
		typ := m.structType(3)
		checkAgainstOracle(t, m.value(typ, 4))
	})
}

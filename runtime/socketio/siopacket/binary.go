package siopacket

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// AppendEventData appends the payload of an EVENT, the JSON array
// [event, args...], to dst. Every []byte in args, at any depth, becomes a
// placeholder and its bytes are appended to attachments.
func AppendEventData(dst []byte, attachments [][]byte, event string, args []any) ([]byte, [][]byte, error) {
	e := argEncoder{buf: dst, atts: attachments}
	e.buf = append(e.buf, '[')
	e.appendString(event)
	for _, a := range args {
		e.buf = append(e.buf, ',')
		if err := e.value(reflect.ValueOf(a)); err != nil {
			return dst, attachments, err
		}
	}
	e.buf = append(e.buf, ']')
	return e.buf, e.atts, nil
}

// AppendAckData appends the payload of an ACK, the JSON array of args, to
// dst, deconstructing binary as AppendEventData does.
func AppendAckData(dst []byte, attachments [][]byte, args []any) ([]byte, [][]byte, error) {
	e := argEncoder{buf: dst, atts: attachments}
	e.buf = append(e.buf, '[')
	for i, a := range args {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(reflect.ValueOf(a)); err != nil {
			return dst, attachments, err
		}
	}
	e.buf = append(e.buf, ']')
	return e.buf, e.atts, nil
}

// argEncoder writes JSON like encoding/json, except that []byte values
// become attachments.
type argEncoder struct {
	buf  []byte
	atts [][]byte
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	jsonNumberType = reflect.TypeFor[json.Number]()
	marshalerType  = reflect.TypeFor[json.Marshaler]()
	textMarshType  = reflect.TypeFor[encoding.TextMarshaler]()
)

func (e *argEncoder) placeholder(b []byte) {
	e.buf = append(e.buf, `{"_placeholder":true,"num":`...)
	e.buf = strconv.AppendInt(e.buf, int64(len(e.atts)), 10)
	e.buf = append(e.buf, '}')
	if b == nil {
		b = []byte{}
	}
	e.atts = append(e.atts, b)
}

// appendString writes s as a JSON string with encoding/json's escaping.
func (e *argEncoder) appendString(s string) {
	if isPlainASCII(s) {
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, s...)
		e.buf = append(e.buf, '"')
		return
	}
	b, _ := json.Marshal(s)
	e.buf = append(e.buf, b...)
}

// isPlainASCII reports whether s needs no escaping in JSON (encoding/json
// also escapes <, > and & for HTML safety; so do we, by deferring to it).
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (e *argEncoder) value(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	switch {
	case t == rawMessageType:
		if v.Len() == 0 {
			e.buf = append(e.buf, "null"...)
		} else {
			e.buf = append(e.buf, v.Bytes()...)
		}
		return nil
	case t == jsonNumberType:
		// A json.Number is a number on the wire, as encoding/json writes
		// it (and refuses one that is not a number literal).
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return err
		}
		e.buf = append(e.buf, b...)
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && !t.Implements(marshalerType):
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.placeholder(v.Bytes())
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		if !t.Implements(marshalerType) {
			e.appendString(v.String())
			return nil
		}
	case reflect.Bool:
		if !t.Implements(marshalerType) {
			e.buf = strconv.AppendBool(e.buf, v.Bool())
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !t.Implements(marshalerType) && !t.Implements(textMarshType) {
			e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if !t.Implements(marshalerType) && !t.Implements(textMarshType) {
			e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
			return nil
		}
	}
	if !mayHoldBinary(t) {
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return err
		}
		e.buf = append(e.buf, b...)
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(v.Elem())
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i := range v.Len() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	case reflect.Map:
		return e.mapValue(v)
	case reflect.Struct:
		return e.structValue(v)
	}
	return fmt.Errorf("siopacket: cannot encode %v", t)
}

func (e *argEncoder) mapValue(v reflect.Value) error {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		k := it.Key()
		var ks string
		switch k.Kind() {
		case reflect.String:
			ks = k.String()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			ks = strconv.FormatInt(k.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			ks = strconv.FormatUint(k.Uint(), 10)
		default:
			return fmt.Errorf("siopacket: unsupported map key type %v", k.Type())
		}
		entries = append(entries, entry{ks, it.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	e.buf = append(e.buf, '{')
	for i, en := range entries {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.appendString(en.key)
		e.buf = append(e.buf, ':')
		if err := e.value(en.val); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *argEncoder) structValue(v reflect.Value) error {
	e.buf = append(e.buf, '{')
	first := true
	for _, f := range structFields(v.Type()) {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || (f.omitEmpty && isEmptyValue(fv)) || (f.omitZero && isZero(fv)) {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.appendString(f.name)
		e.buf = append(e.buf, ':')
		if f.quoted {
			if err := e.quotedValue(fv); err != nil {
				return err
			}
			continue
		}
		if err := e.value(fv); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// quotedValue writes a field tagged ",string" as encoding/json does: a
// bool or number inside a JSON string, a string encoded twice; a type
// that marshals itself, or a nil pointer, as usual.
func (e *argEncoder) quotedValue(v reflect.Value) error {
	if v.Type().Implements(marshalerType) || v.Type().Implements(textMarshType) {
		return e.value(v)
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		v = v.Elem()
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return err
	}
	if v.Kind() == reflect.String {
		e.appendString(string(b))
		return nil
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, '"')
	return nil
}

// fieldByIndex follows index through embedded pointers, reporting false
// when one of them is nil (encoding/json then omits the field).
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

var isZeroerType = reflect.TypeFor[interface{ IsZero() bool }]()

// isZero is omitzero's test: the value's IsZero method if it has one (a
// nil pointer is zero without calling it), else the zero value.
func isZero(v reflect.Value) bool {
	t := v.Type()
	switch {
	case t.Implements(isZeroerType):
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return v.Interface().(interface{ IsZero() bool }).IsZero()
	case v.CanAddr() && reflect.PointerTo(t).Implements(isZeroerType):
		return v.Addr().Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}

// field is one JSON field of a struct type.
type field struct {
	name      string
	tagged    bool // named by its tag
	index     []int
	omitEmpty bool
	omitZero  bool
	quoted    bool // ",string"
}

var fieldCache sync.Map // reflect.Type -> []field

// structFields lists t's JSON fields by encoding/json's rules: exported
// fields (and embedded structs, exported or not), tag names (a name that
// is not a valid key falls back to the field's) and "-"; the fields of
// untagged embedded structs are promoted, breadth first; of fields with
// the same name the shallowest wins, then a tagged one, and a tie at
// both drops them all; a struct embedded twice at one depth adds nothing.
func structFields(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	type embedded struct {
		typ   reflect.Type
		index []int
	}
	var all []field
	next := []embedded{{typ: t}}
	var count map[reflect.Type]int
	nextCount := map[reflect.Type]int{t: 1}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, em := range current {
			if visited[em.typ] {
				continue
			}
			visited[em.typ] = true
			for i := range em.typ.NumField() {
				sf := em.typ.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				idx := append(slices.Clone(em.index), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					nextCount[ft]++
					if nextCount[ft] == 1 {
						next = append(next, embedded{typ: ft, index: idx})
					}
					continue
				}
				f := field{name: name, tagged: name != "", index: idx}
				if f.name == "" {
					f.name = sf.Name
				}
				for opt := range strings.SplitSeq(opts, ",") {
					switch opt {
					case "omitempty":
						f.omitEmpty = true
					case "omitzero":
						f.omitZero = true
					case "string":
						switch ft.Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64, reflect.String:
							f.quoted = true
						}
					}
				}
				all = append(all, f)
				if count[em.typ] > 1 {
					// Embedded twice at this depth: the copy makes a tie
					// that drops the name.
					all = append(all, f)
				}
			}
		}
	}
	// Group by name; in each group keep the dominant field, if any.
	slices.SortStableFunc(all, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	var fields []field
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].name == all[i].name {
			j++
		}
		group := all[i:j]
		if len(group) == 1 || len(group[0].index) < len(group[1].index) || group[0].tagged != group[1].tagged {
			fields = append(fields, group[0])
		}
		i = j
	}
	slices.SortFunc(fields, func(a, b field) int { return slices.Compare(a.index, b.index) })
	fieldCache.Store(t, fields)
	return fields
}

// validTagName reports whether a tag name is one encoding/json accepts as
// a key: letters, digits and these punctuation marks, nothing else.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

var binaryCache sync.Map // reflect.Type -> bool

// mayHoldBinary reports whether a value of type t can contain a []byte
// that must become an attachment. Interfaces may hold anything. Types that
// marshal themselves are opaque.
func mayHoldBinary(t reflect.Type) bool {
	if b, ok := binaryCache.Load(t); ok {
		return b.(bool)
	}
	binaryCache.Store(t, true) // provisional answer for recursive types
	b := computeMayHoldBinary(t)
	binaryCache.Store(t, b)
	return b
}

func computeMayHoldBinary(t reflect.Type) bool {
	if t == rawMessageType || t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8 || mayHoldBinary(t.Elem())
	case reflect.Array, reflect.Pointer, reflect.Map:
		return mayHoldBinary(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); (f.IsExported() || f.Anonymous) && mayHoldBinary(f.Type) {
				return true
			}
		}
	}
	return false
}

// PlaceholderNum reports whether data is a single placeholder object, and
// which attachment it stands for.
func PlaceholderNum(data []byte) (int, bool) {
	data = bytes.TrimSpace(data)
	// Fast path: the exact form every encoder here and the reference emit.
	if rest, ok := bytes.CutPrefix(data, []byte(`{"_placeholder":true,"num":`)); ok {
		if digits, ok := bytes.CutSuffix(rest, []byte("}")); ok && allDigits(digits) && len(digits) <= 9 {
			n, _ := strconv.Atoi(string(digits))
			return n, true
		}
	}
	if len(data) < 2 || data[0] != '{' || !bytes.Contains(data, []byte(`"_placeholder"`)) {
		return 0, false
	}
	var ph struct {
		Placeholder bool     `json:"_placeholder"`
		Num         *float64 `json:"num"`
	}
	if json.Unmarshal(data, &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 || *ph.Num != math.Trunc(*ph.Num) {
		return 0, false
	}
	return int(*ph.Num), true
}

// HasPlaceholder reports whether data may contain a placeholder.
func HasPlaceholder(data []byte) bool { return bytes.Contains(data, []byte(`"_placeholder"`)) }

// ResolveBase64 returns data with every placeholder replaced by its
// attachment as a base64 JSON string, which encoding/json decodes into a
// []byte. It fails on a placeholder with no matching attachment.
func ResolveBase64(data []byte, attachments [][]byte) ([]byte, error) {
	v, err := Resolve(data, attachments)
	if err != nil {
		return nil, err
	}
	return json.Marshal(toBase64(v))
}

// Resolve decodes data generically (numbers as json.Number) with every
// placeholder replaced by its attachment as a []byte.
func Resolve(data []byte, attachments [][]byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return replacePlaceholders(v, attachments)
}

func replacePlaceholders(v any, atts [][]byte) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ph, ok := x["_placeholder"].(bool); ok && ph && len(x) == 2 {
			n, ok := x["num"].(json.Number)
			if !ok {
				return nil, errPlaceholder
			}
			i, err := strconv.Atoi(n.String())
			if err != nil || i < 0 || i >= len(atts) {
				return nil, errPlaceholder
			}
			return atts[i], nil
		}
		for k, e := range x {
			r, err := replacePlaceholders(e, atts)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := replacePlaceholders(e, atts)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

func toBase64(v any) any {
	switch x := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case map[string]any:
		for k, e := range x {
			x[k] = toBase64(e)
		}
	case []any:
		for i, e := range x {
			x[i] = toBase64(e)
		}
	}
	return v
}

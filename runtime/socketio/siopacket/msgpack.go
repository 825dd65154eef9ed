package siopacket

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// This file is the MessagePack form of a packet, as the
// socket.io-msgpack-parser npm package (3.x, on notepack.io) sends it.
// Packets keep their usual form (JSON data with placeholders and
// attachments), and the codec translates at the boundary.

// MaxMsgpackDepth is how deeply arrays and maps may nest in a MessagePack
// packet DecodeMsgpack accepts.
const MaxMsgpackDepth = 1000

var (
	errMsgpack         = fmt.Errorf("%w: malformed MessagePack", ErrInvalid)
	errMsgpackTrailing = fmt.Errorf("%w: bytes after the MessagePack packet", ErrInvalid)
	errMsgpackDepth    = fmt.Errorf("%w: MessagePack nested more than %d deep", ErrInvalid, MaxMsgpackDepth)
	errMsgpackKey      = fmt.Errorf("%w: MessagePack map key is neither a string nor an integer", ErrInvalid)
	errMsgpackBinary   = fmt.Errorf("%w: binary data outside an event or ack", ErrInvalid)
	errMsgpackNotJSON  = fmt.Errorf("siopacket: packet data is not valid JSON")
)

// AppendMsgpack appends p in the MessagePack form of socket.io-msgpack-parser
// to dst: one map of type, data (left out when p has none), nsp and id
// (when p has one), each attachment as bin in place of its placeholder,
// and BINARY_EVENT and BINARY_ACK sent as EVENT and ACK (the form has no
// attachments). The bytes are those the reference encoder makes of the
// same map. It fails only if p.Data is not JSON.
//
// Numbers follow JavaScript, which has one number type: one with an
// integral value that fits 64 bits is sent as an integer (2.0 as 2), any
// other as a float64 (0.5, 1e300, integers past 64 bits). Invalid UTF-8
// becomes U+FFFD, as AppendText makes it.
func AppendMsgpack(dst []byte, p *Packet) ([]byte, error) {
	n := 2
	if p.Data != nil {
		n++
	}
	if p.HasID {
		n++
	}
	typ := p.Type
	switch typ {
	case BinaryEvent:
		typ = Event
	case BinaryAck:
		typ = Ack
	}
	nsp := p.Namespace
	if nsp == "" {
		nsp = "/"
	}
	dst = append(dst, 0x80|byte(n))
	dst = appendMsgpackStr(dst, "type")
	dst = appendMsgpackInt(dst, int64(typ))
	if p.Data != nil {
		dst = appendMsgpackStr(dst, "data")
		var err error
		if dst, err = appendJSONAsMsgpack(dst, p.Data, p.Attachments); err != nil {
			return dst, err
		}
	}
	dst = appendMsgpackStr(dst, "nsp")
	dst = appendMsgpackStr(dst, toValidUTF8String(nsp))
	if p.HasID {
		dst = appendMsgpackStr(dst, "id")
		dst = appendMsgpackUint(dst, p.ID)
	}
	return dst, nil
}

func toValidUTF8String(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(toValidUTF8([]byte(s)))
}

// appendJSONAsMsgpack appends the JSON value data as msgpack, with each
// placeholder for one of attachments as bin.
func appendJSONAsMsgpack(dst, data []byte, attachments [][]byte) ([]byte, error) {
	if !validJSON(data) {
		return dst, errMsgpackNotJSON
	}
	scratch := countsPool.Get().(*countsScratch)
	defer scratch.release()
	e := jsonToMsgpack{buf: dst, data: data, counts: scratch.count(data), atts: attachments}
	end := e.value(skipSpace(data, 0))
	if end < 0 {
		return dst, errMsgpackNotJSON
	}
	return e.buf, nil
}

// countsScratch is the memory of count, reused across packets.
type countsScratch struct{ counts, open []int }

var countsPool = sync.Pool{New: func() any { return new(countsScratch) }}

// release gives s back to the pool, unless a large payload grew it.
func (s *countsScratch) release() {
	if cap(s.counts) <= 1<<12 && cap(s.open) <= 1<<12 {
		countsPool.Put(s)
	}
}

// count returns the number of elements (or members) of each array and
// object in data, valid JSON, in the order they open: msgpack writes a
// container's length before its elements. The result is valid until the
// next call.
func (s *countsScratch) count(data []byte) []int {
	counts, open := s.counts[:0], s.open[:0]
	defer func() { s.counts, s.open = counts, open }()
	for i := 0; i < len(data); {
		c := data[i]
		switch c {
		case ' ', '\t', '\r', '\n', ':':
			i++
			continue
		case ',':
			counts[open[len(open)-1]]++
			i++
			continue
		case '}', ']':
			open = open[:len(open)-1]
			i++
			continue
		}
		if len(open) > 0 && counts[open[len(open)-1]] == 0 {
			counts[open[len(open)-1]] = 1 // the first element
		}
		switch c {
		case '{', '[':
			open = append(open, len(counts))
			counts = append(counts, 0)
			i++
		case '"':
			i, _ = skipString(data, i)
		default:
			i = skipValue(data, i)
		}
	}
	return counts
}

// jsonToMsgpack translates valid JSON to msgpack.
type jsonToMsgpack struct {
	buf    []byte
	data   []byte
	counts []int // from countElements
	next   int   // the next container's index in counts
	atts   [][]byte
}

// value translates the value at data[i] and returns the index after it,
// or -1 if the JSON is not what validJSON promised.
func (e *jsonToMsgpack) value(i int) int {
	data := e.data
	if i >= len(data) {
		return -1
	}
	switch c := data[i]; {
	case c == '{' || c == '[':
		if e.next >= len(e.counts) {
			return -1
		}
		n := e.counts[e.next]
		e.next++
		if c == '{' && n == 2 && len(e.atts) > 0 {
			end := skipValue(data, i)
			if num, ok := PlaceholderNum(data[i:end]); ok && num < len(e.atts) {
				e.buf = appendMsgpackBin(e.buf, e.atts[num])
				return end
			}
		}
		if c == '{' {
			e.buf = appendMsgpackLen(e.buf, n, 0x80, 0xde)
		} else {
			e.buf = appendMsgpackLen(e.buf, n, 0x90, 0xdc)
		}
		i = skipSpace(data, i+1)
		for k := range n {
			if k > 0 {
				if i >= len(data) || data[i] != ',' {
					return -1
				}
				i = skipSpace(data, i+1)
			}
			if c == '{' {
				if i = e.str(i); i < 0 {
					return -1
				}
				if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
					return -1
				}
				i = skipSpace(data, i+1)
			}
			if i = e.value(i); i < 0 {
				return -1
			}
			i = skipSpace(data, i)
		}
		if i >= len(data) || (data[i] != '}' && data[i] != ']') {
			return -1
		}
		return i + 1
	case c == '"':
		return e.str(i)
	case c == 't':
		e.buf = append(e.buf, 0xc3)
		return i + 4
	case c == 'f':
		e.buf = append(e.buf, 0xc2)
		return i + 5
	case c == 'n':
		e.buf = append(e.buf, 0xc0)
		return i + 4
	}
	end := validNumber(data, i)
	if end < 0 {
		return -1
	}
	e.buf = appendJSONNumber(e.buf, data[i:end])
	return end
}

// str translates the string at data[i].
func (e *jsonToMsgpack) str(i int) int {
	if i >= len(e.data) || e.data[i] != '"' {
		return -1
	}
	end, escaped := skipString(e.data, i)
	raw := e.data[i+1 : max(end-1, i+1)]
	if !escaped && utf8.Valid(raw) {
		e.buf = appendMsgpackStrBytes(e.buf, raw)
		return end
	}
	var s string
	if json.Unmarshal(e.data[i:end], &s) != nil { // invalid UTF-8 becomes U+FFFD
		return -1
	}
	e.buf = appendMsgpackStr(e.buf, s)
	return end
}

// appendJSONNumber appends a JSON number as JavaScript's notepack.io would
// send it, except that integers are exact to 64 bits.
func appendJSONNumber(dst, lit []byte) []byte {
	if !bytes.ContainsAny(lit, ".eE") {
		if v, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
			return appendMsgpackInt(dst, v)
		}
		if v, err := strconv.ParseUint(string(lit), 10, 64); err == nil {
			return appendMsgpackUint(dst, v)
		}
	}
	f, _ := strconv.ParseFloat(string(lit), 64) // out of range is ±Inf, as in JSON.parse
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return appendMsgpackInt(dst, int64(f))
	}
	dst = append(dst, 0xcb)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

// appendMsgpackInt appends v in its shortest msgpack form, as notepack.io
// chooses it.
func appendMsgpackInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendMsgpackUint(dst, uint64(v))
	}
	switch {
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

func appendMsgpackUint(dst []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
}

// appendMsgpackLen appends an array or map header: fix is the fixarray or
// fixmap prefix, wide the 16-bit form's (the 32-bit one follows it).
func appendMsgpackLen(dst []byte, n int, fix, wide byte) []byte {
	switch {
	case n < 16:
		return append(dst, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, wide), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, wide+1), uint32(n))
}

func appendMsgpackStr(dst []byte, s string) []byte {
	dst = appendMsgpackStrHeader(dst, len(s))
	return append(dst, s...)
}

func appendMsgpackStrBytes(dst, s []byte) []byte {
	dst = appendMsgpackStrHeader(dst, len(s))
	return append(dst, s...)
}

func appendMsgpackStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
}

func appendMsgpackBin(dst, b []byte) []byte {
	switch n := len(b); {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

// DecodeMsgpack decodes a packet in the MessagePack form, checking it as
// DecodeText does. Binary values come back as attachments, with
// placeholders for them in Data, and make an EVENT a BINARY_EVENT (an ACK
// a BINARY_ACK); lim.MaxAttachments bounds how many one packet may hold.
// Arrays and maps may nest MaxMsgpackDepth deep. The packet shares no
// memory with b.
//
// Values that JSON holds translate exactly: nil, booleans, integers (to
// 64 bits), floats (the same float64), strings, arrays, maps with string
// keys. For the rest, the result is what notepack.io's decoder followed by
// JSON.stringify would make:
//
//   - notepack's undefined (fixext 1, type 0) is null in an array and
//     leaves its key out of a map; as the packet's data or id it means
//     none;
//   - notepack's Date (fixext 8, type 0) becomes the string Date.toJSON
//     gives (2006-01-02T15:04:05.000Z), or null out of a Date's range;
//   - an ext of type 0 and another size (how notepack sends an
//     ArrayBuffer or a typed array) is binary;
//   - any other ext becomes [type, <binary>], as notepack decodes it;
//   - NaN and the infinities become null;
//   - an integer map key becomes its decimal string; other non-string
//     keys (nil, booleans, floats, arrays, maps, binary, ext) are refused;
//   - invalid UTF-8 in a string becomes U+FFFD, byte by byte.
func DecodeMsgpack(b []byte, lim Limits) (Packet, error) {
	maxAtts := lim.MaxAttachments
	if maxAtts <= 0 {
		maxAtts = DefaultMaxAttachments
	}
	// The JSON is about as long as the msgpack without its binary: one
	// allocation for most packets.
	d := msgpackToJSON{in: b, maxAtts: maxAtts, out: make([]byte, 0, min(len(b), 4096)+32)}
	n, ok := d.mapLen()
	if !ok {
		return Packet{}, fmt.Errorf("%w: not a map", errMsgpack)
	}
	p := Packet{ownsData: true}
	var hasType, hasNsp, hasData bool
	for range n {
		key, err := d.key()
		if err != nil {
			return Packet{}, err
		}
		switch string(key) {
		case "type":
			v, ok := d.integer()
			if !ok || v < int64(Connect) || v > int64(ConnectError) {
				return Packet{}, errType
			}
			p.Type, hasType = Type(v), true
		case "nsp":
			s, ok := d.strBytes()
			if !ok || !validNamespace(string(s)) || !utf8.Valid(s) {
				return Packet{}, errNamespace
			}
			p.Namespace, hasNsp = "/", true
			if len(s) > 1 {
				p.Namespace = string(s)
			}
		case "id":
			if d.undefined() {
				p.ID, p.HasID = 0, false
				continue
			}
			v, ok := d.integer()
			if !ok || v < 0 || v >= 1e15 {
				return Packet{}, errID
			}
			p.ID, p.HasID = uint64(v), true
		case "data":
			d.out, d.atts = d.out[:0], d.atts[:0]
			undef, err := d.value(0)
			if err != nil {
				return Packet{}, err
			}
			hasData = !undef
		default: // what the reference ignores, such as socket.io-client's "options"
			mark, atts := len(d.out), len(d.atts)
			if _, err := d.value(0); err != nil {
				return Packet{}, err
			}
			d.out, d.atts = d.out[:mark], d.atts[:atts]
		}
	}
	if d.pos != len(d.in) {
		return Packet{}, errMsgpackTrailing
	}
	if !hasType {
		return Packet{}, errType
	}
	if !hasNsp {
		return Packet{}, errNamespace
	}
	if hasData {
		p.Data = d.out
	}
	if len(d.atts) > 0 {
		switch p.Type {
		case Event:
			p.Type = BinaryEvent
		case Ack:
			p.Type = BinaryAck
		default:
			return Packet{}, errMsgpackBinary
		}
		p.Attachments = d.atts
	}
	if err := checkPayload(&p); err != nil {
		return Packet{}, err
	}
	if len(p.Attachments) > 0 {
		// A map shaped like a placeholder beside real binary would be
		// taken for one: such a packet is refused.
		if err := checkPlaceholders(p.Data, len(p.Attachments)); err != nil {
			return Packet{}, err
		}
	}
	return p, nil
}

// msgpackToJSON translates msgpack to JSON with placeholders.
type msgpackToJSON struct {
	in      []byte
	pos     int
	out     []byte
	atts    [][]byte
	maxAtts int
}

// take returns the next n bytes, or false if there are not as many.
func (d *msgpackToJSON) take(n uint64) ([]byte, bool) {
	if n > uint64(len(d.in)-d.pos) {
		return nil, false
	}
	b := d.in[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, true
}

func (d *msgpackToJSON) byte1() (byte, bool) {
	if d.pos >= len(d.in) {
		return 0, false
	}
	c := d.in[d.pos]
	d.pos++
	return c, true
}

// uintN reads a big-endian unsigned integer of size bytes.
func (d *msgpackToJSON) uintN(size int) (uint64, bool) {
	b, ok := d.take(uint64(size))
	if !ok {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// mapLen reads a map header.
func (d *msgpackToJSON) mapLen() (int, bool) {
	c, ok := d.byte1()
	switch {
	case !ok:
		return 0, false
	case c&0xf0 == 0x80:
		return int(c & 0x0f), true
	case c == 0xde || c == 0xdf:
		n, ok := d.uintN(2 << (c - 0xde))
		// Each entry takes two bytes at least: a longer count is a lie.
		return int(n), ok && n <= uint64(len(d.in)-d.pos)/2
	}
	return 0, false
}

// undefined consumes notepack's undefined if it comes next.
func (d *msgpackToJSON) undefined() bool {
	if len(d.in)-d.pos >= 3 && d.in[d.pos] == 0xd4 && d.in[d.pos+1] == 0 {
		d.pos += 3
		return true
	}
	return false
}

// integer reads an integer (or a float with an integral value, which is
// an integer to JavaScript) within int64.
func (d *msgpackToJSON) integer() (int64, bool) {
	c, ok := d.byte1()
	switch {
	case !ok:
		return 0, false
	case c < 0x80:
		return int64(c), true
	case c >= 0xe0:
		return int64(int8(c)), true
	case c >= 0xcc && c <= 0xcf:
		v, ok := d.uintN(1 << (c - 0xcc))
		return int64(v), ok && v <= math.MaxInt64
	case c >= 0xd0 && c <= 0xd3:
		size := 1 << (c - 0xd0)
		v, ok := d.uintN(size)
		return signExtend(v, size), ok
	case c == 0xca || c == 0xcb:
		f, ok := d.float(c)
		return int64(f), ok && f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63
	}
	return 0, false
}

func signExtend(v uint64, size int) int64 {
	shift := 64 - 8*size
	return int64(v<<shift) >> shift
}

func (d *msgpackToJSON) float(c byte) (float64, bool) {
	if c == 0xca {
		v, ok := d.uintN(4)
		return float64(math.Float32frombits(uint32(v))), ok
	}
	v, ok := d.uintN(8)
	return math.Float64frombits(v), ok
}

// strLen reads a string header, if one comes next.
func (d *msgpackToJSON) strLen() (int, bool) {
	if d.pos >= len(d.in) {
		return 0, false
	}
	c := d.in[d.pos]
	switch {
	case c&0xe0 == 0xa0:
		d.pos++
		return int(c & 0x1f), true
	case c >= 0xd9 && c <= 0xdb:
		d.pos++
		n, ok := d.uintN(1 << (c - 0xd9))
		return int(n), ok && n <= uint64(len(d.in)-d.pos)
	}
	return 0, false
}

// strBytes reads a string value, aliasing the input.
func (d *msgpackToJSON) strBytes() ([]byte, bool) {
	n, ok := d.strLen()
	if !ok {
		return nil, false
	}
	return d.take(uint64(n))
}

// key reads a map key of the packet itself: a string, or an integer as
// its decimal text, as JavaScript would name the property. It may alias
// the input.
func (d *msgpackToJSON) key() ([]byte, error) {
	if n, ok := d.strLen(); ok {
		b, ok := d.take(uint64(n))
		if !ok {
			return nil, errMsgpack
		}
		return b, nil
	}
	mark := len(d.out)
	defer func() { d.out = d.out[:mark] }()
	if err := d.mapKey(); err != nil {
		return nil, err
	}
	return bytes.Clone(d.out[mark+1 : len(d.out)-1]), nil // an integer: no escapes
}

// mapKey translates a map key to a JSON string.
func (d *msgpackToJSON) mapKey() error {
	if n, ok := d.strLen(); ok {
		b, ok := d.take(uint64(n))
		if !ok {
			return errMsgpack
		}
		d.out = appendJSONString(d.out, b)
		return nil
	}
	if d.pos >= len(d.in) {
		return errMsgpack
	}
	c := d.in[d.pos]
	if c < 0x80 || c >= 0xe0 || (c >= 0xcc && c <= 0xd3) {
		d.out = append(d.out, '"')
		if _, err := d.value(0); err != nil {
			return err
		}
		d.out = append(d.out, '"')
		return nil
	}
	return errMsgpackKey
}

// value translates the next value, at nesting depth depth. It reports
// notepack's undefined, for which it writes nothing.
func (d *msgpackToJSON) value(depth int) (undefined bool, err error) {
	c, ok := d.byte1()
	if !ok {
		return false, errMsgpack
	}
	switch {
	case c < 0x80:
		d.out = strconv.AppendUint(d.out, uint64(c), 10)
		return false, nil
	case c >= 0xe0:
		d.out = strconv.AppendInt(d.out, int64(int8(c)), 10)
		return false, nil
	case c&0xf0 == 0x80:
		return false, d.mapBody(uint64(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return false, d.arrayBody(uint64(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return false, d.strBody(uint64(c & 0x1f))
	}
	switch c {
	case 0xc0:
		d.out = append(d.out, "null"...)
	case 0xc2:
		d.out = append(d.out, "false"...)
	case 0xc3:
		d.out = append(d.out, "true"...)
	case 0xc4, 0xc5, 0xc6:
		n, ok := d.uintN(1 << (c - 0xc4))
		if !ok {
			return false, errMsgpack
		}
		return false, d.binBody(n)
	case 0xc7, 0xc8, 0xc9:
		n, ok := d.uintN(1 << (c - 0xc7))
		if !ok {
			return false, errMsgpack
		}
		return false, d.ext(n, depth)
	case 0xca, 0xcb:
		f, ok := d.float(c)
		if !ok {
			return false, errMsgpack
		}
		d.out = appendJSONFloat(d.out, f)
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, ok := d.uintN(1 << (c - 0xcc))
		if !ok {
			return false, errMsgpack
		}
		d.out = strconv.AppendUint(d.out, v, 10)
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		v, ok := d.uintN(size)
		if !ok {
			return false, errMsgpack
		}
		d.out = strconv.AppendInt(d.out, signExtend(v, size), 10)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.fixext(1<<(c-0xd4), depth)
	case 0xd9, 0xda, 0xdb:
		n, ok := d.uintN(1 << (c - 0xd9))
		if !ok {
			return false, errMsgpack
		}
		return false, d.strBody(n)
	case 0xdc, 0xdd:
		n, ok := d.uintN(2 << (c - 0xdc))
		if !ok {
			return false, errMsgpack
		}
		return false, d.arrayBody(n, depth)
	case 0xde, 0xdf:
		n, ok := d.uintN(2 << (c - 0xde))
		if !ok {
			return false, errMsgpack
		}
		return false, d.mapBody(n, depth)
	default: // 0xc1, never used
		return false, errMsgpack
	}
	return false, nil
}

func (d *msgpackToJSON) arrayBody(n uint64, depth int) error {
	if depth >= MaxMsgpackDepth {
		return errMsgpackDepth
	}
	if n > uint64(len(d.in)-d.pos) { // each element takes a byte at least
		return errMsgpack
	}
	d.out = append(d.out, '[')
	for i := range n {
		if i > 0 {
			d.out = append(d.out, ',')
		}
		undef, err := d.value(depth + 1)
		if err != nil {
			return err
		}
		if undef {
			d.out = append(d.out, "null"...)
		}
	}
	d.out = append(d.out, ']')
	return nil
}

func (d *msgpackToJSON) mapBody(n uint64, depth int) error {
	if depth >= MaxMsgpackDepth {
		return errMsgpackDepth
	}
	if n > uint64(len(d.in)-d.pos)/2 { // each entry takes two bytes at least
		return errMsgpack
	}
	d.out = append(d.out, '{')
	first := true
	for range n {
		mark := len(d.out)
		if !first {
			d.out = append(d.out, ',')
		}
		if err := d.mapKey(); err != nil {
			return err
		}
		d.out = append(d.out, ':')
		undef, err := d.value(depth + 1)
		if err != nil {
			return err
		}
		if undef { // JSON.stringify leaves the key out
			d.out = d.out[:mark]
			continue
		}
		first = false
	}
	d.out = append(d.out, '}')
	return nil
}

func (d *msgpackToJSON) strBody(n uint64) error {
	b, ok := d.take(n)
	if !ok {
		return errMsgpack
	}
	d.out = appendJSONString(d.out, b)
	return nil
}

// binBody turns the next n bytes into an attachment and its placeholder.
func (d *msgpackToJSON) binBody(n uint64) error {
	b, ok := d.take(n)
	if !ok {
		return errMsgpack
	}
	if len(d.atts) >= d.maxAtts {
		return errTooManyAttach
	}
	d.out = append(d.out, `{"_placeholder":true,"num":`...)
	d.out = strconv.AppendInt(d.out, int64(len(d.atts)), 10)
	d.out = append(d.out, '}')
	d.atts = append(d.atts, bytes.Clone(b))
	return nil
}

// ext translates an ext 8, 16 or 32 of n bytes.
func (d *msgpackToJSON) ext(n uint64, depth int) error {
	t, ok := d.byte1()
	if !ok {
		return errMsgpack
	}
	if t == 0 { // notepack's ArrayBuffer
		return d.binBody(n)
	}
	return d.otherExt(int8(t), n, depth)
}

// fixext translates a fixext of n bytes.
func (d *msgpackToJSON) fixext(n uint64, depth int) (bool, error) {
	t, ok := d.byte1()
	if !ok {
		return false, errMsgpack
	}
	switch {
	case t == 0 && n == 1: // notepack's undefined
		_, ok := d.take(1)
		return true, boolErr(ok)
	case t == 0 && n == 8: // notepack's Date: milliseconds since the epoch
		v, ok := d.uintN(8)
		if !ok {
			return false, errMsgpack
		}
		d.out = appendJSDate(d.out, int64(v))
		return false, nil
	}
	return false, d.otherExt(int8(t), n, depth)
}

// otherExt writes an ext as notepack decodes one it does not know: the
// array [type, data].
func (d *msgpackToJSON) otherExt(t int8, n uint64, depth int) error {
	if depth >= MaxMsgpackDepth {
		return errMsgpackDepth
	}
	d.out = append(d.out, '[')
	d.out = strconv.AppendInt(d.out, int64(t), 10)
	d.out = append(d.out, ',')
	if err := d.binBody(n); err != nil {
		return err
	}
	d.out = append(d.out, ']')
	return nil
}

func boolErr(ok bool) error {
	if ok {
		return nil
	}
	return errMsgpack
}

// appendJSONFloat writes f as encoding/json does; NaN and the infinities,
// which JSON cannot hold, as null (JSON.stringify's choice).
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07, not 1e-7 in Go; JSON writers agree on the short form.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// maxJSDate is the largest time value, in milliseconds, a JavaScript Date
// holds.
const maxJSDate = 8.64e15

// appendJSDate writes the time ms milliseconds from the epoch as
// Date.prototype.toJSON does.
func appendJSDate(dst []byte, ms int64) []byte {
	if ms > maxJSDate || ms < -maxJSDate {
		return append(dst, "null"...)
	}
	t := time.UnixMilli(ms).UTC()
	dst = append(dst, '"')
	switch y := t.Year(); {
	case y >= 0 && y <= 9999:
		dst = appendDigits(dst, y, 4)
	case y < 0:
		dst = appendDigits(append(dst, '-'), -y, 6)
	default:
		dst = appendDigits(append(dst, '+'), y, 6)
	}
	dst = appendDigits(append(dst, '-'), int(t.Month()), 2)
	dst = appendDigits(append(dst, '-'), t.Day(), 2)
	dst = appendDigits(append(dst, 'T'), t.Hour(), 2)
	dst = appendDigits(append(dst, ':'), t.Minute(), 2)
	dst = appendDigits(append(dst, ':'), t.Second(), 2)
	dst = appendDigits(append(dst, '.'), t.Nanosecond()/1e6, 3)
	return append(dst, 'Z', '"')
}

func appendDigits(dst []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendJSONString writes s, UTF-8 with possibly invalid bytes, as a JSON
// string; each invalid byte becomes U+FFFD, as Node's Buffer.toString makes
// it.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError && r != '\u2028' && r != '\u2029' {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			switch r {
			case utf8.RuneError:
				dst = append(dst, "\ufffd"...) // for an invalid byte, or a real U+FFFD
			case '\u2028':
				dst = append(dst, `\u2028`...)
			case '\u2029':
				dst = append(dst, `\u2029`...)
			}
			i += size
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

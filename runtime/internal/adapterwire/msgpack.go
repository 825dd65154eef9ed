package adapterwire

import (
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// What a node reads from the broker was written by another node, or by
// whoever else can write there: msgpack whose declared lengths are not
// checked before the decoder allocates for them (a bin32 header claiming
// 1.5 GB, in a payload of a few bytes, made it allocate and clear that much)
// and whose nesting the decoder follows by recursion. Every adapter decodes
// through UnmarshalMsgpack, which checks first.

// MaxMsgpackDepth bounds the nesting of arrays and maps in what a node
// reads, as siopacket.MaxMsgpackDepth does for what a client sends.
const MaxMsgpackDepth = 1000

// ErrMsgpackMalformed reports msgpack that ends early, declares more than
// it holds, uses the unused type byte 0xc1, or nests too deeply.
var ErrMsgpackMalformed = errors.New("adapterwire: msgpack malformed, truncated or nested too deeply")

// UnmarshalMsgpack decodes the msgpack value at the start of b into v,
// after CheckMsgpack has found it sound.
//
// Sound msgpack can still panic the decoder: a map that repeats a key
// whose value decodes into an interface field (the second value is
// decoded into the map the first one left there, which reflect cannot
// address). A node that reads such bytes refuses them as malformed
// instead of going down.
func UnmarshalMsgpack(b []byte, v any) (err error) {
	if err := CheckMsgpack(b, MaxMsgpackDepth); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the decoder failed: %v", ErrMsgpackMalformed, r)
		}
	}()
	return msgpack.Unmarshal(b, v)
}

// CheckMsgpack walks the msgpack value at the start of b without decoding
// it, and fails if it ends early, if a length or count declares more than
// the bytes left (every value takes one byte at least), or if arrays and
// maps nest deeper than limit. It is iterative: pending counts the values
// still to read at each open level.
func CheckMsgpack(b []byte, limit int) error {
	pending := []int{1}
	for len(pending) > 0 {
		if pending[len(pending)-1] == 0 {
			pending = pending[:len(pending)-1]
			continue
		}
		pending[len(pending)-1]--
		if len(b) == 0 {
			return ErrMsgpackMalformed
		}
		c := b[0]
		b = b[1:]
		skip, children := 0, 0
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			children = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			children = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c == 0xce || c == 0xd2 || c == 0xca:
			skip = 4
		case c == 0xcf || c == 0xd3 || c == 0xcb:
			skip = 8
		case c == 0xd4:
			skip = 2
		case c == 0xd5:
			skip = 3
		case c == 0xd6:
			skip = 5
		case c == 0xd7:
			skip = 9
		case c == 0xd8:
			skip = 17
		case c == 0xc4, c == 0xc5, c == 0xc6, c == 0xc7, c == 0xc8, c == 0xc9, c == 0xd9, c == 0xda, c == 0xdb:
			w, ext := lengthOf(c)
			if len(b) < w {
				return ErrMsgpackMalformed
			}
			skip = readLen(b[:w]) + ext
			b = b[w:]
		case c == 0xdc || c == 0xde:
			if len(b) < 2 {
				return ErrMsgpackMalformed
			}
			children = readLen(b[:2])
			b = b[2:]
			if c == 0xde {
				children *= 2
			}
		case c == 0xdd || c == 0xdf:
			if len(b) < 4 {
				return ErrMsgpackMalformed
			}
			children = readLen(b[:4])
			b = b[4:]
			if c == 0xdf {
				children *= 2
			}
		default: // 0xc1, never used
			return ErrMsgpackMalformed
		}
		if skip > len(b) {
			return ErrMsgpackMalformed
		}
		b = b[skip:]
		if children > len(b) {
			return ErrMsgpackMalformed // each value takes a byte at least
		}
		if children > 0 {
			if len(pending) >= limit {
				return ErrMsgpackMalformed
			}
			pending = append(pending, children)
		}
	}
	return nil
}

// lengthOf returns, for a str, bin or ext header byte, the width of its
// length and how many bytes follow the length besides the data (an
// ext's type).
func lengthOf(c byte) (width, extra int) {
	switch c {
	case 0xc4, 0xd9:
		return 1, 0
	case 0xc5, 0xda:
		return 2, 0
	case 0xc6, 0xdb:
		return 4, 0
	case 0xc7:
		return 1, 1
	case 0xc8:
		return 2, 1
	}
	return 4, 1 // 0xc9
}

// readLen reads a big-endian length of 1, 2 or 4 bytes.
func readLen(b []byte) int {
	n := 0
	for _, x := range b {
		n = n<<8 | int(x)
	}
	return n
}

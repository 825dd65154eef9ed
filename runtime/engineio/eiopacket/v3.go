package eiopacket

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Protocol revision 3 (the revision Socket.IO 2 clients speak) differs from
// revision 4 in how binary travels and how polling payloads are framed:
//
//   - A binary message over WebSocket is a binary frame whose first byte is
//     the packet type as a number (4), followed by the data.
//   - A binary message in text form is "b", the type character and standard
//     base64 ("b4AQI=").
//   - A text polling payload is a sequence of records each preceded by its
//     length and a colon ("6:4hello2:40"), the length counted in UTF-16 code
//     units, as JavaScript counts a string's length.
//   - A client that can take binary gets payloads holding binary messages in
//     binary form: per record a 0 (text) or 1 (binary) byte, the length as one
//     byte per decimal digit, 0xFF, then the record (a text record as UTF-8,
//     a binary one as type byte and data).

// ErrBadPayloadV3 is returned for a revision 3 polling payload whose framing
// (lengths, separators, record kinds) is broken.
var ErrBadPayloadV3 = errors.New("eiopacket: malformed revision 3 payload")

// maxLengthDigitsV3 bounds the decimal digits of one record's length: ten
// allow any length a request body can have, and stop a hostile payload
// from announcing lengths past int's range.
const maxLengthDigitsV3 = 10

// binaryFlagV3 and textFlagV3 open each record of a binary payload.
const (
	textFlagV3   = 0
	binaryFlagV3 = 1
	lengthEndV3  = 0xFF
)

// AppendBinaryFrameV3 appends the revision 3 WebSocket form of a binary
// message: the type byte, then the data.
func AppendBinaryFrameV3(dst, data []byte) []byte {
	dst = append(dst, byte(Message-'0'))
	return append(dst, data...)
}

// DecodeBinaryFrameV3 decodes a revision 3 WebSocket binary frame: a type
// byte, then the data, which aliases frame. Only messages carry binary.
func DecodeBinaryFrameV3(frame []byte) (Packet, error) {
	if len(frame) == 0 {
		return Packet{}, ErrEmpty
	}
	if frame[0] != byte(Message-'0') {
		return Packet{}, ErrUnknownType
	}
	return Packet{Type: Message, Data: frame[1:], Binary: true}, nil
}

// AppendBase64RecordV3 appends the revision 3 text form of a binary
// message: "b4" and base64.
func AppendBase64RecordV3(dst, data []byte) []byte {
	dst = append(dst, binaryMarker, byte(Message))
	return base64.StdEncoding.AppendEncode(dst, data)
}

// DecodeTextV3 decodes a revision 3 WebSocket text frame: a text packet as
// in revision 4, or a base64 binary message ("b4...").
func DecodeTextV3(b []byte) (Packet, error) {
	if !utf8.Valid(b) {
		return Packet{}, ErrInvalidUTF8
	}
	return decodeRecordV3(b)
}

// decodeRecordV3 decodes one revision 3 text record known to be UTF-8.
func decodeRecordV3(record []byte) (Packet, error) {
	if len(record) == 0 || record[0] != binaryMarker {
		return decodeValidText(record)
	}
	if len(record) < 2 || Type(record[1]) != Message {
		return Packet{}, ErrUnknownType
	}
	data, err := base64.StdEncoding.AppendDecode([]byte{}, record[2:])
	if err != nil {
		return Packet{}, ErrBadBase64
	}
	return Packet{Type: Message, Data: data, Binary: true}, nil
}

// AppendPayloadV3 appends the revision 3 polling form of packets to dst.
// With binary set (the client did not ask for base64) and a binary message
// among packets, the payload is in binary form, and isBinary reports it;
// otherwise it is text, binary messages in base64.
func AppendPayloadV3(dst []byte, packets []Packet, binary bool) (payload []byte, isBinary bool) {
	if binary && hasBinary(packets) {
		for _, p := range packets {
			dst = appendBinaryRecordV3(dst, p)
		}
		return dst, true
	}
	if len(packets) == 0 {
		return append(dst, "0:"...), false
	}
	for _, p := range packets {
		start := len(dst)
		if p.Binary {
			dst = AppendBase64RecordV3(dst, p.Data)
		} else {
			dst = AppendText(dst, p)
		}
		// The length goes before the record: encode the record, then
		// move it up by the length's width (records are short, or rare
		// enough in this revision that the copy does not matter).
		n := strconv.AppendInt(nil, int64(utf16Len(dst[start:])), 10)
		n = append(n, ':')
		dst = append(dst, n...)
		copy(dst[start+len(n):], dst[start:len(dst)-len(n)])
		copy(dst[start:], n)
	}
	return dst, false
}

func hasBinary(packets []Packet) bool {
	for _, p := range packets {
		if p.Binary {
			return true
		}
	}
	return false
}

// appendBinaryRecordV3 appends one record of a binary payload.
func appendBinaryRecordV3(dst []byte, p Packet) []byte {
	flag, n := byte(textFlagV3), 1+len(p.Data)
	if p.Binary {
		flag = binaryFlagV3
	}
	dst = append(dst, flag)
	for _, d := range strconv.Itoa(n) {
		dst = append(dst, byte(d-'0'))
	}
	dst = append(dst, lengthEndV3)
	if p.Binary {
		return AppendBinaryFrameV3(dst, p.Data)
	}
	return AppendText(dst, p)
}

// utf16Len is the length JavaScript gives the string s: one per code
// point, two for those outside the Basic Multilingual Plane.
func utf16Len(s []byte) int {
	n := 0
	for _, r := range string(s) {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// DecodePayloadV3 splits a revision 3 polling payload into packets and
// calls fn for each, in order, stopping at the first error. binary says the
// body came as application/octet-stream, which is the binary form. Data of
// text packets aliases payload. Text must be valid UTF-8, as in revision 4.
func DecodePayloadV3(payload []byte, binary bool, fn func(Packet) error) error {
	if binary {
		return decodeBinaryPayloadV3(payload, fn)
	}
	if !utf8.Valid(payload) {
		return ErrInvalidUTF8
	}
	if len(payload) == 0 {
		return ErrEmpty
	}
	for len(payload) > 0 {
		colon := 0
		for colon < len(payload) && payload[colon] != ':' {
			if !isDigit(payload[colon]) || colon == maxLengthDigitsV3 {
				return ErrBadPayloadV3
			}
			colon++
		}
		if colon == 0 || colon == len(payload) {
			return ErrBadPayloadV3
		}
		units, _ := strconv.Atoi(string(payload[:colon]))
		rest := payload[colon+1:]
		end, ok := utf16Prefix(rest, units)
		if !ok {
			return ErrBadPayloadV3
		}
		if end > 0 {
			p, err := decodeRecordV3(rest[:end])
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		payload = rest[end:]
	}
	return nil
}

// utf16Prefix returns the byte length of the first units UTF-16 code units
// of the UTF-8 text s, and false if s is shorter or the count ends inside
// a surrogate pair.
func utf16Prefix(s []byte, units int) (int, bool) {
	i := 0
	for units > 0 {
		if i == len(s) {
			return 0, false
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		units--
		if r >= 0x10000 {
			if units == 0 {
				return 0, false
			}
			units--
		}
	}
	return i, true
}

// decodeBinaryPayloadV3 decodes the binary form of a payload.
func decodeBinaryPayloadV3(payload []byte, fn func(Packet) error) error {
	if len(payload) == 0 {
		return ErrEmpty
	}
	for len(payload) > 0 {
		flag := payload[0]
		if flag != textFlagV3 && flag != binaryFlagV3 {
			return ErrBadPayloadV3
		}
		n, i := 0, 1
		for ; i < len(payload) && payload[i] != lengthEndV3; i++ {
			if payload[i] > 9 || i > maxLengthDigitsV3 {
				return ErrBadPayloadV3
			}
			n = n*10 + int(payload[i])
		}
		if i == 1 || i == len(payload) || n > len(payload)-i-1 {
			return ErrBadPayloadV3
		}
		record := payload[i+1 : i+1+n]
		payload = payload[i+1+n:]
		var p Packet
		var err error
		if flag == binaryFlagV3 {
			p, err = DecodeBinaryFrameV3(record)
		} else {
			p, err = DecodeTextV3(record)
		}
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

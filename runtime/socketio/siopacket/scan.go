package siopacket

import (
	"encoding/json"
	"strconv"
)

// This file walks JSON that is already known to be valid without decoding
// it: finding binary placeholders and splitting argument arrays are on the
// path of every packet, and decoding into interfaces costs allocations and
// most of the time of a small binary event.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at data[i]
// (a '"'), and whether it contains escapes.
func skipString(data []byte, i int) (end int, escaped bool) {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return len(data), escaped
}

// skipValue returns the index just past the value starting at data[i].
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		end, _ := skipString(data, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i, _ = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// scanPlaceholders is checkPlaceholders without decoding. ok is false if it
// met something it leaves to the decoder: escaped or repeated keys in an
// object that might be a placeholder, or more than 64 attachments.
func scanPlaceholders(data []byte, attachments int) (err error, ok bool) {
	if attachments > 64 {
		return nil, false
	}
	var seen uint64
	count := 0
	for i := 0; i < len(data); {
		switch data[i] {
		case '"':
			i, _ = skipString(data, i)
			continue
		case '{':
			num, end, kind := matchPlaceholder(data, i)
			switch kind {
			case unsure:
				return nil, false
			case badPlaceholder:
				return errPlaceholder, true
			case placeholder:
				if num < 0 || num >= attachments || seen&(1<<num) != 0 {
					return errPlaceholder, true
				}
				seen |= 1 << num
				count++
				i = end
				continue
			}
		}
		i++
	}
	if count != attachments {
		return errAttachments, true
	}
	return nil, true
}

type placeholderKind int

const (
	notPlaceholder placeholderKind = iota
	placeholder
	badPlaceholder // shaped as one, with a num that is not an index
	unsure
)

// matchPlaceholder looks at the object starting at data[i]. Like the
// decoder-based check, an object is a placeholder if it has exactly two
// keys and "_placeholder" is true; then "num" must be an integer.
func matchPlaceholder(data []byte, i int) (num, end int, kind placeholderKind) {
	var keys int
	var isTrue, sawFlag, sawNum bool
	var numText []byte
	j := skipSpace(data, i+1)
	for j < len(data) && data[j] != '}' {
		keyEnd, escaped := skipString(data, j)
		if escaped {
			return 0, 0, unsure
		}
		key := data[j+1 : keyEnd-1]
		j = skipSpace(data, keyEnd)
		j = skipSpace(data, j+1) // past ':'
		valEnd := skipValue(data, j)
		switch string(key) { // compared, not allocated
		case "_placeholder":
			if sawFlag {
				return 0, 0, unsure
			}
			sawFlag, isTrue = true, string(data[j:valEnd]) == "true"
		case "num":
			if sawNum {
				return 0, 0, unsure
			}
			sawNum, numText = true, data[j:valEnd]
		}
		keys++
		j = skipSpace(data, valEnd)
		if j < len(data) && data[j] == ',' {
			j = skipSpace(data, j+1)
		}
	}
	if !isTrue {
		return 0, 0, notPlaceholder
	}
	if keys != 2 {
		// Repeated keys would count once when decoded.
		return 0, 0, unsure
	}
	n, err := strconv.Atoi(string(numText))
	if !sawNum || err != nil {
		return 0, 0, badPlaceholder
	}
	return n, j + 1, placeholder
}

// splitArray returns the elements of the JSON array data, which must be
// valid JSON, without decoding them. Like decoding, it takes null for no
// elements.
func splitArray(data []byte) ([]json.RawMessage, bool) {
	i := skipSpace(data, 0)
	if i < len(data) && data[i] == 'n' {
		return nil, true
	}
	if i >= len(data) || data[i] != '[' {
		return nil, false
	}
	i = skipSpace(data, i+1)
	var elems []json.RawMessage
	for i < len(data) && data[i] != ']' {
		end := skipValue(data, i)
		if end == i {
			return nil, false // not an element: only malformed input gets here
		}
		elems = append(elems, data[i:end:end])
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return elems, true
}

// plainString returns the text of a JSON string without escapes.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c == '"' {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

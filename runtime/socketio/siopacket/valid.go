package siopacket

import "encoding/json"

// validJSON reports whether data is one valid JSON value, answering as
// encoding/json.Valid does (FuzzValidJSON holds it to that) in a single
// pass without the general scanner's per-byte state calls: every incoming
// packet's payload is checked, and the check was the largest single cost
// of parsing a small event.
func validJSON(data []byte) bool {
	var stack uint64 // one bit per open container, 1 for an object
	depth := 0
	i := 0
	for {
		// A value starts at i, after optional space.
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch c := data[i]; {
		case c == '{' || c == '[':
			if depth == maxScanDepth {
				return json.Valid(data) // rare; the library knows its own depth limit
			}
			depth++
			stack <<= 1
			i = skipSpace(data, i+1)
			if c == '{' {
				stack |= 1
				if i < len(data) && data[i] == '}' {
					i++
					depth--
					stack >>= 1
					break
				}
				if i = validKey(data, i); i < 0 {
					return false
				}
				continue
			}
			if i < len(data) && data[i] == ']' {
				i++
				depth--
				stack >>= 1
				break
			}
			continue
		case c == '"':
			if i = validString(data, i); i < 0 {
				return false
			}
		case c == '-' || isDigit(c):
			if i = validNumber(data, i); i < 0 {
				return false
			}
		case c == 't':
			if i = validLiteral(data, i, "true"); i < 0 {
				return false
			}
		case c == 'f':
			if i = validLiteral(data, i, "false"); i < 0 {
				return false
			}
		case c == 'n':
			if i = validLiteral(data, i, "null"); i < 0 {
				return false
			}
		default:
			return false
		}
		// A value ended at i: close containers, or go on to the next element.
		for {
			i = skipSpace(data, i)
			if depth == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			inObject := stack&1 == 1
			c := data[i]
			if c == ',' {
				i++
				if inObject {
					if i = validKey(data, skipSpace(data, i)); i < 0 {
						return false
					}
				}
				break
			}
			if inObject && c == '}' || !inObject && c == ']' {
				i++
				depth--
				stack >>= 1
				continue
			}
			return false
		}
	}
}

// maxScanDepth is the nesting validJSON tracks itself, one bit per level.
const maxScanDepth = 64

// validKey checks an object key and its colon at data[i:], returning the
// index after the colon, or -1.
func validKey(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	if i = validString(data, i); i < 0 {
		return -1
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return -1
	}
	return i + 1
}

// validString checks the string starting at data[i] (a '"') and returns
// the index just past it, or -1. Like encoding/json, it accepts any byte
// from 0x20 up, without checking UTF-8.
func validString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// validNumber checks the number starting at data[i] and returns the index
// just past it, or -1.
func validNumber(data []byte, i int) int {
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		i = skipDigits(data, i+1)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		if i++; i >= len(data) || !isDigit(data[i]) {
			return -1
		}
		i = skipDigits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return -1
		}
		i = skipDigits(data, i)
	}
	return i
}

func validLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

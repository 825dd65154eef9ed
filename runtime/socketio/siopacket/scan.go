package siopacket

import (
	"encoding/json"
	"slices"
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
//
// It reads data once, keeping the state of each open object on a stack and
// judging an object when it closes, so that its cost is linear however
// deeply objects nest: judging each object by looking ahead through it made
// a deep 1 MB payload cost seconds.
func scanPlaceholders(data []byte, attachments int) (err error, ok bool) {
	if attachments > 64 {
		return nil, false
	}
	var seen uint64
	count := 0
	var stackSpace [16]container
	stack := stackSpace[:0]
	// value records a value that ended at end (started at start) in the
	// innermost open container.
	value := func(start, end int) {
		if len(stack) > 0 {
			stack[len(stack)-1].value(data[start:end])
		}
	}
	for i := 0; i < len(data); {
		switch data[i] {
		case '"':
			end, escaped := skipString(data, i)
			if top := len(stack) - 1; top >= 0 && stack[top].wantKey {
				if escaped {
					return nil, false
				}
				if !stack[top].key(data[i+1 : end-1]) {
					return nil, false // a repeated key counts once when decoded
				}
			} else {
				value(i, end)
			}
			i = end
		case '{', '[':
			stack = append(stack, container{object: data[i] == '{', wantKey: data[i] == '{', start: i})
			i++
		case '}', ']':
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if c.object {
				num, kind := c.judge()
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
				}
			}
			value(c.start, i+1)
			i++
		case ',':
			if top := len(stack) - 1; top >= 0 && stack[top].object {
				stack[top].wantKey = true
			}
			i++
		case ' ', '\t', '\n', '\r', ':':
			i++
		default: // a number, true, false or null
			end := skipValue(data, i)
			value(i, end)
			i = end
		}
	}
	if count != attachments {
		return errAttachments, true
	}
	return nil, true
}

// container is an array or object open while scanning for placeholders;
// for an object, what it holds so far that decides whether it is one.
type container struct {
	object  bool
	wantKey bool // an object expects a key next
	start   int  // where it opened

	keys    int
	role    keyRole // of the value being read
	sawFlag bool
	isTrue  bool // "_placeholder" is true
	sawNum  bool
	num     []byte // the text of "num"
}

type keyRole int

const (
	otherKey keyRole = iota
	flagKey          // "_placeholder"
	numKey           // "num"
)

// key records a key of the object, reporting false for a repeated
// "_placeholder" or "num".
func (c *container) key(k []byte) bool {
	c.wantKey = false
	c.keys++
	switch string(k) { // compared, not allocated
	case "_placeholder":
		if c.sawFlag {
			return false
		}
		c.sawFlag, c.role = true, flagKey
	case "num":
		if c.sawNum {
			return false
		}
		c.sawNum, c.role = true, numKey
	default:
		c.role = otherKey
	}
	return true
}

// value records the text of the value of the last key.
func (c *container) value(v []byte) {
	if !c.object {
		return
	}
	switch c.role {
	case flagKey:
		c.isTrue = string(v) == "true"
	case numKey:
		c.num = v
	}
}

// judge says whether the closed object is a placeholder. Like the
// decoder-based check, an object is one if it has exactly two keys and
// "_placeholder" is true; then "num" must be an integer.
func (c *container) judge() (num int, kind placeholderKind) {
	if !c.isTrue {
		return 0, notPlaceholder
	}
	if c.keys != 2 {
		return 0, unsure // repeated keys would count once when decoded
	}
	n, err := strconv.Atoi(string(c.num))
	if !c.sawNum || err != nil {
		return 0, badPlaceholder
	}
	return n, placeholder
}

type placeholderKind int

const (
	notPlaceholder placeholderKind = iota
	placeholder
	badPlaceholder // shaped as one, with a num that is not an index
	unsure
)

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
	// Gathered on the stack and copied out once: one allocation of the
	// exact size, where growing the slice took two for an event's usual
	// name and argument.
	var gathered [8]json.RawMessage
	elems := gathered[:0]
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
	if len(elems) == 0 {
		return nil, true
	}
	return slices.Clone(elems), true
}

// plainString returns the text of a JSON string without escapes.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || !plainText(v[1:len(v)-1]) {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// plainText reports whether s, quoted, is a JSON string meaning s: no
// escapes or quotes inside.
func plainText[T string | []byte](s T) bool {
	for i := range len(s) {
		if c := s[i]; c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

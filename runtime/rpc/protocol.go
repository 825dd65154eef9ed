package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/runtime/protoimpl"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// SupportsGeneratedCodeV1 is referenced by generated code; a runtime that
// drops it makes old generated code fail to compile rather than misbehave.
const SupportsGeneratedCodeV1 = true

// SupportsGeneratedCodeV2 is referenced by generated code with per-call
// streams (wire version 2).
const SupportsGeneratedCodeV2 = true

// Events of the stream protocol (see PROTOCOL.md).
const (
	// StreamMessageEvent carries (key, message bytes) to subscribers.
	StreamMessageEvent = "sio:stream"
	// StreamEndEvent carries (key, status or null): the stream is over.
	StreamEndEvent = "sio:stream:end"
	// StreamCancelEvent carries (key) from a client leaving a stream.
	StreamCancelEvent = "sio:stream:cancel"
)

// callMeta is the optional second argument of a call, decoded.
type callMeta struct {
	// timeout is the caller's remaining time, if hasTimeout: the handler's
	// context ends when it runs out. Zero means it already has.
	timeout    time.Duration
	hasTimeout bool
	// headers are per-call metadata.
	headers map[string]string
	// id is the caller's name for the call, for a later cancel; "" if it
	// gave none.
	id string
	// window is, for a per-call stream, the bytes the caller will take.
	window int64
}

// wireMeta is callMeta as it travels. timeoutMs is any JSON number: a
// browser's clock arithmetic may leave a fraction.
type wireMeta struct {
	TimeoutMs *float64          `json:"timeoutMs"`
	Headers   map[string]string `json:"headers"`
	ID        string            `json:"id"`
	Window    int64             `json:"window"`
}

// maxTimeoutMs is the largest timeout a time.Duration holds; longer ones
// mean no deadline.
const maxTimeoutMs = float64(math.MaxInt64 / int64(time.Millisecond))

// subscribeReply is the ack of a successful subscription.
type subscribeReply struct {
	Stream string `json:"stream"`
}

// StreamKey returns the key, and room name, of a method's stream for a
// room: the method's event, "#", the room.
func StreamKey(event, room string) string { return event + "#" + room }

// parseMeta decodes call metadata, with a fast path for what the
// generated clients send most: {"timeoutMs":N,"id":"K"}, {"timeoutMs":N}
// and {}.
func parseMeta(raw []byte) (callMeta, error) {
	var m callMeta
	if string(raw) == "{}" {
		return m, nil
	}
	if rest, ok := bytes.CutPrefix(raw, []byte(`{"timeoutMs":`)); ok {
		if body, ok := bytes.CutSuffix(rest, []byte("}")); ok {
			// The timeout's digits, then the id if any. (Scanned by hand:
			// bytes.Cut, which searches, was a third of the time the
			// server spends on a call before handing it to a worker.)
			n := 0
			for n < len(body) && body[n] >= '0' && body[n] <= '9' {
				n++
			}
			digits, id := body[:n], body[n:]
			hasID := len(id) > 0
			plain := true
			if hasID {
				id, plain = bytes.CutPrefix(id, []byte(`,"id":"`))
				if plain {
					id, plain = bytes.CutSuffix(id, []byte(`"`))
				}
				plain = plain && isPlainID(id)
			}
			if n, ok := parseDigits(digits); ok && plain {
				m.setTimeout(float64(n))
				if hasID {
					m.id = string(id)
				}
				return m, nil
			}
		}
	}
	var w wireMeta
	if err := json.Unmarshal(raw, &w); err != nil {
		return m, err
	}
	if w.TimeoutMs != nil {
		m.setTimeout(*w.TimeoutMs)
	}
	m.headers = w.Headers
	m.id = w.ID
	m.window = w.Window
	return m, nil
}

// parseDigits reads a non-negative decimal of at most 18 digits (which
// fits an int64), without the allocation strconv.ParseInt(string(b))
// makes: its argument escapes into its error.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isPlainID reports whether id is a non-empty run of ASCII letters and
// digits: one that needs no JSON unescaping. Others take the slow path.
func isPlainID(id []byte) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// setTimeout records a caller's remaining time in milliseconds. None left
// (zero or less) gives the handler a context that has already ended, as
// in gRPC; more than a time.Duration holds is no deadline at all.
func (m *callMeta) setTimeout(ms float64) {
	switch {
	case ms >= maxTimeoutMs:
		return
	case ms <= 0:
		m.timeout = 0
	default:
		// Round up, so that a sub-millisecond remainder still runs.
		m.timeout = time.Duration(math.Ceil(ms * float64(time.Millisecond)))
	}
	m.hasTimeout = true
}

// requestArgs decodes a call's arguments: the request bytes (none for
// client and bidirectional streams, whose messages follow) and the
// metadata, which a per-call stream must have with its id and window.
func requestArgs(args siopacket.Args, kind methodKind) ([]byte, callMeta, error) {
	var meta callMeta
	b, ok := args.Bytes(0)
	if !ok && (kind != kindClientStream && kind != kindBidiStream) {
		return nil, meta, Errorf(CodeInvalidArgument, "the request must be a binary attachment (argument 0)")
	}
	if args.Len() > 1 {
		m, err := parseMeta(args.Raw(1))
		if err != nil {
			return nil, meta, Errorf(CodeInvalidArgument, "bad call metadata: %v", err)
		}
		meta = m
	}
	if kind.perCall() && (meta.id == "" || meta.window <= 0) {
		return nil, meta, Errorf(CodeUnimplemented, "this is a %s method: it needs a client of wire version 2 (metadata with id and window)", kind)
	}
	return b, meta, nil
}

// decodeReply turns an ack into a response message or an *Error.
func decodeReply[Res proto.Message](args siopacket.Args) (Res, error) {
	var zero Res
	if b, ok := args.Bytes(0); ok {
		res := newMessage[Res]()
		if err := proto.Unmarshal(b, res); err != nil {
			return zero, NewError(CodeInternal, err)
		}
		return res, nil
	}
	return zero, decodeStatus(args)
}

// decodeStatus reads an error status from an ack's first argument.
func decodeStatus(args siopacket.Args) error {
	var w wireStatus
	if err := args.Decode(0, &w); err != nil || w.Code == "" {
		return Errorf(CodeInternal, "malformed reply: %s", args)
	}
	return errorOf(w)
}

// callError maps a transport failure of a call to a status.
func callError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		return NewError(CodeCanceled, err)
	case ctx.Err() != nil:
		return NewError(CodeDeadlineExceeded, err)
	}
	return NewError(CodeUnavailable, err)
}

// newMessage returns a new empty message of type M (a pointer type).
func newMessage[M proto.Message]() M {
	if elem, ok := generatedStruct[M](); ok {
		return reflect.New(elem).Interface().(M)
	}
	var zero M
	return zero.ProtoReflect().New().Interface().(M)
}

// messageMaker returns what makes new empty messages of type M, for a
// handler to call on each request: newMessage, less the check.
func messageMaker[M proto.Message]() func() M {
	if elem, ok := generatedStruct[M](); ok {
		return func() M { return reflect.New(elem).Interface().(M) }
	}
	return newMessage[M]
}

// generatedStruct returns the struct of M if M is a message generated by
// protoc-gen-go (its type a protoimpl.MessageInfo): its
// ProtoReflect().New() is then reflect.New of that struct, which
// newMessage calls instead, as the way through ProtoReflect took twice
// as long.
func generatedStruct[M proto.Message]() (reflect.Type, bool) {
	var zero M
	t := reflect.TypeFor[M]()
	if mi, ok := zero.ProtoReflect().Type().(*protoimpl.MessageInfo); ok && mi.GoReflectType == t && t.Kind() == reflect.Pointer {
		return t.Elem(), true
	}
	return nil, false
}

func marshalArg(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, NewError(CodeInternal, err)
	}
	if b == nil {
		b = []byte{} // an empty message is still a binary attachment
	}
	return b, nil
}

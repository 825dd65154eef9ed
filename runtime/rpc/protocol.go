package rpc

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/socketio/siopacket"
)

// SupportsGeneratedCodeV1 is referenced by generated code; a runtime that
// drops it makes old generated code fail to compile rather than misbehave.
const SupportsGeneratedCodeV1 = true

// Events of the stream protocol (see PROTOCOL.md).
const (
	// StreamMessageEvent carries (key, message bytes) to subscribers.
	StreamMessageEvent = "sio:stream"
	// StreamEndEvent carries (key, status or null): the stream is over.
	StreamEndEvent = "sio:stream:end"
	// StreamCancelEvent carries (key) from a client leaving a stream.
	StreamCancelEvent = "sio:stream:cancel"
)

// callMeta is the optional second argument of a call.
type callMeta struct {
	// TimeoutMs is the caller's remaining time; the handler's context ends
	// when it runs out.
	TimeoutMs int64 `json:"timeoutMs,omitempty"`
	// Headers are per-call metadata.
	Headers map[string]string `json:"headers,omitempty"`
}

// subscribeReply is the ack of a successful subscription.
type subscribeReply struct {
	Stream string `json:"stream"`
}

// StreamKey returns the key, and room name, of a method's stream for a
// room: the method's event, "#", the room.
func StreamKey(event, room string) string { return event + "#" + room }

// metaFor builds the call metadata from ctx's deadline and headers.
func metaFor(ctx context.Context) callMeta {
	m := callMeta{Headers: outgoingHeaders(ctx)}
	if d, ok := ctx.Deadline(); ok {
		m.TimeoutMs = max(1, time.Until(d).Milliseconds())
	}
	return m
}

// requestArgs decodes a call's arguments: the request bytes and the
// optional metadata.
func requestArgs(args siopacket.Args) ([]byte, callMeta, error) {
	var meta callMeta
	b, ok := args.Bytes(0)
	if !ok {
		return nil, meta, Errorf(CodeInvalidArgument, "the request must be a binary attachment (argument 0)")
	}
	if args.Len() > 1 {
		if err := args.Decode(1, &meta); err != nil {
			return nil, meta, Errorf(CodeInvalidArgument, "bad call metadata: %v", err)
		}
	}
	return b, meta, nil
}

// decodeReply turns an ack into a response message or an *Error.
func decodeReply[Res proto.Message](args siopacket.Args) (Res, error) {
	var zero Res
	if b, ok := args.Bytes(0); ok {
		res := zero.ProtoReflect().New().Interface().(Res)
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
	var zero M
	return zero.ProtoReflect().New().Interface().(M)
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

package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// Idempotency is a method's protobuf idempotency_level, which says whether
// a client may send it again after a lost connection. Generated clients
// pass it to CallUnary as a CallOption.
type Idempotency int

// Idempotency levels, as in google.protobuf.MethodOptions.
const (
	// IdempotencyUnknown: the method may have side effects; a call whose
	// outcome is unknown is never sent again.
	IdempotencyUnknown Idempotency = iota
	// IdempotencyNoSideEffects: the method changes nothing.
	IdempotencyNoSideEffects
	// IdempotencyIdempotent: calling it twice is the same as once.
	IdempotencyIdempotent
)

// String returns the level's protobuf name.
func (i Idempotency) String() string {
	switch i {
	case IdempotencyNoSideEffects:
		return "NO_SIDE_EFFECTS"
	case IdempotencyIdempotent:
		return "IDEMPOTENT"
	}
	return "IDEMPOTENCY_UNKNOWN"
}

func (i Idempotency) applyCall(c callConfig) callConfig {
	c.idempotency = i
	return c
}

// CallOption describes a method to CallUnary and Subscribe; generated
// clients pass them.
type CallOption interface {
	// applyCall returns c with the option applied; by value, so that a
	// call's configuration stays on its stack.
	applyCall(c callConfig) callConfig
}

type callConfig struct {
	idempotency Idempotency
}

func newCallConfig(opts []CallOption) callConfig {
	var c callConfig
	for _, o := range opts {
		c = o.applyCall(c)
	}
	return c
}

// maxAttempts bounds how often a method without side effects is sent
// after lost connections, besides its deadline.
const maxAttempts = 5

// ClientCallInfo describes the call a client interceptor sees.
type ClientCallInfo struct {
	// Event is the method's event name.
	Event string
	// Idempotency is the method's idempotency level.
	Idempotency Idempotency
}

type clientCallKey struct{}

// ClientCallInfoFromContext returns the call a client interceptor's
// context belongs to.
func ClientCallInfoFromContext(ctx context.Context) (ClientCallInfo, bool) {
	ci, ok := ctx.Value(clientCallKey{}).(ClientCallInfo)
	return ci, ok
}

// OutgoingHeaders returns the headers that calls made with ctx carry (set
// with WithHeaders). Do not modify the map: use WithHeaders.
func OutgoingHeaders(ctx context.Context) map[string]string { return outgoingHeaders(ctx) }

type waitForReadyKey struct{}

// WithWaitForReady returns a context whose calls, made while the socket
// is not connected, wait for the connection within their deadline instead
// of failing at once with CodeUnavailable. A namespace that refuses the
// socket still fails them at once.
func WithWaitForReady(ctx context.Context) context.Context {
	return context.WithValue(ctx, waitForReadyKey{}, true)
}

func waitsForReady(ctx context.Context) bool {
	b, _ := ctx.Value(waitForReadyKey{}).(bool)
	return b
}

// CallUnary calls a unary method and waits for the answer until ctx's
// deadline (the ClientConn's default if it has none). The deadline travels
// with the call, so the server's handler stops at the same moment; a
// caller that gives up (deadline or cancel) tells the server, and gets
// CodeDeadlineExceeded or CodeCanceled. See ClientConn for what happens
// when the socket is not connected or the connection drops.
func CallUnary[Res proto.Message](ctx context.Context, c *ClientConn, event string, req proto.Message, opts ...CallOption) (Res, error) {
	cfg := newCallConfig(opts)
	ctx, cancel := c.withDeadline(ctx)
	if cancel != nil {
		defer cancel()
	}
	if len(c.unary) == 0 {
		return invokeUnary[Res](ctx, c, event, req, cfg)
	}
	call := UnaryFunc(func(ctx context.Context, req proto.Message) (proto.Message, error) {
		return invokeUnary[Res](ctx, c, event, req, cfg)
	})
	for i := len(c.unary) - 1; i >= 0; i-- {
		call = c.unary[i](call)
	}
	ctx = context.WithValue(ctx, clientCallKey{}, ClientCallInfo{Event: event, Idempotency: cfg.idempotency})
	res, err := call(ctx, req)
	var zero Res
	if err != nil {
		return zero, err
	}
	typed, ok := res.(Res)
	if !ok {
		return zero, Errorf(CodeInternal, "a client interceptor returned %T for %s", res, event)
	}
	return typed, nil
}

func invokeUnary[Res proto.Message](ctx context.Context, c *ClientConn, event string, req proto.Message, cfg callConfig) (Res, error) {
	var zero Res
	b, err := marshalArg(req)
	if err != nil {
		return zero, err
	}
	args, err := c.roundTrip(ctx, event, b, cfg)
	if err != nil {
		return zero, err
	}
	return decodeReply[Res](args)
}

// roundTrip sends a call's request on the live connection and waits for
// its ack, following the rules told on ClientConn.
func (c *ClientConn) roundTrip(ctx context.Context, event string, body []byte, cfg callConfig) (sioclient.Args, error) {
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return sioclient.Args{}, gaveUp(ctx, "before "+event+" was sent")
		}
		id := callIDs.Add(1)
		args, err := c.s.TryEmitWithAck(ctx, event, body, appendMeta(ctx, id))
		switch {
		case err == nil:
			return args, nil
		case errors.Is(err, sioclient.ErrNotConnected):
			// Nothing was sent.
			if !waitsForReady(ctx) {
				return sioclient.Args{}, c.notConnected()
			}
			if err := c.waitReady(ctx, "while waiting for the connection to namespace "+c.s.Namespace()); err != nil {
				return sioclient.Args{}, err
			}
		case errors.Is(err, sioclient.ErrTooLarge):
			return sioclient.Args{}, NewError(CodeResourceExhausted, err)
		case errors.Is(err, sioclient.ErrDisconnected):
			if cfg.idempotency == IdempotencyUnknown || attempt >= maxAttempts {
				return sioclient.Args{}, Errorf(CodeUnavailable, "the connection was lost while %s was in flight: its outcome is unknown", event)
			}
			// No side effects: send it again once reconnected.
			if err := c.waitReady(ctx, "waiting to send "+event+" again after the connection was lost (its first attempt's outcome is unknown)"); err != nil {
				return sioclient.Args{}, err
			}
		case ctx.Err() != nil:
			// The request was sent: tell the server the caller gave up.
			// Its answer, if one still comes, is ignored.
			_ = c.s.TryEmit(CancelEvent, strconv.FormatUint(id, 10), cancelReason(ctx))
			return sioclient.Args{}, gaveUp(ctx, "waiting for "+event)
		default:
			return sioclient.Args{}, NewError(CodeInternal, err)
		}
	}
}

// gaveUp is the status of a call whose context ended: CodeCanceled or
// CodeDeadlineExceeded, saying where it was.
func gaveUp(ctx context.Context, where string) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{code: CodeCanceled, message: "call canceled " + where, wrapped: ctx.Err()}
	}
	return &Error{code: CodeDeadlineExceeded, message: "deadline exceeded " + where, wrapped: ctx.Err()}
}

// refusalError maps a namespace's refusal (connect_error) to a status: the
// code its data names, not_found for the reference server's unknown
// namespace, unavailable otherwise. The server's message is the message;
// the *sioclient.ConnectError, with its data, is wrapped.
func refusalError(ce *sioclient.ConnectError) *Error {
	code := CodeUnavailable
	var data struct {
		Code string `json:"code"`
	}
	if len(ce.Data) > 0 && json.Unmarshal(ce.Data, &data) == nil && validCode(data.Code) {
		code = parseCode(data.Code)
	} else if ce.Message == "Invalid namespace" {
		code = CodeNotFound
	}
	return &Error{code: code, message: ce.Message, wrapped: ce}
}

// validCode reports whether name is a status code's wire name.
func validCode(name string) bool {
	for _, n := range codeNames {
		if n == name {
			return true
		}
	}
	return false
}

// cancelReason is the second argument of a cancel: why the caller gave up.
func cancelReason(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return CodeDeadlineExceeded.String()
	}
	return CodeCanceled.String()
}

package rpc

import (
	"context"
	"maps"

	"github.com/sio-dev/sio/runtime/socketio"
)

// CallInfo describes the call a handler is serving.
type CallInfo struct {
	// Event is the method's event name.
	Event string
	// Socket is the caller's socket: its Handshake has the headers, the
	// address and the auth payload the connection was opened with.
	Socket *socketio.Socket
	// Header is the call's own metadata, sent by the client.
	Header map[string]string
}

type callInfoKey struct{}

// CallInfoFromContext returns the call a handler's context belongs to.
func CallInfoFromContext(ctx context.Context) (CallInfo, bool) {
	if c, ok := ctx.(*callContext); ok {
		// The handler's own context (what the first interceptor gets):
		// read without boxing a CallInfo.
		return c.info(), true
	}
	ci, ok := ctx.Value(callInfoKey{}).(CallInfo)
	return ci, ok
}

type outgoingKey struct{}

// WithHeaders returns a context whose calls carry headers as metadata.
func WithHeaders(ctx context.Context, headers map[string]string) context.Context {
	merged := maps.Clone(outgoingHeaders(ctx))
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, headers)
	return context.WithValue(ctx, outgoingKey{}, merged)
}

func outgoingHeaders(ctx context.Context) map[string]string {
	h, _ := ctx.Value(outgoingKey{}).(map[string]string)
	return h
}

// PrivateRoom returns a room name that only the calling socket uses, for a
// stream meant for this caller alone (a download, a job's progress): a
// subscription handler returns it, and the server publishes to it.
func PrivateRoom(ctx context.Context, name string) string {
	ci, _ := CallInfoFromContext(ctx)
	if ci.Socket == nil {
		return name
	}
	return ci.Socket.ID() + "/" + name
}

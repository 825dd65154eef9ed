package rpc

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"
)

// CancelEvent carries (call id, reason) from a client that gave up on a
// call: the server ends the handler's context, or drops the call if it has
// not started (see PROTOCOL.md). The reason, "deadline_exceeded" or
// "canceled" (the default), is what the handler's ctx.Err() then reports.
const CancelEvent = "sio:cancel"

// callIDs numbers calls. One counter for the process keeps ids unique on
// every socket, however many ClientConns share it.
var callIDs atomic.Uint64

// metaFor builds the metadata of a call without an id (one that cannot be
// cancelled) from ctx's deadline and headers.
func metaFor(ctx context.Context) json.RawMessage { return appendMeta(ctx, 0) }

// appendMeta builds the call metadata from ctx's deadline and headers and
// the call's id (none if 0; a decimal string on the wire), as JSON written by hand: it goes with every
// call, and reflection-based encoding would be most of the RPC layer's
// cost. The deadline comes first, as {"timeoutMs":N,"id":"K"}.
func appendMeta(ctx context.Context, id uint64) json.RawMessage {
	headers := outgoingHeaders(ctx)
	d, hasDeadline := ctx.Deadline()
	if !hasDeadline && len(headers) == 0 && id == 0 {
		return emptyMeta
	}
	b := make([]byte, 0, 48)
	b = append(b, '{')
	if hasDeadline {
		b = append(b, `"timeoutMs":`...)
		b = strconv.AppendInt(b, max(1, time.Until(d).Milliseconds()), 10)
	}
	if id != 0 {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, `"id":"`...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, '"')
	}
	if len(headers) > 0 {
		h, _ := json.Marshal(headers)
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, `"headers":`...)
		b = append(b, h...)
	}
	return append(b, '}')
}

var emptyMeta = json.RawMessage("{}")

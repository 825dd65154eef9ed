package engineio

import (
	"net/http"
	"time"
)

// Timeouts of the HTTP server NewHTTPServer builds. Each one bounds what a
// client can hold without doing its part of the protocol, so that a few
// thousand slow or idle connections cannot take every file descriptor.
const (
	// HTTPReadHeaderTimeout bounds the time from accepting a connection (or
	// the end of the previous request) to the end of a request's headers.
	// A real client sends its headers in one write; 10 s leaves room for a
	// slow mobile link yet closes a slowloris six times sooner than the
	// reference's 60 s headersTimeout.
	HTTPReadHeaderTimeout = 10 * time.Second
	// HTTPIdleTimeout closes a keep-alive connection with no request in
	// flight. A polling client sends its next request at once, so 30 s is
	// long enough to keep its connection between polls (the reference's
	// keepAliveTimeout is 5 s) and short enough that idle connections do
	// not pile up.
	HTTPIdleTimeout = 30 * time.Second
	// HTTPMaxHeaderBytes is the largest request header block: 64 KiB, well
	// above what browsers send with cookies, and a sixteenth of net/http's
	// 1 MiB default.
	HTTPMaxHeaderBytes = 64 << 10
)

// NewHTTPServer returns an http.Server for h with the timeouts a server
// exposed to the Internet needs: ReadHeaderTimeout, IdleTimeout and
// MaxHeaderBytes as the constants above. It sets no ReadTimeout or
// WriteTimeout, which would cut off WebSockets and long polls; the Server
// bounds those per request instead (polling bodies must arrive within
// PingTimeout, a polling GET is held at most PingInterval plus a margin).
//
// If you bring your own http.Server, set at least ReadHeaderTimeout and
// IdleTimeout the same way: without them a client that sends its headers
// slowly, or opens connections and leaves them idle, holds a descriptor
// for as long as it likes.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: HTTPReadHeaderTimeout,
		IdleTimeout:       HTTPIdleTimeout,
		MaxHeaderBytes:    HTTPMaxHeaderBytes,
	}
}

package siotest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Closer is a server that shuts down within a context, as the Engine.IO
// and Socket.IO servers do.
type Closer interface {
	Close(ctx context.Context) error
}

// Serve serves h on a loopback HTTP server for the length of t. When t
// ends it closes srv, giving it a second, then the HTTP server.
func Serve(t testing.TB, h http.Handler, srv Closer) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
	})
	return hs
}

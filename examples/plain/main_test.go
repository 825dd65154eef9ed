package main

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
)

// TestWithOfficialClient drives the plain server with socket.io-client.
func TestWithOfficialClient(t *testing.T) {
	srv := newServer()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}()
	nodepeer.Run(t, 30*time.Second, "plain_client.mjs", hs.URL)
}

package main

import (
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// TestWithOfficialClient drives the plain server with socket.io-client.
func TestWithOfficialClient(t *testing.T) {
	srv := newServer()
	hs := siotest.Serve(t, srv, srv)
	nodepeer.Run(t, 30*time.Second, "plain_client.mjs", hs.URL)
}

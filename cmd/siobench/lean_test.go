package main

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLeanConnReadsWhatAServerSends: leanConn against gorilla's server
// side: every payload length encoding, a message larger than its buffer,
// many frames in one read, a ping answered with a pong, masked writes the
// server can read, and a fragmented message refused, not misread.
func TestLeanConnReadsWhatAServerSends(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB: past the buffer and a 64-bit length
	sizes := [][]byte{[]byte("x"), bytes.Repeat([]byte{'m'}, 300), big}
	pong := make(chan string, 1)
	echoed := make(chan []byte, 1)
	up := websocket.Upgrader{}
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.SetPongHandler(func(s string) error { pong <- s; return nil })
		for i, p := range sizes {
			mt := websocket.TextMessage
			if i == 2 {
				mt = websocket.BinaryMessage
			}
			if ws.WriteMessage(mt, p) != nil {
				return
			}
		}
		for i := range 200 { // small frames, batched into few reads
			if ws.WriteMessage(websocket.TextMessage, []byte{byte('a' + i%26)}) != nil {
				return
			}
		}
		if ws.WriteControl(websocket.PingMessage, []byte("hb"), time.Now().Add(time.Second)) != nil {
			return
		}
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		echoed <- msg
		fw, err := ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return
		}
		_, _ = fw.Write([]byte("part"))
		_ = ws.UnderlyingConn().SetWriteDeadline(time.Now().Add(time.Second))
		// Flush a first fragment by writing past the writer's buffer.
		_, _ = fw.Write(bytes.Repeat([]byte{'f'}, 8<<10))
		_ = fw.Close()
		// The client's pong came after the message it wrote: reading on
		// is what runs the pong handler.
		_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, _ = ws.ReadMessage()
	}))
	c, err := dialLean(url+"/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, want := range sizes {
		mt, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, want) || (i == 2) != (mt == websocket.BinaryMessage) {
			t.Fatalf("message %d: got %d bytes of type %d, want %d", i, len(got), mt, len(want))
		}
	}
	for i := range 200 {
		_, got, err := c.ReadMessage()
		if err != nil || len(got) != 1 || got[0] != byte('a'+i%26) {
			t.Fatalf("small message %d: %q, %v", i, got, err)
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, big); err != nil {
		t.Fatal(err)
	}
	// The ping arrives before the server reads: ReadMessage answers it
	// while waiting for the fragmented message that follows.
	_, _, err = c.ReadMessage()
	if !errors.Is(err, errFragmented) {
		t.Fatalf("a fragmented message: %v, want errFragmented", err)
	}
	select {
	case s := <-pong:
		if s != "hb" {
			t.Fatalf("pong %q, want the ping's payload", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	if got := <-echoed; !bytes.Equal(got, big) {
		t.Fatalf("the server read %d bytes, want the %d written", len(got), len(big))
	}
}

// TestLeanConnRefusesAWrongHandshake: an answer that is not a WebSocket
// upgrade fails the dial.
func TestLeanConnRefusesAWrongHandshake(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	if c, err := dialLean(url+"/", 0); err == nil {
		c.Close()
		t.Fatal("dialed a server that refused the upgrade")
	}
}

// TestFirstErrorKeepsTheFirstOfAnyType: errors of different types from
// different goroutines are taken in turn; the first stays.
func TestFirstErrorKeepsTheFirstOfAnyType(t *testing.T) {
	var f firstError
	if f.get() != nil {
		t.Fatal("an error before any was set")
	}
	first := errors.New("first")
	f.set(first)
	f.set(&websocket.CloseError{Code: 1000})
	f.set(errFragmented)
	if got := f.get(); got != first {
		t.Fatalf("got %v, want the first error", got)
	}
}

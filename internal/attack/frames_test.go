package attack

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawSocket is an attacker's WebSocket, on a bare TCP connection: it
// writes whatever frames it likes.
type rawSocket struct {
	net.Conn
	r *bufio.Reader
}

// dialRaw upgrades a bare TCP connection to a Socket.IO WebSocket and
// connects to the main namespace.
func dialRaw(addr string) (*rawSocket, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("upgrade: %v %v", resp, err)
	}
	if err := writeMaskedText(conn, "40"); err != nil {
		conn.Close()
		return nil, err
	}
	return &rawSocket{Conn: conn, r: br}, nil
}

// frameHeader is the start of a masked frame (zero key) announcing n
// payload bytes.
func frameHeader(b0 byte, n uint64) []byte {
	h := []byte{b0}
	switch {
	case n <= 125:
		h = append(h, 0x80|byte(n))
	case n <= 0xFFFF:
		h = binary.BigEndian.AppendUint16(append(h, 0x80|126), uint16(n))
	default:
		h = binary.BigEndian.AppendUint64(append(h, 0x80|127), n)
	}
	return append(h, 0, 0, 0, 0) // a zero key leaves the payload as it is
}

// writeUntil writes b again and again, as fast as the target reads it,
// until stop is closed or the connection fails.
func (s *rawSocket) writeUntil(stop <-chan struct{}, b []byte) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		_ = s.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := s.Write(b); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// closeCode reads frames until a close frame and returns its status, or
// 0 if the connection ended without one.
func (s *rawSocket) closeCode(timeout time.Duration) int {
	_ = s.SetReadDeadline(time.Now().Add(timeout))
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			return 0
		}
		n := int(hdr[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(s.r, ext[:]); err != nil {
				return 0
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(s.r, ext[:]); err != nil {
				return 0
			}
			n = int(binary.BigEndian.Uint64(ext[:]))
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(s.r, payload); err != nil {
			return 0
		}
		if hdr[0]&0x0f == websocket.CloseMessage {
			if len(payload) < 2 {
				return websocket.CloseNoStatusReceived
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

// TestHostileFrames attacks the target's WebSocket frame reader from many
// connections at once: frames announcing most of the size limit and
// trickling it, endless empty fragments, ping floods from clients that
// never read, frames over the limit and broken frames. Meanwhile a
// well-behaved client's round trips must stay fast; the refused frames
// must get their close status (1009, 1002); and once the attackers leave,
// the target's goroutines, descriptors and live heap must come back down.
func TestHostileFrames(t *testing.T) {
	tg := startTarget(t)
	before := tg.waitStats(t, 10*time.Second, func(stats) bool { return true })
	perKind := pick(10, 100)
	hold := pick(3*time.Second, 20*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	attack := func(name string, run func(s *rawSocket)) {
		for range perKind {
			s, err := dialRaw(tg.Addr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			wg.Go(func() {
				defer s.Close()
				run(s)
			})
		}
	}
	// Announces 900 000 bytes (under the 1 000 000 limit) and sends one a
	// tick: the server must not hold the announced size for it.
	attack("trickle", func(s *rawSocket) {
		_, _ = s.Write(frameHeader(0x82, 900_000))
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := s.Write([]byte{'x'}); err != nil {
					return
				}
			}
		}
	})
	// A message that never ends: empty fragments, as fast as they go.
	attack("fragments", func(s *rawSocket) {
		_, _ = s.Write(frameHeader(0x02, 0))
		burst := make([]byte, 0, 600)
		for range 100 {
			burst = append(burst, frameHeader(0x00, 0)...)
		}
		s.writeUntil(stop, burst)
	})
	// Pings with the largest payload, never reading the pongs.
	attack("ping flood", func(s *rawSocket) {
		s.writeUntil(stop, append(frameHeader(0x89, 125), strings.Repeat("p", 125)...))
	})
	var refused sync.Map // what each refused connection got
	refuse := func(name string, frames []byte, want int) {
		attack(name, func(s *rawSocket) {
			_, _ = s.Write(frames)
			if got := s.closeCode(10 * time.Second); got != want {
				refused.Store(name, fmt.Sprintf("close status %d, want %d", got, want))
			}
		})
	}
	refuse("over the limit", frameHeader(0x82, 2_000_000), websocket.CloseMessageTooBig)
	refuse("unmasked", []byte{0x81, 0x02, '4', 'x'}, websocket.CloseProtocolError)
	refuse("reserved bits", append(frameHeader(0xF1, 2), '4', 'x'), websocket.CloseProtocolError)
	refuse("bad opcode", append(frameHeader(0x85, 1), 'x'), websocket.CloseProtocolError)
	refuse("long control frame", append(frameHeader(0x89, 126), make([]byte, 126)...), websocket.CloseProtocolError)
	refuse("stray continuation", append(frameHeader(0x80, 1), 'x'), websocket.CloseProtocolError)

	// A well-behaved client, while all that goes on.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+tg.Addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage() // open
	_ = ws.WriteMessage(websocket.TextMessage, []byte("40"))
	_, _, _ = ws.ReadMessage() // CONNECT
	var slowest time.Duration
	calls := 0
	for start := time.Now(); time.Since(start) < hold; calls++ {
		sent := time.Now()
		_ = ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `42%d["echo","hi"]`, calls))
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("the well-behaved client, call %d: %v", calls, err)
			}
			if string(msg) == "2" {
				_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			if want := fmt.Sprintf(`43%d["hi"]`, calls); string(msg) != want {
				t.Fatalf("the well-behaved client got %q, want %q", msg, want)
			}
			break
		}
		slowest = max(slowest, time.Since(sent))
		time.Sleep(10 * time.Millisecond)
	}
	limit := time.Second
	figure(t, "hostile frames: slowest round trip of a normal client", float64(slowest.Milliseconds()), "ms", float64(limit.Milliseconds()))
	if slowest > limit {
		t.Errorf("a normal client's round trip took %v under the attack (limit %v)", slowest, limit)
	}
	during, err := tg.stats()
	if err != nil {
		t.Fatal(err)
	}
	// The trickling connections hold what they sent, not what they
	// announced: 900 kB each would be perKind × 0.9 MB.
	heapLimit := before.HeapAlloc + uint64(perKind)*64<<10
	figure(t, "hostile frames: live heap during the attack", float64(during.HeapAlloc>>10), "KiB", float64(heapLimit>>10))
	if during.HeapAlloc > heapLimit {
		t.Errorf("live heap %d KiB during the attack, over %d KiB", during.HeapAlloc>>10, heapLimit>>10)
	}

	close(stop)
	wg.Wait()
	refused.Range(func(name, problem any) bool {
		t.Errorf("%s: %s", name, problem)
		return true
	})
	after := tg.waitStats(t, 30*time.Second, func(s stats) bool {
		return s.Sessions <= 1 && s.FDs <= before.FDs+10 && s.Goroutines <= before.Goroutines+20
	})
	figure(t, "hostile frames: goroutines after", float64(after.Goroutines), "goroutines", float64(before.Goroutines+20))
}

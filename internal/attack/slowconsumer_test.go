package attack

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeMaskedText writes one masked WebSocket text frame (payloads under
// 126 bytes), as a client must.
func writeMaskedText(conn net.Conn, payload string) error {
	mask := [4]byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(payload))}, mask[:]...)
	for i := range len(payload) {
		frame = append(frame, payload[i]^mask[i%4])
	}
	_, err := conn.Write(frame)
	return err
}

// TestStuckClientMemory connects a WebSocket client that asks the target
// to flood it and then never reads. The target must cut it off, and the
// live heap it holds for the client meanwhile must stay within 10 % of
// MaxPendingBytes.
func TestStuckClientMemory(t *testing.T) {
	maxPending := pick(8<<20, 16<<20)
	tg := startTarget(t, "-max-pending", strconv.Itoa(maxPending))
	before := tg.waitStats(t, 10*time.Second, func(stats) bool { return true })

	conn, err := net.DialTimeout("tcp", tg.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10) // keep the kernel from absorbing the flood
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if err := writeMaskedText(conn, "40"); err != nil {
		t.Fatal(err)
	}
	if err := writeMaskedText(conn, `42["flood"]`); err != nil {
		t.Fatal(err)
	}
	// From here on nothing is read.
	measureStuck(t, tg, before, maxPending, "stuck WebSocket client memory")
}

// measureStuck samples the target's live heap until its one session has
// been cut off, and fails if the peak above before exceeds 1.1 times
// maxPending.
func measureStuck(t *testing.T, tg *target, before stats, maxPending int, name string) {
	t.Helper()
	var peak uint64
	deadline := time.Now().Add(pick(20*time.Second, 60*time.Second))
	for {
		s, err := tg.stats()
		if err != nil {
			t.Fatal(err)
		}
		peak = max(peak, s.HeapAlloc)
		if s.Sessions == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stuck client was never cut off")
		}
	}
	held := float64(peak-before.HeapAlloc) / float64(maxPending)
	figure(t, name, held, "x MaxPendingBytes", 1.1)
	if held > 1.1 {
		t.Fatalf("a stuck client held %.2f x MaxPendingBytes (%d bytes at peak)", held, peak-before.HeapAlloc)
	}
}

// TestStuckPollingClientMemory is TestStuckClientMemory over long
// polling: the client asks for the flood, then sends one GET whose
// response it never reads.
func TestStuckPollingClientMemory(t *testing.T) {
	maxPending := pick(8<<20, 16<<20)
	tg := startTarget(t, "-max-pending", strconv.Itoa(maxPending))
	before := tg.waitStats(t, 10*time.Second, func(stats) bool { return true })

	sid, err := handshake(tg.URL(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	url := tg.URL() + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	for _, body := range []string{"40", `42["flood"]`} {
		resp, err := http.Post(url, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %q: %s", body, resp.Status)
		}
	}
	conn, err := net.DialTimeout("tcp", tg.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	get := "GET /socket.io/?EIO=4&transport=polling&sid=" + sid + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	if _, err := conn.Write([]byte(get)); err != nil {
		t.Fatal(err)
	}
	// From here on nothing is read.
	measureStuck(t, tg, before, maxPending, "stuck polling client memory")
}

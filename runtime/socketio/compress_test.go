package socketio

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBroadcastCompressFlag checks, over polling, that Compress(false)
// sends a broadcast uncompressed while the default compresses it.
func TestBroadcastCompressFlag(t *testing.T) {
	ts := newTestServer(t, nil)
	joined := make(chan *Socket, 1)
	ts.OnConnection(func(s *Socket) { joined <- s })

	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(url string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	_, open := get(ts.url + "/socket.io/?EIO=4&transport=polling")
	var h struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(open[1:]), &h); err != nil {
		t.Fatalf("open %q: %v", open, err)
	}
	url := ts.url + "/socket.io/?EIO=4&transport=polling&sid=" + h.SID
	resp, err := client.Post(url, "text/plain", strings.NewReader("40"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	resp.Body.Close()
	wait(t, joined)
	if _, body := get(url); !strings.HasPrefix(body, "40{") {
		t.Fatalf("CONNECT reply %q", body)
	}
	big := strings.Repeat("compressible ", 200)
	_ = ts.Of("/").Compress(false).Emit("big", big)
	if resp, _ := get(url); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("Compress(false) broadcast was sent with %q", resp.Header.Get("Content-Encoding"))
	}
	_ = ts.Of("/").Emit("big", big)
	if resp, _ := get(url); resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("default broadcast was not compressed")
	}
}

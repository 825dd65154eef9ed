package engineio

import (
	"strings"
	"testing"
)

// TestStats counts sessions by transport, messages and bytes each way,
// what waits for a client, and closes by reason.
func TestStats(t *testing.T) {
	ts := newTestServer(t, false, nil)
	sid := openPolling(t, ts)
	r := ts.session(t)
	if st := ts.Stats(); st.PollingSessions != 1 || st.WebSocketSessions != 0 {
		t.Fatalf("after a polling handshake: %+v", st)
	}
	// Three messages wait for the client's next GET.
	for range 3 {
		if err := r.conn.Send(Message{Data: []byte(strings.Repeat("x", 100))}); err != nil {
			t.Fatal(err)
		}
	}
	if st := ts.Stats(); st.QueuedBytes < 300 || st.MessagesSent != 3 || st.BytesSent != 300 {
		t.Errorf("with three messages waiting: %+v", st)
	}
	if status, _ := do(t, "GET", ts.url("EIO=4&transport=polling&sid="+sid), ""); status != 200 {
		t.Fatalf("poll: %d", status)
	}
	if st := ts.Stats(); st.QueuedBytes != 0 {
		t.Errorf("after the poll took them, %d bytes still queued", st.QueuedBytes)
	}
	if status, _ := do(t, "POST", ts.url("EIO=4&transport=polling&sid="+sid), "4hello"); status != 200 {
		t.Fatalf("post: %d", status)
	}
	r.next(t)
	if st := ts.Stats(); st.MessagesReceived != 1 || st.BytesReceived != 5 {
		t.Errorf("after one message of 5 bytes in: %+v", st)
	}
	if status, _ := do(t, "POST", ts.url("EIO=4&transport=polling&sid="+sid), "1"); status != 200 {
		t.Fatalf("close: %d", status)
	}
	r.waitClose(t)
	if st := ts.Stats(); st.PollingSessions != 0 || st.Closed[ReasonTransportClose] != 1 {
		t.Errorf("after the client closed: %+v", st)
	}
}

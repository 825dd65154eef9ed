package siopacket

import "testing"

// TestTextHeaderLen checks the header length against what AppendText
// writes, for every form of header.
func TestTextHeaderLen(t *testing.T) {
	for _, p := range []Packet{
		{Type: Ack, Namespace: "/", ID: 0, HasID: true},
		{Type: Ack, Namespace: "", ID: 9, HasID: true},
		{Type: Ack, Namespace: "/chat", ID: 10, HasID: true},
		{Type: BinaryAck, Namespace: "/", ID: 18446744073709551615, HasID: true, Attachments: make([][]byte, 12)},
		{Type: BinaryEvent, Namespace: "/x", Attachments: make([][]byte, 1)},
		{Type: Event, Namespace: "/"},
	} {
		if got, want := textHeaderLen(&p), len(AppendText(nil, &p)); got != want {
			t.Errorf("%+v: header length %d, AppendText wrote %d", p, got, want)
		}
	}
}

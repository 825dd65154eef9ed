package engineio

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestMsgBufReadsWholeMessagesAndReuses(t *testing.T) {
	m := &msgBuf{b: make([]byte, 0, 8)}
	for _, n := range []int{0, 1, 8, 9, 100_000, 3, 100_000} {
		want := bytes.Repeat([]byte{byte(n)}, n)
		// HalfReader makes the buffer fill across many reads.
		if err := m.readFrom(iotest.HalfReader(bytes.NewReader(want))); err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if !bytes.Equal(m.bytes(), want) {
			t.Fatalf("size %d: got %d bytes, want %d", n, len(m.bytes()), n)
		}
	}
	// The buffer that held a large message takes the next one in place.
	before := cap(m.b)
	if err := m.readFrom(bytes.NewReader(make([]byte, 99_000))); err != nil || cap(m.b) != before {
		t.Fatalf("readFrom regrew a big enough buffer: cap %d -> %d, err %v", before, cap(m.b), err)
	}
}

func TestMsgBufReportsReadErrors(t *testing.T) {
	boom := errors.New("boom")
	m := getMsgBuf()
	defer m.release()
	r := io.MultiReader(bytes.NewReader([]byte("partial")), iotest.ErrReader(boom))
	if err := m.readFrom(r); !errors.Is(err, boom) {
		t.Fatalf("readFrom error = %v, want %v", err, boom)
	}
}

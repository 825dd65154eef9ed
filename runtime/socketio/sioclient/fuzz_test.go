package sioclient

import (
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
)

// FuzzClientPackets has a server answer the client's sockets with two
// arbitrary polls of Socket.IO packets (connect replies, events, acks,
// binary, disconnects): whatever they hold, the client must not panic,
// and closing its manager must end everything promptly.
func FuzzClientPackets(f *testing.F) {
	for _, s := range [][2]string{
		{`40{"sid":"a"}`, `42["ev",1,{"two":[2]}]` + "\x1e" + `421["ev","with ack"]`},
		{`40{"sid":"a"}` + "\x1e" + `40/admin,{"sid":"b"}`, `42/admin,["ev"]` + "\x1e" + `41/admin,`},
		{`40{"sid":"a"}`, `430[1]` + "\x1e" + `43999[1]`},
		{`40{"sid":"a"}`, `461-0[{"_placeholder":true,"num":0}]` + "\x1e" + "bAQID"},
		{`40{"sid":"a"}`, `451-["ev",{"_placeholder":true,"num":0}]` + "\x1e" + "bAQID"},
		{`40{"sid":"a"}`, `452-["ev",{"_placeholder":true,"num":1}]` + "\x1e" + "bAQ=="},
		{`44{"message":"no","data":{"why":1}}`, ""},
		{`44/admin,"old style"`, ""},
		{`40{"sid":"a"}`, "41"},
		{`40{"sid":"a"}`, `42["connect"]` + "\x1e" + `42[]` + "\x1e" + `42[1]`},
		{`40`, "4"},
		{"4x", "1"},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	srv := siotest.NewScriptedServer()
	f.Cleanup(srv.Close)
	const open = `0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	f.Fuzz(func(t *testing.T, first, second string) {
		query, drained, forget := srv.Add(open, first, second)
		defer forget()
		m, err := NewManager(srv.URL, &Options{
			Transports: []string{engineio.TransportPolling}, Query: query, HTTPClient: srv.Client,
			DisableReconnection: true, Timeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, nsp := range []string{"/", "/admin"} {
			s := m.Socket(nsp, nil)
			s.On("ev", func(_ *Socket, args Args, ack Ack) {
				if v, err := args.Values(); err == nil && ack != nil {
					_ = ack(v...)
				}
			})
			s.OnAny(func(*Socket, string, Args) {})
			s.Connect()
			_ = s.EmitWithAckFunc("question", 50*time.Millisecond, func(Args, error) {}, []byte{1})
		}
		// Let the client take in both polls, unless they ended its
		// connection first.
		select {
		case <-drained:
		case <-time.After(20 * time.Millisecond):
		}
		closed := make(chan struct{})
		go func() {
			_ = m.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Manager.Close did not return")
		}
	})
}

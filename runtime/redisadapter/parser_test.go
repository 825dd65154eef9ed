package redisadapter

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-dev/sio/internal/adaptertest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// TestParsersAcrossNodes runs a node whose clients speak MessagePack
// beside one on the default parser: the adapter carries packets in its
// own format, so broadcasts (binary included) and their acks cross
// between the two, each node encoding for its own clients.
func TestParsersAcrossNodes(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, kind adapterKind) {
		r := startRedis(t)
		start := func(parser sioparser.Parser) (*socketio.Server, string) {
			rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
			srv := socketio.NewServer(&socketio.Options{Adapter: kind.new(rdb), Parser: parser})
			adaptertest.JoinFromAuth(srv)
			hs := httptest.NewServer(srv)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Close(ctx)
				hs.Close()
				_ = rdb.Close()
			})
			return srv, hs.URL
		}
		connect := func(url string, parser sioparser.Parser) *sioclient.Socket {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := sioclient.Connect(ctx, url, &sioclient.Options{Transports: []string{engineio.TransportWebSocket}, Parser: parser},
				&sioclient.SocketOptions{Auth: map[string]string{"room": "r"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Manager().Close() })
			return s
		}
		mp, mpURL := start(sioparser.MessagePack{})
		text, textURL := start(nil)
		onMP, onText := connect(mpURL, sioparser.MessagePack{}), connect(textURL, nil)
		cMP, cText := adaptertest.Collect(onMP, "hello"), adaptertest.Collect(onText, "hello")
		waitFor(t, func() bool {
			n, err := mp.Of("/").Adapter().ServerCount(context.Background())
			return err == nil && n == 2
		})

		if err := mp.To("r").Emit("hello", []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		adaptertest.Expect(t, cMP, "[1 2 3]")
		adaptertest.Expect(t, cText, "[1 2 3]")
		if err := text.To("r").Emit("hello", map[string]any{"n": 1.5, "s": "é"}); err != nil {
			t.Fatal(err)
		}
		adaptertest.Expect(t, cMP, `[{"n":1.5,"s":"é"}]`)
		adaptertest.Expect(t, cText, `[{"n":1.5,"s":"é"}]`)

		adaptertest.Collect(onMP, "ping")
		adaptertest.Collect(onText, "ping")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		responses, err := text.To("r").EmitWithAck(ctx, "ping")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := adaptertest.SortedFirsts(responses), adaptertest.IDsOf(onMP, onText); !slices.Equal(got, want) {
			t.Errorf("acks %v, want %v", got, want)
		}
	})
}

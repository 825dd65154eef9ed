package sioclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// peer is a Socket.IO server the client is tested against.
type peer struct {
	url     string
	stop    func()
	restart func() // stop, then serve again on the same port
	parser  sioparser.Parser
}

var peers = []struct {
	name  string
	start func(t *testing.T) *peer
}{
	{"node", startNodePeer},
	{"go", startGoPeer},
}

var modes = []struct {
	name string
	opts Options
	want string
}{
	{"polling", Options{Transports: []string{engineio.TransportPolling}}, engineio.TransportPolling},
	{"websocket", Options{Transports: []string{engineio.TransportWebSocket}}, engineio.TransportWebSocket},
	{"upgrade", Options{}, engineio.TransportWebSocket},
}

// msgpackPeers are the peers using the MessagePack parser.
var msgpackPeers = []struct {
	name  string
	start func(t *testing.T) *peer
}{
	{"node-msgpack", func(t *testing.T) *peer { return startNode(t, "msgpack") }},
	{"go-msgpack", func(t *testing.T) *peer { return startGo(t, nil, sioparser.MessagePack{}) }},
}

// msgpackTests are the tests each also runs over msgpackPeers: those of
// what a parser carries (events, acks, binary, namespaces, auth, errors).
var msgpackTests = map[string]bool{
	"TestAcksAndBinary": true, "TestNamespacesShareOneConnection": true, "TestAuthRejected": true,
	"TestRoomBroadcast": true, "TestServerDisconnectDoesNotReconnect": true,
	"TestReconnectAfterTransportDropWithBufferedEmits": true, "TestAuthFuncOnEveryConnect": true,
	"TestConcurrentEmitsAndAckCallbacks": true,
}

// each runs f for every peer and transport mode.
func each(t *testing.T, f func(t *testing.T, p *peer, opts Options, transport string)) {
	eachOf(t, peers, f)
	if msgpackTests[t.Name()] {
		eachOf(t, msgpackPeers, f)
	}
}

// eachOf is each over the given peers.
func eachOf(t *testing.T, peers []struct {
	name  string
	start func(t *testing.T) *peer
}, f func(t *testing.T, p *peer, opts Options, transport string)) {
	for _, pk := range peers {
		for _, m := range modes {
			t.Run(pk.name+"/"+m.name, func(t *testing.T) {
				p := pk.start(t)
				opts := m.opts
				opts.Parser = p.parser
				opts.ReconnectionDelay = 20 * time.Millisecond
				opts.ReconnectionDelayMax = 100 * time.Millisecond
				f(t, p, opts, m.want)
			})
		}
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func startNodePeer(t *testing.T) *peer { return startNode(t, "") }

func startNode(t *testing.T, mode string) *peer {
	proc := nodepeer.Start(t, "listening", "sio_server.mjs", "0", mode)
	port := proc.Port()
	p := &peer{url: "http://127.0.0.1:" + port, stop: proc.Stop}
	if strings.Contains(mode, "msgpack") {
		p.parser = sioparser.MessagePack{}
	}
	p.restart = func() {
		proc.Stop()
		// The same port, so the client reconnects to the new server.
		proc = nodepeer.Start(t, "listening", "sio_server.mjs", port, mode)
		p.stop = proc.Stop
	}
	return p
}

// recoveringPeers are the peers with connection state recovery on.
var recoveringPeers = []struct {
	name  string
	start func(t *testing.T) *peer
}{
	{"node", func(t *testing.T) *peer { return startNode(t, "recovery") }},
	{"go", func(t *testing.T) *peer { return startGo(t, &socketio.RecoveryOptions{}, nil) }},
	{"node-msgpack", func(t *testing.T) *peer { return startNode(t, "recovery,msgpack") }},
	{"go-msgpack", func(t *testing.T) *peer { return startGo(t, &socketio.RecoveryOptions{}, sioparser.MessagePack{}) }},
}

// newGoServer is our server with the same events as sio_server.mjs.
func newGoServer(recovery *socketio.RecoveryOptions, parser sioparser.Parser) *socketio.Server {
	srv := socketio.NewServer(&socketio.Options{
		Engine: engineio.Options{
			PingInterval: 300 * time.Millisecond, PingTimeout: 400 * time.Millisecond,
		},
		ConnectionStateRecovery: recovery,
		Parser:                  parser,
	})
	srv.Use(func(s *socketio.Socket) error {
		if string(s.Handshake().Auth) == `{"token":"bad"}` {
			return &socketio.ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}
		}
		return nil
	})
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("whoami", func(s *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			var auth struct {
				Token *string `json:"token"`
			}
			_ = json.Unmarshal(s.Handshake().Auth, &auth)
			_ = ack(auth.Token)
		})
		s.On("echo", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			values, _ := args.Values()
			if ack != nil {
				_ = ack(values...)
			} else {
				_ = s.Emit("echo", values...)
			}
		})
		s.On("ask-client", func(s *socketio.Socket, _ socketio.Args, ack socketio.Ack) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				answer, err := s.EmitWithAck(ctx, "question", 1, "two", []byte{3})
				if err == nil {
					var v []any
					v, _ = answer.Values()
					_ = ack(v)
				}
			}()
		})
		s.On("join", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			_ = ack()
		})
		s.On("to-room", func(s *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			var room, msg string
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &msg)
			_ = s.To(room).Emit("room-msg", msg)
			_ = ack()
		})
		s.On("disconnect-me", func(s *socketio.Socket, _ socketio.Args, _ socketio.Ack) { s.Disconnect(false) })
		s.On("drop-me", func(s *socketio.Socket, _ socketio.Args, _ socketio.Ack) { s.Conn().Close() })
		s.On("broadcast-later", func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			var room string
			var n, delayMs int
			_ = args.Decode(0, &room)
			_ = args.Decode(1, &n)
			_ = args.Decode(2, &delayMs)
			nsp := s.Namespace()
			time.AfterFunc(time.Duration(delayMs)*time.Millisecond, func() {
				for i := range n {
					_ = nsp.To(room).Emit("room-msg", i)
				}
			})
		})
	})
	srv.Of("/admin").OnConnection(func(s *socketio.Socket) { _ = s.Emit("welcome", s.Namespace().Name()) })
	return srv
}

func startGoPeer(t *testing.T) *peer { return startGo(t, nil, nil) }

func startGo(t *testing.T, recovery *socketio.RecoveryOptions, parser sioparser.Parser) *peer {
	port := "0" // the first start picks one; restarts reuse it
	var mu sync.Mutex
	var srv *socketio.Server
	var hs *http.Server
	start := func() {
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		mu.Lock()
		srv = newGoServer(recovery, parser)
		hs = &http.Server{Handler: srv}
		h := hs
		mu.Unlock()
		go func() { _ = h.Serve(ln) }()
	}
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = hs.Close()
	}
	start()
	t.Cleanup(stop)
	return &peer{url: "http://127.0.0.1:" + port, stop: stop, restart: func() { stop(); start() }, parser: parser}
}

// dial connects a socket and waits for the wanted transport.
func dial(t *testing.T, p *peer, nsp string, opts Options, sopts *SocketOptions, transport string) *Socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, p.url+nsp, &opts, sopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	deadline := time.Now().Add(5 * time.Second)
	for s.Manager().Engine() == nil || s.Manager().Engine().Transport() != transport {
		if time.Now().After(deadline) {
			t.Fatalf("transport never became %s", transport)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAcksAndBinary(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		if len(s.ID()) < 20 {
			t.Errorf("socket id %q", s.ID())
		}
		// Client -> server ack with several arguments, binary nested.
		blob := bytes.Repeat([]byte{0, 1, 254, 255}, 1000)
		args, err := s.EmitWithAck(ctx5s(t), "echo", 1, "two", map[string]any{"blob": blob, "list": [][]byte{{7}, {}}})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var str string
		var obj struct {
			Blob []byte   `json:"blob"`
			List [][]byte `json:"list"`
		}
		if args.Len() != 3 || args.Decode(0, &n) != nil || args.Decode(1, &str) != nil || args.Decode(2, &obj) != nil {
			t.Fatalf("ack args %s", args)
		}
		if n != 1 || str != "two" || !bytes.Equal(obj.Blob, blob) || len(obj.List) != 2 || !bytes.Equal(obj.List[0], []byte{7}) || len(obj.List[1]) != 0 {
			t.Errorf("decoded %d %q %v", n, str, obj.List)
		}
		// Server -> client ack: the server asks, we answer, it reports our answer.
		s.On("question", func(_ *Socket, args Args, ack Ack) {
			var a int
			var b string
			_ = args.Decode(0, &a)
			_ = args.Decode(1, &b)
			c, _ := args.Bytes(2)
			_ = ack(a+1, b+"!", append(append([]byte{}, c...), 4))
		})
		answer, err := s.EmitWithAck(ctx5s(t), "ask-client")
		if err != nil {
			t.Fatal(err)
		}
		var got []any
		if err := answer.Decode(0, &got); err != nil || len(got) != 3 || got[0] != 2.0 || got[1] != "two!" {
			t.Errorf("answer %s (%v)", answer, err)
		}
		// An event (not an ack) with binary comes back as an event.
		echoed := make(chan Args, 1)
		s.Once("echo", func(_ *Socket, args Args, _ Ack) { echoed <- args })
		_ = s.Emit("echo", []byte("raw bytes"))
		select {
		case a := <-echoed:
			if b, ok := a.Bytes(0); !ok || string(b) != "raw bytes" {
				t.Errorf("echo %s", a)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no echo")
		}
	})
}

func TestNamespacesShareOneConnection(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		m, _ := NewManager(p.url, &opts)
		defer m.Close()
		main, admin := m.Socket("/", nil), m.Socket("/admin", nil)
		welcome := make(chan string, 1)
		admin.On("welcome", func(_ *Socket, args Args, _ Ack) {
			var nsp string
			_ = args.Decode(0, &nsp)
			welcome <- nsp
		})
		connected := make(chan string, 2)
		for _, s := range []*Socket{main, admin} {
			s.OnConnect(func(s *Socket) { connected <- s.Namespace() })
			s.Connect()
		}
		<-connected
		<-connected
		if nsp := <-welcome; nsp != "/admin" {
			t.Errorf("welcome %q", nsp)
		}
		if main.ID() == admin.ID() || main.ID() == "" {
			t.Errorf("ids %q %q", main.ID(), admin.ID())
		}
		// Events are routed by namespace: /admin has no echo handler, so no
		// ack comes, while / answers on the same connection.
		short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := admin.EmitWithAck(short, "echo"); !errors.Is(err, ErrAckTimeout) {
			t.Errorf("admin echo: %v, want a timeout", err)
		}
		if _, err := main.EmitWithAck(ctx5s(t), "echo"); err != nil {
			t.Errorf("main echo: %v", err)
		}
	})
}

func TestAuthRejected(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := Connect(ctx, p.url, &opts, &SocketOptions{Auth: map[string]string{"token": "bad"}})
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Message != "not authorized" || string(ce.Data) != `{"reason":"bad token"}` {
			t.Errorf("Connect = %v", err)
		}
	})
}

func TestRoomBroadcast(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		a := dial(t, p, "/", opts, nil, transport)
		b := dial(t, p, "/", opts, nil, transport)
		got := make(chan string, 4)
		a.On("room-msg", func(_ *Socket, args Args, _ Ack) { got <- "a:" + args.String() })
		b.On("room-msg", func(_ *Socket, args Args, _ Ack) { got <- "b:" + args.String() })
		for _, s := range []*Socket{a, b} {
			if _, err := s.EmitWithAck(ctx5s(t), "join", "r"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.EmitWithAck(ctx5s(t), "to-room", "r", "hi"); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-got:
			if g != `b:["hi"]` {
				t.Errorf("got %s", g)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no room message")
		}
		select {
		case g := <-got:
			t.Errorf("unexpected %s (the sender must be excluded)", g)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

func TestServerDisconnectDoesNotReconnect(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		reasons := make(chan Reason, 2)
		s.OnDisconnect(func(_ *Socket, r Reason) { reasons <- r })
		reconnected := make(chan struct{}, 1)
		s.OnConnect(func(*Socket) { reconnected <- struct{}{} })
		_ = s.Emit("disconnect-me")
		if r := <-reasons; r != ReasonServerDisconnect {
			t.Errorf("reason %q", r)
		}
		select {
		case <-reconnected:
			t.Error("reconnected after a server disconnect")
		case <-time.After(300 * time.Millisecond):
		}
	})
}

func TestReconnectAfterTransportDropWithBufferedEmits(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		reasons := make(chan Reason, 4)
		connects := make(chan string, 4)
		s.OnDisconnect(func(_ *Socket, r Reason) { reasons <- r })
		s.OnConnect(func(s *Socket) { connects <- s.ID() })
		first := s.ID()
		_ = s.Emit("drop-me")
		if r := <-reasons; r != ReasonTransportClose && r != ReasonTransportError {
			t.Errorf("reason %q", r)
		}
		// Emitted while disconnected: buffered, sent after reconnecting.
		echoed := make(chan string, 1)
		s.Once("echo", func(_ *Socket, args Args, _ Ack) { echoed <- args.String() })
		_ = s.Emit("echo", "buffered")
		select {
		case id := <-connects:
			if id == first {
				t.Error("same socket id after reconnecting")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("did not reconnect")
		}
		select {
		case e := <-echoed:
			if e != `["buffered"]` {
				t.Errorf("echo %s", e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("buffered emit never arrived")
		}
	})
}

func TestReconnectAfterServerRestart(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		m, _ := NewManager(p.url, &opts)
		defer m.Close()
		var mu sync.Mutex
		var attempts, errs int
		m.OnReconnectAttempt(func(int) { mu.Lock(); attempts++; mu.Unlock() })
		m.OnReconnectError(func(error) { mu.Lock(); errs++; mu.Unlock() })
		reconnected := make(chan int, 1)
		m.OnReconnect(func(n int) { reconnected <- n })
		s := m.Socket("/", nil)
		connects := make(chan struct{}, 4)
		s.OnConnect(func(*Socket) { connects <- struct{}{} })
		s.Connect()
		<-connects
		p.stop()
		time.Sleep(300 * time.Millisecond) // some attempts fail while it is down
		p.restart()
		select {
		case <-connects:
		case <-time.After(10 * time.Second):
			t.Fatal("did not reconnect after the restart")
		}
		<-reconnected
		if _, err := s.EmitWithAck(ctx5s(t), "echo", "back"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if attempts == 0 || errs == 0 {
			t.Errorf("attempts %d, errors %d", attempts, errs)
		}
	})
}

func TestReconnectionAttemptsRunOut(t *testing.T) {
	opts := Options{ReconnectionAttempts: 3, ReconnectionDelay: 10 * time.Millisecond, ReconnectionDelayMax: 20 * time.Millisecond}
	m, _ := NewManager("http://127.0.0.1:"+freePort(t), &opts)
	defer m.Close()
	failed := make(chan struct{})
	var attempts int
	var mu sync.Mutex
	m.OnReconnectAttempt(func(int) { mu.Lock(); attempts++; mu.Unlock() })
	m.OnReconnectFailed(func() { close(failed) })
	m.Socket("/", nil).Connect()
	select {
	case <-failed:
	case <-time.After(5 * time.Second):
		t.Fatal("reconnect_failed never came")
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Errorf("%d attempts, want 3", attempts)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second, jitter: 0}
	var got []time.Duration
	for range 6 {
		got = append(got, b.next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v", got)
		}
	}
	b = backoff{min: 100 * time.Millisecond, max: 10 * time.Second, jitter: 0.5}
	for range 100 {
		b.reset()
		if d := b.next(); d < 50*time.Millisecond || d > 150*time.Millisecond {
			t.Fatalf("jittered first delay %v outside ±50%%", d)
		}
	}
}

func TestClientDisconnectAndClose(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		reasons := make(chan Reason, 1)
		s.OnDisconnect(func(_ *Socket, r Reason) { reasons <- r })
		s.Disconnect()
		if r := <-reasons; r != ReasonClientDisconnect {
			t.Errorf("reason %q", r)
		}
		if err := s.Emit("after", 1); err != nil {
			t.Errorf("emit while disconnected: %v (it should be buffered)", err)
		}
		if err := s.Manager().Close(); err != nil {
			t.Error(err)
		}
		if err := s.Manager().Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close = %v", err)
		}
	})
}

func TestAuthFuncOnEveryConnect(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		var mu sync.Mutex
		calls := 0
		auth := func() any {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return map[string]string{"token": fmt.Sprint("t", calls)}
		}
		s := dial(t, p, "/", opts, &SocketOptions{AuthFunc: auth}, transport)
		who := func() string {
			a, err := s.EmitWithAck(ctx5s(t), "whoami")
			if err != nil {
				t.Fatal(err)
			}
			var tok string
			_ = a.Decode(0, &tok)
			return tok
		}
		if w := who(); w != "t1" {
			t.Errorf("first token %q", w)
		}
		connects := make(chan struct{}, 2)
		s.OnConnect(func(*Socket) { connects <- struct{}{} })
		_ = s.Emit("drop-me")
		select {
		case <-connects:
		case <-time.After(5 * time.Second):
			t.Fatal("no reconnect")
		}
		if w := who(); w != "t2" {
			t.Errorf("token after reconnecting %q, want a fresh one", w)
		}
	})
}

func TestConcurrentEmitsAndAckCallbacks(t *testing.T) {
	each(t, func(t *testing.T, p *peer, opts Options, transport string) {
		s := dial(t, p, "/", opts, nil, transport)
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Go(func() {
				for i := range 10 {
					want := fmt.Sprint(g, "-", i)
					a, err := s.EmitWithAck(ctx5s(t), "echo", want)
					var got string
					if err != nil || a.Decode(0, &got) != nil || got != want {
						t.Errorf("ack %s for %s: %v", a, want, err)
						return
					}
				}
			})
		}
		wg.Wait()
		done := make(chan error, 2)
		_ = s.EmitWithAckFunc("echo", 5*time.Second, func(_ Args, err error) { done <- err }, "cb")
		if err := <-done; err != nil {
			t.Errorf("EmitWithAckFunc: %v", err)
		}
		_ = s.EmitWithAckFunc("no-such-event", 50*time.Millisecond, func(_ Args, err error) { done <- err })
		if err := <-done; !errors.Is(err, ErrAckTimeout) {
			t.Errorf("EmitWithAckFunc without an answer: %v", err)
		}
		if err := s.Emit("connect"); !errors.Is(err, ErrReserved) {
			t.Errorf("reserved event: %v", err)
		}
	})
}

// With a cookie jar in its HTTP client, the client sends the handshake's
// cookie back on every request, which is what sticky sessions at a load
// balancer route on.
func TestHTTPClientCarriesStickySessionCookie(t *testing.T) {
	srv := socketio.NewServer(&socketio.Options{Engine: engineio.Options{Cookie: &engineio.CookieOptions{}}})
	srv.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(_ *socketio.Socket, args socketio.Args, ack socketio.Ack) {
			v, _ := args.Values()
			_ = ack(v...)
		})
	})
	var mu sync.Mutex
	var withSID, withCookie int
	hs := siotest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sid := r.URL.Query().Get("sid"); sid != "" {
			c, err := r.Cookie("io")
			mu.Lock()
			withSID++
			if err == nil && c.Value == sid {
				withCookie++
			}
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}), srv)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Connect(ctx5s(t), hs.URL, &Options{
		Transports: []string{engineio.TransportPolling}, HTTPClient: &http.Client{Jar: jar},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	if got, err := s.EmitWithAck(ctx5s(t), "echo", "hi"); err != nil || got.String() != `["hi"]` {
		t.Fatalf("echo: %s %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if withSID == 0 || withCookie != withSID {
		t.Errorf("%d of %d session requests carried the session cookie", withCookie, withSID)
	}
}

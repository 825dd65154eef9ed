package sioadmin_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/redisadapter"
	"github.com/sio-dev/sio/runtime/sioadmin"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

const password = "s3cret"

// server is a Socket.IO server with the Admin UI's instrumentation and a
// "/" namespace whose sockets join "lobby" and answer "chat".
func server(t *testing.T, opts sioadmin.Options) (*socketio.Server, string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.NoAuth {
		opts.Auth = &sioadmin.BasicAuth{Username: "admin", PasswordHash: string(hash)}
	}
	opts.StatsInterval = 100 * time.Millisecond
	srv := socketio.NewServer(nil)
	srv.OnConnection(func(s *socketio.Socket) {
		s.Join("lobby")
		s.On("chat", func(s *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			_ = s.Emit("chat-echo", args.Raw(0))
		})
	})
	admin, err := sioadmin.Instrument(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	dist := filepath.Join(nodepeer.Dir(), "..", "..", "..", "node_modules", "@socket.io", "admin-ui", "ui", "dist")
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv)
	mux.Handle("/admin-ui/", http.StripPrefix("/admin-ui", sioadmin.UIHandler(os.DirFS(dist))))
	// Test hook: the "/" sockets send a chat message, for the events page.
	mux.HandleFunc("/test/chat", func(http.ResponseWriter, *http.Request) {
		for _, s := range srv.Of("/").Sockets() {
			_ = s.Emit("announcement", "hello from the server")
		}
	})
	return srv, siotest.Serve(t, mux, srv).URL
}

// events collects what an admin socket receives, by name.
type events struct {
	ch chan [2]any
}

func adminSocket(t *testing.T, url string, auth any) (*sioclient.Socket, *events, chan error) {
	t.Helper()
	m, err := sioclient.NewManager(url, &sioclient.Options{DisableReconnection: true, Transports: []string{engineio.TransportWebSocket}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	s := m.Socket("/admin", &sioclient.SocketOptions{Auth: auth})
	ev := &events{ch: make(chan [2]any, 1024)}
	s.OnAny(func(_ *sioclient.Socket, event string, args sioclient.Args) {
		ev.ch <- [2]any{event, args}
	})
	refused := make(chan error, 1)
	s.OnConnectError(func(_ *sioclient.Socket, err error) { refused <- err })
	s.Connect()
	return s, ev, refused
}

// next waits for the event named name and returns its arguments.
func (e *events) next(t *testing.T, name string) sioclient.Args {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-e.ch:
			if got[0] == name {
				return got[1].(sioclient.Args)
			}
		case <-deadline:
			t.Fatalf("no %q event", name)
		}
	}
}

// TestProtocol drives the admin namespace as the UI does: a wrong
// password is refused as the UI expects, a login gets a session (which
// logs in again), the features, every socket and the stats; actions act.
func TestProtocol(t *testing.T) {
	srv, url := server(t, sioadmin.Options{ServerID: "node-a"})
	user, err := sioclient.Connect(t.Context(), url+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Manager().Close()

	_, _, refused := adminSocket(t, url, map[string]string{"username": "admin", "password": "wrong"})
	select {
	case err := <-refused:
		if !strings.Contains(err.Error(), "invalid credentials") {
			t.Errorf("wrong password refused with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a wrong password was not refused")
	}

	_, ev, _ := adminSocket(t, url, map[string]string{"username": "admin", "password": password})
	var session string
	if err := ev.next(t, "session").Decode(0, &session); err != nil || len(session) != 16 {
		t.Fatalf("session %q, %v", session, err)
	}
	var config struct {
		SupportedFeatures []string `json:"supportedFeatures"`
	}
	_ = ev.next(t, "config").Decode(0, &config)
	if !strings.Contains(strings.Join(config.SupportedFeatures, ","), "DISCONNECT,MJOIN") || !strings.Contains(strings.Join(config.SupportedFeatures, ","), "ALL_EVENTS") {
		t.Errorf("features %v", config.SupportedFeatures)
	}
	var all []struct {
		ID, ClientID, Transport, Nsp string
		Rooms                        []string
		Handshake                    struct {
			Issued  int64
			Address string
			Headers map[string]string
		}
	}
	_ = ev.next(t, "all_sockets").Decode(0, &all)
	found := false
	for _, s := range all {
		if s.ID == user.ID() && s.Nsp == "/" {
			found = true
			if len(s.ClientID) != 12 || s.Transport == "" || s.Handshake.Issued == 0 || !strings.HasPrefix(s.Handshake.Address, "127.0.0.1") || len(s.Rooms) != 2 {
				t.Errorf("the user's socket as the UI sees it: %+v", s)
			}
		}
	}
	if !found {
		t.Errorf("all_sockets lacks the user's socket %s: %+v", user.ID(), all)
	}
	var stats struct {
		ServerID     string `json:"serverId"`
		PID          int    `json:"pid"`
		ClientsCount int    `json:"clientsCount"`
		Namespaces   []struct {
			Name         string `json:"name"`
			SocketsCount int    `json:"socketsCount"`
		} `json:"namespaces"`
		AggregatedEvents []struct {
			Timestamp int64  `json:"timestamp"`
			Type      string `json:"type"`
			Count     int    `json:"count"`
		} `json:"aggregatedEvents"`
	}
	_ = ev.next(t, "server_stats").Decode(0, &stats)
	if stats.ServerID != "node-a" || stats.PID != os.Getpid() || stats.ClientsCount < 2 {
		t.Errorf("server stats %+v", stats)
	}

	// The session id logs in without the password.
	_, again, _ := adminSocket(t, url, map[string]string{"sessionId": session})
	again.next(t, "config")

	// Events, as they happen.
	if err := user.Emit("chat", "hi"); err != nil {
		t.Fatal(err)
	}
	var received []json.RawMessage
	_ = ev.next(t, "event_received").Decode(2, &received)
	if len(received) != 2 || string(received[0]) != `"chat"` || string(received[1]) != `"hi"` {
		t.Errorf("event_received %s", received)
	}
	// Actions: join a room, then disconnect the socket. (Its id is read
	// first: the client forgets it once disconnected.)
	userID := user.ID()
	adminS, ev2, _ := adminSocket(t, url, map[string]string{"sessionId": session})
	ev2.next(t, "config")
	_ = adminS.Emit("join", "/", "vip", userID)
	ev.next(t, "room_joined")
	deadline := time.Now().Add(5 * time.Second)
	for !hasRoom(srv, userID, "vip") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !hasRoom(srv, userID, "vip") {
		t.Error("join did not put the socket in the room")
	}
	_ = adminS.Emit("_disconnect", "/", false, userID)
	var nsp, id, reason string
	for id != userID {
		// The user's own (another socket's, such as one the user had
		// before a reconnection, says nothing here).
		args := ev.next(t, "socket_disconnected")
		_ = args.Decode(0, &nsp)
		_ = args.Decode(1, &id)
		_ = args.Decode(2, &reason)
	}
	if nsp != "/" || id != userID || reason != string(socketio.ReasonServerNamespaceDisconnect) {
		t.Errorf("socket_disconnected %s %s %s", nsp, id, reason)
	}

	// A client that starts on polling and upgrades: the UI is told.
	upgrading, err := sioclient.Connect(t.Context(), url+"/", &sioclient.Options{Transports: []string{engineio.TransportPolling, engineio.TransportWebSocket}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer upgrading.Manager().Close()
	var updated struct{ ID, Nsp, Transport string }
	for updated.ID != upgrading.ID() {
		_ = ev.next(t, "socket_updated").Decode(0, &updated)
	}
	if updated.Nsp != "/" || updated.Transport != engineio.TransportWebSocket {
		t.Errorf("socket_updated %+v, want the socket on websocket", updated)
	}
}

func hasRoom(srv *socketio.Server, id, room string) bool {
	s := srv.Of("/").Socket(id)
	if s == nil {
		return false
	}
	for _, r := range s.Rooms() {
		if r == room {
			return true
		}
	}
	return false
}

// TestReadOnly: no actions are offered or served.
func TestReadOnly(t *testing.T) {
	srv, url := server(t, sioadmin.Options{ReadOnly: true})
	user, err := sioclient.Connect(t.Context(), url+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Manager().Close()
	s, ev, _ := adminSocket(t, url, map[string]string{"username": "admin", "password": password})
	var config struct {
		SupportedFeatures []string `json:"supportedFeatures"`
	}
	_ = ev.next(t, "config").Decode(0, &config)
	if strings.Join(config.SupportedFeatures, ",") != "AGGREGATED_EVENTS,ALL_EVENTS" {
		t.Errorf("read-only features %v", config.SupportedFeatures)
	}
	_ = s.Emit("_disconnect", "/", true, user.ID())
	ev.next(t, "server_stats") // a round trip later
	ev.next(t, "server_stats")
	if srv.Of("/").Socket(user.ID()) == nil {
		t.Error("a read-only UI disconnected a socket")
	}
}

// TestInstrumentRefuses: no silent open door, no plain-text password.
func TestInstrumentRefuses(t *testing.T) {
	srv := socketio.NewServer(nil)
	if _, err := sioadmin.Instrument(srv, sioadmin.Options{}); err == nil {
		t.Error("no Auth and no NoAuth was accepted")
	}
	if _, err := sioadmin.Instrument(srv, sioadmin.Options{Auth: &sioadmin.BasicAuth{Username: "a", PasswordHash: "plain"}}); err == nil {
		t.Error("a password that is not a bcrypt hash was accepted")
	}
}

// TestOfficialUIInChromium serves the UI the npm package ships and logs in
// to the server with it in headless Chromium: a wrong password is refused,
// then the sockets, rooms and events of the server show up.
func TestOfficialUIInChromium(t *testing.T) {
	nodepeer.Require(t)
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required: %v (apt-get install chromium)", err)
	}
	_, url := server(t, sioadmin.Options{ServerID: "node-a"})
	user, err := sioclient.Connect(t.Context(), url+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Manager().Close()
	shots := filepath.Join(nodepeer.Dir(), "..", "..", "..", ".tmp", "screenshots")
	_ = os.MkdirAll(shots, 0o755)
	nodepeer.Run(t, 90*time.Second, "browser_admin.mjs", url, user.ID(), password, filepath.Join(shots, "admin-ui.png"))
}

// TestSeveralNodes: two nodes on a real redis-server; a UI on one of them
// gets both nodes' stats, sees a socket of the other, and disconnects it.
func TestSeveralNodes(t *testing.T) {
	r := siotest.StartRedis(t)
	var urls []string
	var nodes []*socketio.Server
	for _, id := range []string{"node-a", "node-b"} {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = rdb.Close() })
		srv := socketio.NewServer(&socketio.Options{Adapter: redisadapter.New(rdb, nil)})
		admin, err := sioadmin.Instrument(srv, sioadmin.Options{NoAuth: true, ServerID: id, StatsInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(admin.Close)
		srv.Of("/")
		urls = append(urls, siotest.Serve(t, srv, srv).URL)
		nodes = append(nodes, srv)
	}
	user, err := sioclient.Connect(t.Context(), urls[1]+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Manager().Close()

	_, ev, _ := adminSocket(t, urls[0], nil)
	var all []struct{ ID, Nsp string }
	_ = ev.next(t, "all_sockets").Decode(0, &all)
	seen := false
	for _, s := range all {
		seen = seen || (s.ID == user.ID() && s.Nsp == "/")
	}
	if !seen {
		t.Errorf("the UI on node-a does not see node-b's socket %s: %+v", user.ID(), all)
	}
	servers := map[string]bool{}
	for len(servers) < 2 {
		var st struct {
			ServerID string `json:"serverId"`
		}
		_ = ev.next(t, "server_stats").Decode(0, &st)
		servers[st.ServerID] = true
	}
	if !servers["node-a"] || !servers["node-b"] {
		t.Errorf("stats from %v", servers)
	}
	// An action on node-a reaches the socket on node-b.
	userID := user.ID()
	s, _, _ := adminSocket(t, urls[0], nil)
	deadline := time.Now().Add(5 * time.Second)
	for !s.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.Emit("_disconnect", "/", false, userID)
	for nodes[1].Of("/").Socket(userID) != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if nodes[1].Of("/").Socket(userID) != nil {
		t.Error("the disconnect did not reach node-b")
	}
}

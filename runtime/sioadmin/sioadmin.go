// Package sioadmin lets the official Socket.IO Admin UI (@socket.io/admin-ui
// 0.5, the page at admin.socket.io or its ui/dist served by you) watch and
// act on a sio server: server stats and the dashboard's charts, namespaces,
// sockets with their handshake, rooms, clients, events as they happen, and
// the UI's actions (join, leave, disconnect). It speaks the protocol of the
// instrumentation the npm package ships, on its own namespace ("/admin").
//
//	hash, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
//	admin, err := sioadmin.Instrument(srv, sioadmin.Options{
//		Auth: &sioadmin.BasicAuth{Username: "admin", PasswordHash: string(hash)},
//	})
//	defer admin.Close()
//
// Several nodes on one adapter (Redis) each send their own server stats
// under their ServerID, and the UI shows all of them, since the admin
// namespace's broadcasts reach every node's admin sockets. The per-socket
// events (Development) are sent by the node the socket is on.
package sioadmin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sio-dev/sio/runtime/socketio"
)

// Options configure the instrumentation.
type Options struct {
	// Namespace is where the UI connects. Default "/admin".
	Namespace string
	// Auth is the UI's login: a username and a bcrypt hash of the
	// password. One of Auth and NoAuth must be set.
	Auth *BasicAuth
	// NoAuth lets anyone who reaches the namespace in, when the server is
	// otherwise protected; it must be chosen explicitly.
	NoAuth bool
	// ReadOnly refuses the UI's actions (join, leave, disconnect, emit):
	// the UI then shows no buttons for them.
	ReadOnly bool
	// Production sends only the server stats and the dashboard's
	// aggregates, not every socket, room change and event (the reference's
	// mode "production"); the UI then shows the dashboard and servers only.
	Production bool
	// ServerID names this node in the UI. Default: the host name.
	ServerID string
	// Sessions keeps the session ids the UI logs in again with. Default:
	// in memory, for 24 hours. Several nodes need a shared one.
	Sessions SessionStore
	// StatsInterval is how often the server stats are sent. Default 2 s,
	// as the reference's.
	StatsInterval time.Duration
}

// BasicAuth is the UI's username and password login.
type BasicAuth struct {
	Username string
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$) of the password.
	PasswordHash string
}

// SessionStore keeps the sessions of logged-in UIs.
type SessionStore interface {
	// Save records a new session id.
	Save(id string)
	// Exists reports whether id is a live session.
	Exists(id string) bool
}

// Admin is a running instrumentation.
type Admin struct {
	srv     *socketio.Server
	nsp     *socketio.Namespace
	opts    Options
	started time.Time
	stop    chan struct{}
	once    sync.Once

	// sessions made by a login, emitted once the socket has connected.
	pending sync.Map // *socketio.Socket -> session id
}

// Instrument starts the instrumentation of srv.
func Instrument(srv *socketio.Server, opts Options) (*Admin, error) {
	if opts.Auth == nil && !opts.NoAuth {
		return nil, errors.New("sioadmin: set Auth, or NoAuth to let anyone in")
	}
	if opts.Auth != nil {
		if _, err := bcrypt.Cost([]byte(opts.Auth.PasswordHash)); err != nil {
			return nil, fmt.Errorf("sioadmin: PasswordHash is not a bcrypt hash: %w", err)
		}
	}
	if opts.Namespace == "" {
		opts.Namespace = "/admin"
	}
	if opts.ServerID == "" {
		opts.ServerID, _ = os.Hostname()
	}
	if opts.Sessions == nil {
		opts.Sessions = newMemorySessions(24 * time.Hour)
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = 2 * time.Second
	}
	a := &Admin{srv: srv, nsp: srv.Of(opts.Namespace), opts: opts, started: time.Now(), stop: make(chan struct{})}
	if opts.Auth != nil {
		a.nsp.Use(a.authenticate)
	}
	a.nsp.OnConnection(a.onAdmin)
	if !opts.Production {
		srv.OnNamespace(a.watch)
	}
	go a.sendStats()
	return a, nil
}

// Close stops sending stats. Handlers already installed stay, silent once
// no UI is connected.
func (a *Admin) Close() {
	a.once.Do(func() { close(a.stop) })
}

// credentials is the auth payload the UI sends: a login, or the session
// id of an earlier one.
type credentials struct {
	SessionID string `json:"sessionId"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// errInvalid is the refusal the UI recognises and shows as such.
var errInvalid = &socketio.ConnectError{Message: "invalid credentials"}

// authenticate admits a UI with a live session id or the right login.
func (a *Admin) authenticate(s *socketio.Socket) error {
	var c credentials
	_ = json.Unmarshal(s.Handshake().Auth, &c)
	if c.SessionID != "" && a.opts.Sessions.Exists(c.SessionID) {
		return nil
	}
	auth := a.opts.Auth
	userOK := subtle.ConstantTimeCompare([]byte(c.Username), []byte(auth.Username)) == 1
	// The hash is compared even for a wrong username, so that the time
	// taken does not tell which was wrong.
	passOK := bcrypt.CompareHashAndPassword([]byte(auth.PasswordHash), []byte(c.Password)) == nil
	if !userOK || !passOK {
		return errInvalid
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	a.opts.Sessions.Save(id)
	a.pending.Store(s, id)
	return nil
}

// onAdmin greets a UI: its session, the features, and (in development
// mode) every socket; then it serves the UI's actions.
func (a *Admin) onAdmin(s *socketio.Socket) {
	if id, ok := a.pending.LoadAndDelete(s); ok {
		// After the CONNECT: the UI listens for it once connected.
		_ = s.Emit("session", id)
	}
	_ = s.Emit("config", map[string]any{"supportedFeatures": a.features()})
	if !a.opts.Production {
		_ = s.Emit("all_sockets", a.allSockets())
	}
	if !a.opts.ReadOnly {
		a.serveActions(s)
	}
}

// features is what the UI may offer, as the reference lists them.
func (a *Admin) features() []string {
	var f []string
	if !a.opts.ReadOnly {
		f = append(f, "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")
	}
	f = append(f, "AGGREGATED_EVENTS")
	if !a.opts.Production {
		f = append(f, "ALL_EVENTS")
	}
	return f
}

// namespace returns the namespace named name if the server holds it; the
// UI's actions never create one.
func (a *Admin) namespace(name string) *socketio.Namespace {
	for _, n := range a.srv.Namespaces() {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// target is the sockets an action is for: the room filter (a socket id is
// a room too), or the whole namespace without one.
func target(n *socketio.Namespace, filter string) socketio.BroadcastOperator {
	if filter == "" {
		return n.In()
	}
	return n.In(filter)
}

// serveActions handles the UI's commands on its socket s.
func (a *Admin) serveActions(s *socketio.Socket) {
	s.On("_disconnect", func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
		var nsp, filter string
		var closeConn bool
		_ = args.Decode(0, &nsp)
		_ = args.Decode(1, &closeConn)
		_ = args.Decode(2, &filter)
		if n := a.namespace(nsp); n != nil {
			target(n, filter).DisconnectSockets(closeConn)
		}
	})
	// join(nsp, room, filter?) and leave(nsp, room, filter?).
	rooms := func(act func(socketio.BroadcastOperator, string)) socketio.EventHandler {
		return func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
			var nsp, room, filter string
			_ = args.Decode(0, &nsp)
			_ = args.Decode(1, &room)
			_ = args.Decode(2, &filter)
			if n := a.namespace(nsp); n != nil && room != "" {
				act(target(n, filter), room)
			}
		}
	}
	s.On("join", rooms(func(b socketio.BroadcastOperator, room string) { b.SocketsJoin(room) }))
	s.On("leave", rooms(func(b socketio.BroadcastOperator, room string) { b.SocketsLeave(room) }))
	s.On("emit", func(_ *socketio.Socket, args socketio.Args, _ socketio.Ack) {
		var nsp, filter, event string
		_ = args.Decode(0, &nsp)
		_ = args.Decode(1, &filter)
		if args.Decode(2, &event) != nil || event == "" {
			return
		}
		rest := make([]any, 0, args.Len())
		for i := 3; i < args.Len(); i++ {
			rest = append(rest, args.Raw(i))
		}
		if n := a.namespace(nsp); n != nil {
			_ = target(n, filter).Emit(event, rest...)
		}
	})
}

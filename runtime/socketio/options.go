package socketio

import (
	"io/fs"
	"log/slog"
	"time"

	"github.com/sio-dev/sio/runtime/internal/siolog"

	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio/sioadapter"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// Options configures a Server. The zero value is a valid configuration
// with the reference socket.io 4 server's defaults.
type Options struct {
	// Engine configures the Engine.IO layer. Its Path defaults to
	// "/socket.io/" here.
	Engine engineio.Options

	// ConnectTimeout closes a connection that has joined no namespace
	// within it. Default 45s.
	ConnectTimeout time.Duration

	// MaxAttachments is the most binary attachments one packet may carry.
	// Default 10.
	MaxAttachments int

	// Adapter creates each namespace's adapter. Default
	// sioadapter.NewMemory, for one node; the Redis, Redis Streams and
	// PostgreSQL adapters serve several.
	Adapter sioadapter.Factory

	// ConnectionStateRecovery, if set, lets clients that reconnect soon
	// enough resume their session (the adapter must be a
	// sioadapter.SessionStore, as the memory adapter and those of this
	// module are).
	ConnectionStateRecovery *RecoveryOptions

	// MaxNamespacesPerConnection is the most namespaces one connection may
	// join at once; a CONNECT past it gets a connect_error "Too many
	// namespaces on this connection". Default 100; negative means no limit
	// (the reference has none).
	MaxNamespacesPerConnection int

	// MaxDynamicNamespaces is the most children of dynamic namespaces
	// (OfFunc, OfRegexp) the server holds at once; a CONNECT that would
	// create one more gets a connect_error "Too many namespaces on this
	// server", and the first refusal is logged at Warn. Default 10000;
	// negative means no limit.
	MaxDynamicNamespaces int

	// KeepEmptyChildNamespaces keeps a child of a dynamic namespace when
	// its last socket leaves (or its only CONNECT is refused). By default
	// the child is removed and its adapter closed, like the reference's
	// cleanupEmptyChildNamespaces, which the reference leaves off: here it
	// is on, because otherwise every name a client ever tried costs memory
	// until the server stops. With ConnectionStateRecovery the removal
	// waits MaxDisconnectionDuration, so that sessions stay recoverable. A
	// namespace taken with Server.Of is kept.
	KeepEmptyChildNamespaces bool

	// ClientFiles, if set, is served under Engine.Path as the reference's
	// serveClient does: socket.io.js, socket.io.min.js, socket.io.esm.min.js,
	// socket.io.msgpack.min.js and their .map files, with ETags, so that a
	// page's <script src="/socket.io/socket.io.js"> works. Give it the dist
	// directory of the socket.io-client npm package, for example
	// os.DirFS("node_modules/socket.io-client/dist"). Off by default: sio
	// ships no copy of the client (the reference serves its own).
	ClientFiles fs.FS

	// Parser is the packets' wire format: sioparser.Default (what nil
	// means), the reference's text format, or sioparser.MessagePack for
	// clients created with socket.io-msgpack-parser. Every client of the
	// server must use the same one.
	Parser sioparser.Parser

	// Logger receives refused namespaces and protocol violations (at
	// debug, with the session id), limits reached (warn) and handler
	// panics (error, with the stack). Default slog.Default(), which the
	// Engine.IO layer shares unless Engine.Logger is set; SIO_DEBUG=socketio
	// (or engineio, or *) turns on a layer's debug records.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.Engine.Path == "" {
		c.Engine.Path = "/socket.io/"
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 45 * time.Second
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = 10
	}
	if c.MaxNamespacesPerConnection == 0 {
		c.MaxNamespacesPerConnection = defaultMaxNamespacesPerConnection
	}
	if c.MaxDynamicNamespaces == 0 {
		c.MaxDynamicNamespaces = defaultMaxDynamicNamespaces
	}
	c.Parser = customParser(c.Parser)
	if c.Adapter == nil {
		c.Adapter = func(h sioadapter.Host) sioadapter.Adapter { return sioadapter.NewMemory(h) }
	}
	if c.Engine.Logger == nil {
		// The Engine.IO layer logs where this one does (with its own
		// SIO_DEBUG switch, set by its defaults).
		c.Engine.Logger = c.Logger
	}
	c.Logger = siolog.Logger("socketio", c.Logger)
	if c.ConnectionStateRecovery != nil {
		r := *c.ConnectionStateRecovery
		if r.MaxDisconnectionDuration <= 0 {
			r.MaxDisconnectionDuration = 2 * time.Minute
		}
		c.ConnectionStateRecovery = &r
	}
	return c
}

// Package siolog chooses the logger of each layer of the runtime: the one
// its options give, else slog.Default(). The environment variable
// SIO_DEBUG turns on a layer's debug records without a change of code, as
// DEBUG=socket.io* does for the reference server:
//
//	SIO_DEBUG=engineio,socketio,rpc   those layers
//	SIO_DEBUG=*                       every layer
//
// The layers are engineio, socketio, sioclient, rpc, redisadapter,
// clusteradapter, redisstreamsadapter and postgresadapter. A layer turned
// on passes its debug records to its handler whatever level the handler
// is set to.
package siolog

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// EnvVar is the environment variable that names the layers to debug.
const EnvVar = "SIO_DEBUG"

// debugged reads SIO_DEBUG once: the set of layers it names.
var debugged = sync.OnceValue(func() map[string]bool { return parse(os.Getenv(EnvVar)) })

func parse(v string) map[string]bool {
	set := map[string]bool{}
	for _, name := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		set[strings.ToLower(name)] = true
	}
	return set
}

// Logger returns given, or slog.Default() if it is nil, passing debug
// records through when SIO_DEBUG names layer (or is "*").
func Logger(layer string, given *slog.Logger) *slog.Logger {
	return choose(layer, given, debugged())
}

func choose(layer string, given *slog.Logger, debug map[string]bool) *slog.Logger {
	if given == nil {
		given = slog.Default()
	}
	if !debug[layer] && !debug["*"] && !debug["all"] {
		return given
	}
	return slog.New(debugHandler{given.Handler()}).With("layer", layer)
}

// debugHandler passes records of every level from debug up to its handler.
type debugHandler struct{ next slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelDebug || h.next.Enabled(ctx, level)
}

func (h debugHandler) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }

func (h debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugHandler{h.next.WithAttrs(attrs)}
}

func (h debugHandler) WithGroup(name string) slog.Handler {
	return debugHandler{h.next.WithGroup(name)}
}

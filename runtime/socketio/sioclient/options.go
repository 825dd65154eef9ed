package sioclient

import (
	"crypto/tls"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/sio-dev/sio/runtime/internal/siolog"
	"github.com/sio-dev/sio/runtime/socketio/sioparser"
)

// Options configures a Manager. The zero value has the defaults of the
// reference socket.io-client 4.
type Options struct {
	// Path is the server's Socket.IO path. Default "/socket.io/".
	Path string
	// Query is added to every request's query string.
	Query url.Values
	// Header is added to every HTTP request and the WebSocket handshake.
	Header http.Header
	// Transports to use, in order: the connection opens on the first.
	// Default [polling, websocket].
	Transports []string
	// DisableUpgrade keeps a polling connection on polling.
	DisableUpgrade bool
	// TLSConfig is used for https and wss URLs.
	TLSConfig *tls.Config
	// HTTPClient sends the long-polling requests: give one with a cookie
	// jar to follow a load balancer's sticky-session cookie. Default: a
	// client of each connection's own, using TLSConfig.
	HTTPClient *http.Client

	// Timeout bounds each connection attempt. Default 20s.
	Timeout time.Duration

	// RetryConnect makes Connect retry a failed first connection attempt,
	// with the reconnection backoff, until its context is done. By default
	// Connect returns the first attempt's error, so that an unreachable
	// server is reported at once.
	RetryConnect bool

	// DisableReconnection stops the manager from reconnecting after the
	// connection is lost or an attempt fails.
	DisableReconnection bool
	// ReconnectionAttempts is how many attempts are made before giving up.
	// Zero means no limit.
	ReconnectionAttempts int
	// ReconnectionDelay is the delay before the first attempt; it doubles
	// with each failed attempt. Default 1s.
	ReconnectionDelay time.Duration
	// ReconnectionDelayMax caps the delay. Default 5s.
	ReconnectionDelayMax time.Duration
	// RandomizationFactor spreads delays by up to this fraction, so that
	// clients do not reconnect in lockstep. Default 0.5; negative for none.
	RandomizationFactor float64

	// Parser is the packets' wire format: sioparser.Default (what nil
	// means), the reference's text format, or sioparser.MessagePack for a
	// server using socket.io-msgpack-parser. It must be the server's.
	Parser sioparser.Parser

	// Logger receives protocol errors (at debug). Default slog.Default();
	// SIO_DEBUG=sioclient turns its debug records on.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if c.Timeout <= 0 {
		c.Timeout = 20 * time.Second
	}
	if c.ReconnectionDelay <= 0 {
		c.ReconnectionDelay = time.Second
	}
	if c.ReconnectionDelayMax <= 0 {
		c.ReconnectionDelayMax = 5 * time.Second
	}
	if c.RandomizationFactor == 0 {
		c.RandomizationFactor = 0.5
	} else if c.RandomizationFactor < 0 {
		c.RandomizationFactor = 0
	}
	c.Logger = siolog.Logger("sioclient", c.Logger)
	c.Parser = customParser(c.Parser)
	return c
}

// customParser returns p, or nil for the default parser, whose paths are
// written out.
func customParser(p sioparser.Parser) sioparser.Parser {
	switch p.(type) {
	case nil, sioparser.Default, *sioparser.Default:
		return nil
	}
	return p
}

// backoff computes reconnection delays: exponential from min to max, each
// spread by up to ±jitter of itself.
type backoff struct {
	min, max time.Duration
	jitter   float64
	attempts int
}

// next returns the delay before the next attempt and counts it.
func (b *backoff) next() time.Duration {
	d := float64(b.min) * float64(uint64(1)<<min(b.attempts, 30))
	b.attempts++
	if b.jitter > 0 {
		deviation := rand.Float64() * b.jitter * d
		if rand.IntN(2) == 0 {
			d -= deviation
		} else {
			d += deviation
		}
	}
	return min(time.Duration(d), b.max)
}

func (b *backoff) reset() { b.attempts = 0 }

package engineio

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sio-dev/sio/runtime/internal/siolog"
)

// Transport names, as they appear in the "transport" query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Options configures a Server. The zero value is a valid configuration with
// the defaults of the reference engine.io 6 server.
type Options struct {
	// Path is where the server answers. Requests whose path does not start
	// with it get 404. Default "/engine.io/". A trailing slash is added.
	Path string

	// PingInterval is how often the server sends a ping. Default 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for the pong before closing
	// the session with reason "ping timeout". Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout is how long a WebSocket probe may take to complete the
	// upgrade before the probe is dropped. Default 10s.
	UpgradeTimeout time.Duration

	// MaxHTTPBufferSize is the largest message or polling payload, in bytes,
	// that a client may send: a larger WebSocket message closes the session
	// (close code 1009), a larger polling POST is answered 413 and dropped,
	// the session kept. It is announced to clients as maxPayload. Default 1e6.
	MaxHTTPBufferSize int64

	// Transports lists the transports the server accepts, from
	// TransportPolling and TransportWebSocket. Default both.
	Transports []string
	// DisableUpgrades stops polling sessions from upgrading to WebSocket.
	DisableUpgrades bool

	// AllowEIO3 accepts clients of protocol revision 3 (Socket.IO 2
	// clients, and requests without an EIO parameter, which the reference
	// takes for revision 3) beside revision 4 ones. Off by default, as in
	// the reference: such requests get "Unsupported protocol version".
	AllowEIO3 bool

	// AllowRequest, if set, vets every handshake request. A non-nil error
	// rejects it: a *RequestError chooses the status and message, any other
	// error becomes 403 with the error's text as message.
	AllowRequest func(r *http.Request) error

	// GenerateID, if set, returns the id of a new session. It must be unique
	// and unguessable. Default: 15 random bytes from crypto/rand, base64url.
	GenerateID func(r *http.Request) string

	// CORS, if set, adds cross-origin headers and answers preflight requests.
	CORS *CORSOptions
	// Cookie, if set, is sent with the handshake so that a load balancer can
	// keep a client's requests on one node (sticky sessions). Off by default.
	Cookie *CookieOptions

	// PerMessageDeflate negotiates WebSocket compression. Off by default.
	PerMessageDeflate bool
	// DisableHTTPCompression turns off gzip/deflate of polling responses.
	DisableHTTPCompression bool
	// HTTPCompressionThreshold is the smallest polling response, in bytes,
	// that is compressed. Default 1024.
	HTTPCompressionThreshold int

	// MaxPendingBytes bounds the data queued for one session that the client
	// has not taken yet. A client that falls further behind is disconnected
	// with reason "transport error" and ErrSlowConsumer. Default 16 MiB.
	MaxPendingBytes int
	// WriteTimeout bounds one WebSocket write. Default 10s.
	WriteTimeout time.Duration

	// Logger receives refused requests and handshakes, protocol errors and
	// oversize messages (at debug, with the remote address and session id).
	// Default slog.Default(); SIO_DEBUG=engineio turns its debug records on.
	Logger *slog.Logger
}

// CORSOptions configures cross-origin resource sharing for polling requests.
type CORSOptions struct {
	// Origins lists allowed origins; "*" allows any. Ignored if AllowOrigin is set.
	Origins []string
	// AllowOrigin, if set, decides whether an origin is allowed.
	AllowOrigin func(origin string) bool
	// Credentials sets Access-Control-Allow-Credentials. With it, the
	// request's origin is echoed instead of "*".
	Credentials bool
	// Methods for preflight responses. Default GET, HEAD, PUT, PATCH, POST, DELETE.
	Methods []string
	// Headers allowed in preflight responses. Default: the requested ones.
	Headers []string
	// MaxAge of a preflight result. Zero sends no Access-Control-Max-Age.
	MaxAge time.Duration
}

// CookieOptions configures the handshake cookie.
type CookieOptions struct {
	Name     string // default "io"
	Path     string // default "/"
	HTTPOnly bool
	SameSite http.SameSite // default Lax
	Secure   bool
	MaxAge   int
}

func (o *Options) withDefaults() Options {
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.Path == "" {
		c.Path = "/engine.io/"
	}
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PingInterval, 25*time.Second)
	def(&c.PingTimeout, 20*time.Second)
	def(&c.UpgradeTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.MaxHTTPBufferSize <= 0 {
		c.MaxHTTPBufferSize = 1e6
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{TransportPolling, TransportWebSocket}
	} else {
		c.Transports = slices.Clone(c.Transports)
	}
	if c.HTTPCompressionThreshold <= 0 {
		c.HTTPCompressionThreshold = 1024
	}
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = 16 << 20
	}
	c.Logger = siolog.Logger("engineio", c.Logger)
	if c.Cookie != nil {
		ck := *c.Cookie
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" {
			ck.Path = "/"
		}
		if ck.SameSite == 0 {
			ck.SameSite = http.SameSiteLaxMode
		}
		c.Cookie = &ck
	}
	return c
}

func (o *Options) allows(transport string) bool { return slices.Contains(o.Transports, transport) }

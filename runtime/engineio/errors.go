package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
)

// CloseReason says why a session ended. The values are the reference
// implementation's strings, which the Socket.IO layer passes on to users.
type CloseReason string

// Close reasons.
const (
	ReasonTransportClose CloseReason = "transport close"      // the peer closed the connection or sent a close packet
	ReasonTransportError CloseReason = "transport error"      // I/O failed, the peer broke the protocol, or fell too far behind
	ReasonParseError     CloseReason = "parse error"          // the peer sent a packet that does not decode
	ReasonPingTimeout    CloseReason = "ping timeout"         // the heartbeat went unanswered
	ReasonForcedClose    CloseReason = "forced close"         // Close was called on this side
	ReasonServerShutdown CloseReason = "server shutting down" // the server is closing
)

// Errors reported with a close reason or returned by methods.
var (
	ErrClosed       = errors.New("engineio: session closed")
	ErrServerClosed = errors.New("engineio: server closed")
	ErrSlowConsumer = errors.New("engineio: peer fell too far behind; pending data over MaxPendingBytes")
	ErrPayloadSize  = errors.New("engineio: payload over MaxHTTPBufferSize")
	ErrPollOverlap  = errors.New("engineio: overlapping polling requests")
	ErrPollAborted  = errors.New("engineio: polling request closed prematurely")
	ErrHeartbeat    = errors.New("engineio: ping from client (invalid heartbeat direction)")
)

// Protocol error codes, sent in {"code":N,"message":"..."} bodies.
const (
	codeUnknownTransport   = 0
	codeUnknownSID         = 1
	codeBadHandshakeMethod = 2
	codeBadRequest         = 3
	codeForbidden          = 4
	codeUnsupportedVersion = 5
)

var codeMessages = [...]string{
	codeUnknownTransport:   "Transport unknown",
	codeUnknownSID:         "Session ID unknown",
	codeBadHandshakeMethod: "Bad handshake method",
	codeBadRequest:         "Bad request",
	codeForbidden:          "Forbidden",
	codeUnsupportedVersion: "Unsupported protocol version",
}

// RequestError rejects a handshake from Options.AllowRequest with a chosen
// HTTP status and message.
type RequestError struct {
	Status  int    // HTTP status; default 403
	Message string // sent to the client as "message"
}

// Error returns the rejection message.
func (e *RequestError) Error() string { return "engineio: request rejected: " + e.Message }

// writeError answers with the reference's JSON error body.
func writeError(w http.ResponseWriter, code int, message string) {
	status := http.StatusBadRequest
	if code == codeForbidden {
		status = http.StatusForbidden
	}
	writeErrorStatus(w, status, code, message)
}

func writeErrorStatus(w http.ResponseWriter, status, code int, message string) {
	if message == "" {
		message = codeMessages[code]
	}
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

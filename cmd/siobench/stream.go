package main

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
)

// bidiEvent is the bidirectional echo stream of examples/benchserver
// (internal/benchsrv), on ChatService's namespace.
const bidiEvent = "bench.v1.BenchService/Echo"

// streamWindow is the flow-control window the tool grants (PROTOCOL.md).
const streamWindow = 256 << 10

// bidi runs one per-call stream per client, with inflight messages in
// flight on each (within the flow-control window), the server echoing
// every one: messages per second and per-message latency, to compare with
// the unary calls of the rpc scenario.
func bidi(cfg config) (map[string]any, error) {
	if cfg.raw {
		return nil, fmt.Errorf("a raw echo does not speak the stream protocol")
	}
	cfg.nsp = chatv1sio.ChatServiceNamespace
	conns, err := dialAll(cfg, cfg.clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	msg, _ := proto.Marshal(&chatv1.SendMessageRequest{Room: "lobby", User: "bench", Text: "hello"})
	var total atomic.Int64
	var firstErr firstError
	var mu sync.Mutex
	var latencies []time.Duration
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			mine, err := c.runStream(msg, cfg.inflight, deadline)
			if err != nil {
				firstErr.set(err)
			}
			total.Add(int64(len(mine)))
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstErr.get(); err != nil {
		return nil, err
	}
	slices.Sort(latencies)
	return map[string]any{
		"calls":       total.Load(),
		"per_second":  float64(total.Load()) / elapsed.Seconds(),
		"clients":     cfg.clients,
		"in_flight":   cfg.inflight,
		"elapsed_sec": elapsed.Seconds(),
		"p50_us":      float64(percentile(latencies, 0.50).Microseconds()),
		"p99_us":      float64(percentile(latencies, 0.99).Microseconds()),
	}, nil
}

// runStream opens the echo stream, keeps inflight messages in flight
// until the deadline, and returns each message's round trip.
func (c *conn) runStream(msg []byte, inflight int, deadline time.Time) ([]time.Duration, error) {
	const id = "1"
	open := []byte("42" + c.nsp + "0" + `["` + bidiEvent + `",null,{"id":"` + id + `","window":` + strconv.Itoa(streamWindow) + `}]`)
	if err := c.ws.WriteMessage(websocket.TextMessage, open); err != nil {
		return nil, err
	}
	_ = c.ws.SetReadDeadline(deadline.Add(10 * time.Second))
	_, ack, err := c.readText()
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(ack, []byte("43"+c.nsp+"0")) || !bytes.Contains(ack, []byte(`"window"`)) {
		return nil, fmt.Errorf("%w: stream open answered %q", errBadReply, ack)
	}
	// The server's window: this side may send while its credit is positive.
	credit := int64(streamWindow)
	cost := int64(len(msg) + 32)
	header := []byte("451-" + c.nsp + `["sio:call:msg","` + id + `",{"_placeholder":true,"num":0}]`)
	var sent []time.Time // in order: the stream keeps it
	var rtts []time.Duration
	consumed := int64(0)
	send := func() error {
		if err := c.ws.WriteMessage(websocket.TextMessage, header); err != nil {
			return err
		}
		if err := c.ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return err
		}
		credit -= cost
		sent = append(sent, time.Now())
		return nil
	}
	for range inflight {
		if err := send(); err != nil {
			return nil, err
		}
	}
	creditPrefix := []byte("42" + c.nsp + `["sio:call:credit","` + id + `",`)
	// A server that recovers sessions gives the socket an offset now and
	// then (runtime/rpc's sio:call:offset); it is not the stream's.
	offsetPrefix := []byte("42" + c.nsp + `["sio:call:offset",`)
	for len(sent) > 0 {
		_, frame, err := c.readText()
		if err != nil {
			return rtts, err
		}
		if n, ok := bytes.CutPrefix(frame, creditPrefix); ok {
			v, _ := strconv.ParseInt(string(bytes.TrimSuffix(n, []byte("]"))), 10, 64)
			credit += v
			continue
		}
		if bytes.HasPrefix(frame, offsetPrefix) {
			continue
		}
		if !bytes.Equal(frame, header) {
			return rtts, fmt.Errorf("%w: %q on the stream", errBadReply, frame)
		}
		mt, att, err := c.ws.ReadMessage()
		if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(att, msg) {
			return rtts, fmt.Errorf("%w: stream message of %d bytes", errBadReply, len(att))
		}
		rtts = append(rtts, time.Since(sent[0]))
		sent = sent[1:]
		if consumed += cost; consumed >= streamWindow/2 {
			grant := []byte("42" + c.nsp + `["sio:call:credit","` + id + `",` + strconv.FormatInt(consumed, 10) + `]`)
			if err := c.ws.WriteMessage(websocket.TextMessage, grant); err != nil {
				return rtts, err
			}
			consumed = 0
		}
		if time.Now().Before(deadline) && credit > 0 {
			if err := send(); err != nil {
				return rtts, err
			}
		}
	}
	return rtts, nil
}

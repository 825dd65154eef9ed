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

// fanoutKind is how one fanout variant subscribes, publishes and reads.
type fanoutKind struct {
	nsp string
	// subscribe puts a receiver in the room.
	subscribe func(c *conn) error
	// publish is the frame that asks the server to broadcast message n,
	// and attachment, if set, the binary frame that follows it.
	publish    func(n int64) []byte
	attachment func(n int64) []byte
	// next reads the next broadcast a receiver gets: its number and send time.
	next func(c *conn) (n, sentAt int64, err error)
}

// plainFanout: receivers join a room; a publisher keeps up to inflight
// broadcasts outstanding (acked by the server once queued).
var plainFanout = fanoutKind{
	nsp: "/",
	subscribe: func(c *conn) error {
		if err := c.send(&request{event: "join", text: []byte(`"fan"`), wantArg: []byte{}}, 0); err != nil {
			return err
		}
		_, err := c.recvEmptyAck()
		return err
	},
	publish: func(n int64) []byte {
		return []byte(`42` + strconv.FormatInt(n, 10) + `["fanout","fan",{"n":` + strconv.FormatInt(n, 10) + `,"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}]`)
	},
	next: func(c *conn) (int64, int64, error) {
		_, msg, err := c.readText()
		if err != nil {
			return 0, 0, err
		}
		n, t, ok := parseMsg(msg)
		if !ok {
			return 0, 0, fmt.Errorf("%w: %q", errBadReply, msg)
		}
		return n, t, nil
	},
}

// fanout: every receiver must get every message, in order. Latency is
// from the timestamp each message carries to its arrival.
func fanout(cfg config) (map[string]any, error) { return fanoutWith(cfg, plainFanout) }

func fanoutWith(cfg config, kind fanoutKind) (map[string]any, error) {
	cfg.nsp = kind.nsp
	raiseFileLimit() // a large room's receivers are all in this process
	receivers, err := dialReceivers(cfg, cfg.clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(receivers)
	for _, c := range receivers {
		if err := kind.subscribe(c); err != nil {
			return nil, err
		}
	}
	pub, err := dial(cfg.url, false, cfg.clients, kind.nsp)
	if err != nil {
		return nil, err
	}
	defer pub.close()

	var delivered atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr firstError
	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range receivers {
		wg.Go(func() {
			want := int64(0)
			var mine []time.Duration
			for {
				n, sentAt, err := kind.next(c)
				if err != nil {
					select {
					case <-stop:
					default:
						firstErr.set(err)
					}
					break
				}
				if n != want {
					firstErr.set(fmt.Errorf("%w: got message %d, want %d", errBadReply, n, want))
					break
				}
				want++
				delivered.Add(1)
				if n%16 == 0 {
					mine = append(mine, time.Duration(time.Now().UnixNano()-sentAt))
				}
				if want == published.Load() {
					select {
					case <-stop:
						mu.Lock()
						latencies = append(latencies, mine...)
						mu.Unlock()
						return
					default:
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}

	cpuBefore, writesBefore := processCPU(cfg.pids), processWrites(cfg.pids)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	outstanding := 0
	var n int64
	for time.Now().Before(deadline) || outstanding > 0 {
		for outstanding < cfg.inflight && time.Now().Before(deadline) {
			if err := pub.ws.WriteMessage(websocket.TextMessage, kind.publish(n)); err != nil {
				return nil, err
			}
			if kind.attachment != nil {
				if err := pub.ws.WriteMessage(websocket.BinaryMessage, kind.attachment(n)); err != nil {
					return nil, err
				}
			}
			n++
			published.Store(n)
			outstanding++
		}
		_ = pub.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := pub.recvEmptyAck(); err != nil {
			return nil, err
		}
		outstanding--
	}
	publishTime := time.Since(start)
	// Wait (bounded) for the last deliveries; a receiver that has already
	// failed will not get them.
	want := n * int64(cfg.clients)
	for wait := time.Now().Add(10 * time.Second); delivered.Load() < want && firstErr.get() == nil && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu, writes := processCPU(cfg.pids)-cpuBefore, processWrites(cfg.pids)-writesBefore
	close(stop)
	closeAll(receivers)
	wg.Wait()
	if err := firstErr.get(); err != nil {
		return nil, err
	}
	if got := delivered.Load(); got != want {
		return nil, fmt.Errorf("%w: %d of %d messages delivered", errBadReply, got, want)
	}
	slices.Sort(latencies)
	res := map[string]any{
		"published":   n,
		"receivers":   cfg.clients,
		"delivered":   want,
		"per_second":  float64(want) / elapsed.Seconds(),
		"publish_sec": publishTime.Seconds(),
		"p50_us":      float64(percentile(latencies, 0.5).Microseconds()),
		"p99_us":      float64(percentile(latencies, 0.99).Microseconds()),
	}
	if len(cfg.pids) > 0 && want > 0 {
		res["server_cpu_us_per_delivered"] = float64(cpu.Nanoseconds()) / 1e3 / float64(want)
		// How many frames share a write: what a broadcast's cost per
		// message mostly depends on (the publisher's acks are counted too).
		res["server_writes_per_delivered"] = float64(writes) / float64(want)
	}
	return res, nil
}

// recvEmptyAck reads an ack (any id) with no arguments.
func (c *conn) recvEmptyAck() (uint64, error) {
	_, msg, err := c.readText()
	if err != nil {
		return 0, err
	}
	rest, ok := bytes.CutPrefix(msg, []byte("43"+c.nsp))
	if !ok {
		return 0, fmt.Errorf("%w: %q", errBadReply, msg)
	}
	id, rest := leadingUint(rest)
	if string(rest) != "[]" {
		return 0, fmt.Errorf("%w: %q", errBadReply, msg)
	}
	return id, nil
}

// parseMsg reads 42["msg",{"n":N,"t":T}].
func parseMsg(msg []byte) (n, t int64, ok bool) {
	rest, ok := bytes.CutPrefix(msg, []byte(`42["msg",{"n":`))
	if !ok {
		return 0, 0, false
	}
	n64, rest := leadingUint(rest)
	rest, ok = bytes.CutPrefix(rest, []byte(`,"t":`))
	if !ok {
		return 0, 0, false
	}
	t64, rest := leadingUint(rest)
	return int64(n64), int64(t64), string(rest) == "}]"
}

// typedFanout: receivers subscribe to ChatService.WatchRoom for the room
// (a typed room stream); the publisher asks the server to publish typed
// messages there, which travel as protobuf bytes in binary attachments.
var typedFanout = fanoutKind{
	nsp: chatv1sio.ChatServiceNamespace,
	subscribe: func(c *conn) error {
		req, _ := proto.Marshal(&chatv1.WatchRoomRequest{Room: "fan"})
		head := []byte("451-" + c.nsp + `0["` + chatv1sio.ChatServiceWatchRoomEvent + `",{"_placeholder":true,"num":0},{}]`)
		if err := c.ws.WriteMessage(websocket.TextMessage, head); err != nil {
			return err
		}
		if err := c.ws.WriteMessage(websocket.BinaryMessage, req); err != nil {
			return err
		}
		_, msg, err := c.readText()
		if err != nil {
			return err
		}
		if !bytes.Contains(msg, []byte(`"stream":"`)) {
			return fmt.Errorf("%w: subscription answered %q", errBadReply, msg)
		}
		return nil
	},
	publish: func(n int64) []byte {
		return []byte("42" + chatv1sio.ChatServiceNamespace + "," + strconv.FormatInt(n, 10) + `["rpc-fanout","fan",` + strconv.FormatInt(n, 10) + `,"` + strconv.FormatInt(time.Now().UnixNano(), 10) + `"]`)
	},
	next: func(c *conn) (int64, int64, error) {
		return readBinaryMessage(c, []byte("451-"+c.nsp+`["sio:stream",`))
	},
}

// binaryFanout is plainFanout with each message the protobuf bytes the
// typed fanout sends, as a binary attachment: the plain broadcast of the
// same bytes that typedFanout is measured against.
var binaryFanout = fanoutKind{
	nsp:       "/",
	subscribe: plainFanout.subscribe,
	publish: func(n int64) []byte {
		// The attachment follows in its own frame: see publishFrames.
		return []byte("451-" + strconv.FormatInt(n, 10) + `["fanout","fan",{"_placeholder":true,"num":0}]`)
	},
	attachment: func(n int64) []byte {
		b, _ := proto.Marshal(&chatv1.WatchRoomResponse{Message: &chatv1.ChatMessage{Id: uint64(n), Text: strconv.FormatInt(time.Now().UnixNano(), 10)}})
		return b
	},
	next: func(c *conn) (int64, int64, error) {
		return readBinaryMessage(c, []byte(`451-["msg",`))
	},
}

// readBinaryMessage reads a binary event whose header starts with prefix
// and whose attachment is a WatchRoomResponse: its id and send time.
func readBinaryMessage(c *conn, prefix []byte) (int64, int64, error) {
	_, head, err := c.readText()
	if err != nil {
		return 0, 0, err
	}
	if !bytes.HasPrefix(head, prefix) {
		return 0, 0, fmt.Errorf("%w: %q", errBadReply, head)
	}
	mt, b, err := c.ws.ReadMessage()
	if err != nil {
		return 0, 0, err
	}
	var m chatv1.WatchRoomResponse
	if mt != websocket.BinaryMessage || proto.Unmarshal(b, &m) != nil {
		return 0, 0, fmt.Errorf("%w: a binary message that does not decode", errBadReply)
	}
	t, err := strconv.ParseInt(m.GetMessage().GetText(), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: message %v", errBadReply, &m)
	}
	return int64(m.GetMessage().GetId()), t, nil
}

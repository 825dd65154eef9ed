package main

import (
	"fmt"
	"strconv"
	"time"
)

// spreadOverNamespaces is the throughput scenario with client i on
// namespace /ns-<i mod nsps>: the same calls, echoed by the same handler,
// with only the number of namespaces they are spread over differing.
func spreadOverNamespaces(cfg config) (map[string]any, error) {
	if cfg.clients < cfg.nsps {
		return nil, fmt.Errorf("%d clients cannot cover %d namespaces", cfg.clients, cfg.nsps)
	}
	conns, err := dialAll(cfg, cfg.clients)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	res, err := pipelined(cfg, conns, textRequest(cfg.size))
	if err != nil {
		return nil, err
	}
	res["namespaces"] = cfg.nsps
	return res, nil
}

// joinChunk is how many joins a receiver sends before reading their acks:
// enough to join thousands of rooms in a few round trips, few enough that
// the acks never fill the socket buffers while the tool is still writing.
const joinChunk = 256

// roomName is the name of room j of the rooms scenario.
func roomName(j int64) string { return "r-" + strconv.FormatInt(j, 10) }

// roomsFanout is plainFanout over rooms rooms: every receiver joins all of
// them and the publisher sends message n to room n mod rooms, so each
// broadcast reaches the same receivers, with the same bytes, whatever the
// number of rooms the server holds.
func roomsFanout(rooms int) fanoutKind {
	return fanoutKind{
		nsp: "/",
		subscribe: func(c *conn) error {
			for first := 0; first < rooms; first += joinChunk {
				if err := joinRooms(c, first, min(rooms, first+joinChunk)); err != nil {
					return err
				}
			}
			return nil
		},
		publish: func(n int64) []byte {
			id := strconv.FormatInt(n, 10)
			return []byte(`42` + id + `["fanout","` + roomName(n%int64(rooms)) + `",{"n":` + id + `,"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}]`)
		},
		next: plainFanout.next,
	}
}

// joinRooms joins rooms first to end-1 in one write and checks that every
// join is acked, in order.
func joinRooms(c *conn, first, end int) error {
	c.batch.begin()
	for j := first; j < end; j++ {
		name := []byte(`"` + roomName(int64(j)) + `"`)
		if err := c.send(&request{event: "join", text: name}, uint64(j)); err != nil {
			_ = c.batch.flush()
			return err
		}
	}
	if err := c.batch.flush(); err != nil {
		return err
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.ws.SetReadDeadline(time.Time{}) }()
	for j := first; j < end; j++ {
		id, err := c.recvEmptyAck()
		if err != nil {
			return err
		}
		if id != uint64(j) {
			return fmt.Errorf("%w: join %d acked as %d", errBadReply, j, id)
		}
	}
	return nil
}

// overRooms is the rooms scenario: fanout through roomsFanout, reported
// with its number of rooms.
func overRooms(cfg config) (map[string]any, error) {
	res, err := fanoutWith(cfg, roomsFanout(cfg.rooms))
	if err != nil {
		return nil, err
	}
	res["rooms"] = cfg.rooms
	return res, nil
}

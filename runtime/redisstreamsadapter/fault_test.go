package redisstreamsadapter

import (
	"testing"

	"github.com/sio-dev/sio/internal/adaptertest"
)

// Redis is killed (SIGKILL) while a node broadcasts steadily, and started
// again on the same port; with appendonly and fsync on every write, the
// stream survives. Every node resumes by itself, and a client of the
// other node receives exactly what the stream holds: nothing lost,
// nothing twice, in order.
func TestFaultRedisCrashLosesNothingTheStreamHolds(t *testing.T) {
	adaptertest.RunKilledAndRestarted(t, streams)
}

// Redis stopped (SIGSTOP) for a while wedges no node.
func TestFaultRedisPausedDoesNotWedge(t *testing.T) { adaptertest.RunPausedDoesNotWedge(t, streams) }

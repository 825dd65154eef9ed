package redisstreamsadapter

import (
	"testing"

	"github.com/sio-dev/sio/internal/adaptertest"
)

// Three Go nodes on one Redis: everything a cluster adapter does crosses
// them.
func TestCluster(t *testing.T) { adaptertest.RunCluster(t, streams) }

// A Go node and a Node socket.io node on @socket.io/redis-streams-adapter
// share one Redis; official socket.io-client sockets on both see
// broadcasts (small and large), rooms, acks, fetchSockets and
// serverSideEmit cross both ways, and a session begun on one node
// recovers on the other.
func TestMixedCluster(t *testing.T) { adaptertest.RunMixed(t, streams) }

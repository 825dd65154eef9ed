package sio_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sio-dev/sio"

// layer says what one package (or tree of packages, with a trailing /...)
// may import from this module and from outside the standard library.
type layer struct {
	pkg      string
	local    []string // module packages it may import
	external []string // third-party import path prefixes it may import
}

// layers is the dependency table of the repository: Engine.IO knows nothing
// of Socket.IO, Socket.IO nothing of RPC, and the plugin no runtime.
var layers = []layer{
	{pkg: "runtime/engineio/eiopacket"},
	{pkg: "runtime/internal/siolog"},
	{pkg: "runtime/engineio", local: []string{"runtime/engineio/eiopacket", "runtime/internal/siolog"}, external: []string{"github.com/gorilla/websocket", "golang.org/x/sys/unix"}},
	{pkg: "runtime/socketio/siopacket"},
	{pkg: "runtime/internal/events"},
	{pkg: "runtime/internal/workers"},
	{pkg: "runtime/internal/pubqueue"},
	{pkg: "runtime/socketio/sioparser", local: []string{"runtime/engineio", "runtime/socketio/siopacket"}},
	// Adapters see a namespace through sioadapter.Host alone.
	{pkg: "runtime/socketio/sioadapter", local: []string{"runtime/socketio/siopacket"}},
	{pkg: "runtime/socketio", local: []string{"runtime/engineio", "runtime/socketio/siopacket", "runtime/socketio/sioparser", "runtime/socketio/sioadapter", "runtime/internal/events", "runtime/internal/siolog"}},
	{pkg: "runtime/socketio/sioclient", local: []string{"runtime/engineio", "runtime/socketio/siopacket", "runtime/socketio/sioparser", "runtime/internal/events", "runtime/internal/siolog"}},
	{pkg: "runtime/internal/adapterwire", local: []string{"runtime/socketio/sioadapter", "runtime/socketio/siopacket"}, external: []string{"github.com/vmihailenco/msgpack/v5"}},
	// The cluster protocol knows no broker; its transports bring one.
	{pkg: "runtime/clusteradapter", local: []string{"runtime/socketio/sioadapter", "runtime/socketio/siopacket", "runtime/internal/adapterwire", "runtime/internal/siolog"}},
	{pkg: "runtime/redisadapter", local: []string{"runtime/socketio/sioadapter", "runtime/socketio/siopacket", "runtime/clusteradapter", "runtime/internal/adapterwire", "runtime/internal/siolog", "runtime/internal/pubqueue"}, external: []string{"github.com/redis/go-redis/v9", "github.com/vmihailenco/msgpack/v5"}},
	{pkg: "runtime/redisstreamsadapter", local: []string{"runtime/socketio/sioadapter", "runtime/socketio/siopacket", "runtime/clusteradapter", "runtime/internal/adapterwire", "runtime/internal/siolog", "runtime/internal/pubqueue"}, external: []string{"github.com/redis/go-redis/v9", "github.com/vmihailenco/msgpack/v5"}},
	{pkg: "runtime/postgresadapter", local: []string{"runtime/socketio/sioadapter", "runtime/socketio/siopacket", "runtime/clusteradapter", "runtime/internal/adapterwire", "runtime/internal/siolog"}, external: []string{"github.com/jackc/pgx/v5", "github.com/vmihailenco/msgpack/v5"}},
	{pkg: "runtime/rpc", local: []string{"runtime/socketio", "runtime/socketio/sioclient", "runtime/socketio/siopacket", "runtime/internal/workers", "runtime/internal/siolog"}, external: []string{"google.golang.org/protobuf"}},
	// Prometheus, OpenTelemetry and the Admin UI's bcrypt are optional: only these packages import them.
	{pkg: "runtime/sioadmin", local: []string{"runtime/engineio", "runtime/socketio"}, external: []string{"golang.org/x/crypto/bcrypt"}},
	{pkg: "runtime/sioprom", local: []string{"runtime/engineio", "runtime/socketio", "runtime/rpc"}, external: []string{"github.com/prometheus/client_golang", "google.golang.org/protobuf"}},
	{pkg: "runtime/rpc/rpcotel", local: []string{"runtime/rpc"}, external: []string{"go.opentelemetry.io/otel", "google.golang.org/protobuf"}},
	{pkg: "gen/go/sio/v1", external: []string{"google.golang.org/protobuf"}},
	{pkg: "gen/go/example/...", local: []string{"gen/go/...", "runtime/rpc", "runtime/socketio"}, external: []string{"google.golang.org/protobuf"}},
	{pkg: "cmd/protoc-gen-sio/...", local: []string{"cmd/protoc-gen-sio/...", "gen/go/sio/v1"}, external: []string{"google.golang.org/protobuf"}},
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			local, isLocal := strings.CutPrefix(imp, module+"/")
			// Repository-private test support is for tests and examples only.
			if isLocal && strings.HasPrefix(local, "internal/") && !strings.HasPrefix(rel, "examples/") && !strings.HasPrefix(rel, "internal/") {
				t.Errorf("%s imports %s: internal/ is for tests and examples", rel, local)
			}
		}
		l, ok := findLayer(rel)
		if !ok {
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if local, isLocal := strings.CutPrefix(imp, module+"/"); isLocal {
				if !matchAny(local, l.local) {
					t.Errorf("%s must not import %s", rel, local)
				}
			} else if !isStd(imp) && !matchAny(imp, l.external) {
				t.Errorf("%s must not import %s", rel, imp)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no package matched the layering table")
	}
}

func findLayer(rel string) (layer, bool) {
	for _, l := range layers {
		if match(rel, l.pkg) {
			return l, true
		}
	}
	return layer{}, false
}

func matchAny(path string, patterns []string) bool {
	for _, p := range patterns {
		if match(path, p) {
			return true
		}
	}
	return false
}

// match reports whether path is pattern, or lies under it when pattern
// ends in /... (third-party prefixes match their sub-packages too).
func match(path, pattern string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern || (strings.Contains(pattern, ".") && strings.HasPrefix(path, pattern+"/"))
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

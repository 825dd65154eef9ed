// Package nodepeer runs the official npm Socket.IO and Engine.IO packages
// as test peers: small scripts in scripts/ that drive, or serve, the Go
// implementation. The packages come from the repository's package.json
// (npm ci at the root).
//
// A missing node binary or node_modules fails the test: interop is the
// point. Set SIO_SKIP_NODE=1 to skip such tests on a machine without Node.
package nodepeer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Dir returns the folder holding the scripts.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "scripts")
}

// root returns the repository root, where node_modules lives.
func root() string { return filepath.Join(Dir(), "..", "..", "..") }

// Require fails t (or skips it, with SIO_SKIP_NODE=1) unless node and the
// npm packages are installed.
func Require(t testing.TB) {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errMods := os.Stat(filepath.Join(root(), "node_modules", "engine.io-client"))
	if errNode == nil && errMods == nil {
		return
	}
	if os.Getenv("SIO_SKIP_NODE") == "1" {
		t.Skip("node peers not installed (SIO_SKIP_NODE=1)")
	}
	t.Fatalf("node peers are required: node: %v; node_modules: %v (run npm ci at the repository root)", errNode, errMods)
}

// Run runs scripts/<script> with args and fails t if it does not exit 0
// within timeout. The script's output is logged.
func Run(t testing.TB, timeout time.Duration, script string, args ...string) {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(Dir(), script)}, args...)...)
	cmd.Dir = root()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if out.Len() > 0 {
		t.Logf("%s output:\n%s", script, out.Bytes())
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out after %v", script, args, timeout)
	}
	if err != nil {
		t.Fatalf("%s %v: %v", script, args, err)
	}
}

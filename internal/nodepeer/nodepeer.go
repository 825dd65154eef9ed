// Package nodepeer runs the official npm Socket.IO and Engine.IO packages
// as test peers: small scripts in scripts/ that drive, or serve, the Go
// implementation. The packages come from the repository's package.json
// (npm ci at the root).
//
// A missing node binary or node_modules fails the test: interop is the
// point. Set SIO_SKIP_NODE=1 to skip such tests on a machine without Node.
package nodepeer

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	_, errMods := os.Stat(filepath.Join(root(), "node_modules", "socket.io"))
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
	runFile(t, timeout, filepath.Join(Dir(), script), script, args)
}

// Output runs scripts/<script> with args and returns what it wrote to
// stdout, failing t (with its stderr) if it does not exit 0 within timeout.
// Unlike Run it does not log the output, which may be large data.
func Output(t testing.TB, timeout time.Duration, script string, args ...string) []byte {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(Dir(), script)}, args...)...)
	cmd.Dir = root()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, stderr.Bytes())
	}
	return out
}

// runFile runs node on file, naming it script in messages.
func runFile(t testing.TB, timeout time.Duration, file, script string, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{file}, args...)...)
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
	return out.String()
}

// Process is a Node peer running in the background.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
	// ReadyLine is the line that signalled readiness, such as
	// "listening 40123" from a server that picked its own port.
	ReadyLine string
}

// Start runs scripts/<script> with args in the background and waits until
// it prints a line starting with ready (or fails t after 10s). The process
// is stopped when the test ends, or by Stop.
func Start(t testing.TB, ready, script string, args ...string) *Process {
	t.Helper()
	Require(t)
	cmd := exec.Command("node", append([]string{filepath.Join(Dir(), script)}, args...)...)
	cmd.Dir = root()
	out := &lockedBuffer{}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), out: out}
	readyc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			if !signalled && strings.HasPrefix(line, ready) {
				signalled = true
				p.ReadyLine = line
				close(readyc)
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", script, out.String())
		}
	})
	select {
	case <-readyc:
		return p
	case <-p.done:
		t.Fatalf("%s exited before it was ready:\n%s", script, out.String())
	case <-time.After(10 * time.Second):
		p.Stop()
		t.Fatalf("%s was not ready after 10s:\n%s", script, out.String())
	}
	return nil
}

// Port returns the last word of the ready line: the port of a server
// script started with port 0, which prints "listening <port>".
func (p *Process) Port() string {
	f := strings.Fields(p.ReadyLine)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// Wait waits at most timeout for the process to exit by itself, and
// returns its output (standard output and error, one line at a time) and
// whether it exited.
func (p *Process) Wait(timeout time.Duration) (string, bool) {
	select {
	case <-p.done:
		return p.out.String(), true
	case <-time.After(timeout):
		return p.out.String(), false
	}
}

// Stop kills the process and waits for it to exit.
func (p *Process) Stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RunTS bundles scripts/<script> (TypeScript) with esbuild and runs it
// like Run. Imports resolve from the repository, generated code included;
// the TypeScript runtime package is bundled from its sources (the paths of
// the root tsconfig.json), so a test never runs a stale build of it.
func RunTS(t testing.TB, timeout time.Duration, script string, args ...string) {
	t.Helper()
	RunTSOutput(t, timeout, script, args...)
}

// RunTSOutput is RunTS that returns what the script printed (stdout and
// stderr).
func RunTSOutput(t testing.TB, timeout time.Duration, script string, args ...string) string {
	t.Helper()
	Require(t)
	// npm packages stay external, so the bundle must live in the
	// repository for node to find node_modules.
	out := bundle(t, script, ".mjs", "--platform=node", "--format=esm", "--packages=external")
	return runFile(t, timeout, out, script, args)
}

// BundleBrowser bundles scripts/<script> (TypeScript) with esbuild for a
// browser page, npm packages included, and returns the script's text.
func BundleBrowser(t testing.TB, script string) []byte {
	t.Helper()
	Require(t)
	out := bundle(t, script, ".js", "--platform=browser", "--format=iife", "--target=es2022")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bundle runs esbuild on scripts/<script> with flags and returns the
// output's path, in a directory of the repository removed after the test.
func bundle(t testing.TB, script, ext string, flags ...string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root(), ".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(root(), ".tmp"), "ts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(script), ".ts")+ext)
	args := append([]string{filepath.Join(Dir(), script), "--bundle", "--log-level=warning", "--outfile=" + out}, flags...)

	esbuild := exec.Command(filepath.Join(root(), "node_modules", ".bin", "esbuild"), args...)
	esbuild.Dir = root()
	if msg, err := esbuild.CombinedOutput(); err != nil {
		t.Fatalf("esbuild %s: %v\n%s", script, err, msg)
	}
	return out
}

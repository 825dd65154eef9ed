package siotest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Programs that serve tests from a process of their own follow one
// contract: they take -addr (host:port, default 127.0.0.1:0), and print
// "listening on <host:port>" as the first line of their standard output
// once they accept connections. Everything else they print is passed on
// to the test's log.

// builds caches one binary per package path for the test binary's life:
// a package is compiled once however many tests start it.
var builds sync.Map // package path -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// BuildProgram compiles the main package pkg (a path inside this module,
// such as "./internal/siotest/callserver"; it is resolved from the module
// root) with the race detector when the test binary has it, and returns
// the binary's path. It is built once per test binary.
func BuildProgram(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "siotest-build-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("siotest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Process is a server program running in a process of its own, so that a
// test can kill, pause and restart it. It is killed when the test ends.
type Process struct {
	// Addr is host:port the program listens on; a restart keeps it.
	Addr string

	t    testing.TB
	bin  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
}

// StartProcess runs the program bin (from BuildProgram) with args and
// waits until it listens.
func StartProcess(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, bin: bin, args: args}
	p.start("127.0.0.1:0")
	t.Cleanup(p.Kill)
	return p
}

// URL returns the program's base URL, http://host:port.
func (p *Process) URL() string { return "http://" + p.Addr }

func (p *Process) start(addr string) {
	p.t.Helper()
	// A port just freed may still be held for a moment; retry briefly.
	var err error
	for try := 0; try < 20; try++ {
		if err = p.startOnce(addr); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatal(err)
}

func (p *Process) startOnce(addr string) error {
	cmd := exec.Command(p.bin, append(append([]string(nil), p.args...), "-addr", addr)...)
	cmd.Stderr = testWriter{p.t, filepath.Base(p.bin)}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				if a, ok := strings.CutPrefix(line, "listening on "); ok {
					listening <- a
					continue
				}
			}
			p.t.Logf("%s: %s", filepath.Base(p.bin), line)
		}
		close(listening)
		// Wait only after every read from the pipe, as os/exec requires.
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case a, ok := <-listening:
		if !ok {
			<-done
			return fmt.Errorf("siotest: %s exited before listening: %v", p.bin, cmd.ProcessState)
		}
		p.mu.Lock()
		p.Addr, p.cmd, p.done = a, cmd, done
		p.mu.Unlock()
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("siotest: %s did not print its address within 30s", p.bin)
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Process) Kill() { p.signal(syscall.SIGKILL) }

// Terminate sends SIGTERM, as an orchestrator stopping a node does, and
// waits for the process to exit, at most timeout (then it is killed).
func (p *Process) Terminate(timeout time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(timeout):
		p.t.Errorf("siotest: %s did not exit within %v of SIGTERM", p.bin, timeout)
		p.Kill()
	}
}

// Pause stops the process with SIGSTOP: its sockets stay open but nothing
// answers, as with a hung machine. It returns once the process is stopped
// (the signal is delivered asynchronously: a request sent at once could
// still be answered).
func (p *Process) Pause() {
	p.sendOnly(syscall.SIGSTOP)
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	stat := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return // not Linux, or gone
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
	}
}

// Resume continues a paused process.
func (p *Process) Resume() { p.sendOnly(syscall.SIGCONT) }

// Restart starts the program again on the same address, after Kill or
// Terminate.
func (p *Process) Restart() {
	p.t.Helper()
	p.Kill()
	p.start(p.Addr)
}

func (p *Process) sendOnly(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	// The signal first: a paused process continued before a SIGKILL would
	// run, and answer, for a moment. SIGKILL ends a stopped process as it
	// is; any other signal waits for the SIGCONT.
	_ = cmd.Process.Signal(sig)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	<-done
}

// testWriter passes a process's output on to the test log.
type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Logf("%s: %s", w.name, line)
	}
	return len(b), nil
}

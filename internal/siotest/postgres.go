package siotest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a real PostgreSQL server on a free loopback port, its data
// in a temporary directory, with trust authentication for the user
// "postgres" and no durability (fsync off). Its processes (the postmaster
// and its children) are killed when the test ends.
type Postgres struct {
	Port string
	Dir  string // the data directory, kept across Stop and Start
	bin  string // the folder of initdb and postgres
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartPostgres runs initdb in a new data directory and starts a postgres
// server on it for t. A missing PostgreSQL fails the test, unless
// SIO_SKIP_POSTGRES=1 makes it skip. PostgreSQL refuses to run as root:
// as root, both run as the user "postgres" (which Debian's package
// creates), owning the data directory.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, stop, err := RunPostgres()
	if errors.Is(err, errNoPostgres) && os.Getenv("SIO_SKIP_POSTGRES") == "1" {
		t.Skip("no PostgreSQL (SIO_SKIP_POSTGRES=1)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return p
}

// errNoPostgres is RunPostgres's error when PostgreSQL is not installed.
var errNoPostgres = errors.New("PostgreSQL is required (apt-get install postgresql)")

// RunPostgres is StartPostgres for a TestMain, which has no testing.TB:
// stop kills the server and removes its data.
func RunPostgres() (p *Postgres, stop func(), err error) {
	p = &Postgres{bin: postgresBin()}
	if p.bin == "" {
		return nil, nil, errNoPostgres
	}
	dir, err := os.MkdirTemp("", "siotest-postgres-")
	if err != nil {
		return nil, nil, err
	}
	stop = func() {
		p.Stop()
		_ = os.RemoveAll(dir)
	}
	p.Dir = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("PostgreSQL does not run as root, and there is no user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			stop()
			return nil, nil, err
		}
	}
	initdb := exec.Command(filepath.Join(p.bin, "initdb"), "-D", p.Dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		stop()
		return nil, nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A port found free may be taken before postgres binds it; then try
	// another.
	for range 5 {
		if p.Port, err = freePort(); err != nil {
			break
		}
		if err = p.start(); err == nil {
			return p, stop, nil
		}
	}
	stop()
	return nil, nil, err
}

// postgresBin returns the folder of initdb and postgres: that of the
// newest /usr/lib/postgresql/<version>/bin (Debian's layout), else that
// of an initdb in PATH, else "".
func postgresBin() string {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return vb - va
	})
	if len(found) > 0 {
		return filepath.Dir(found[0])
	}
	if bin, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(bin)
	}
	return ""
}

// URL returns a connection string for the database "postgres".
func (p *Postgres) URL() string {
	return "postgres://postgres@127.0.0.1:" + p.Port + "/postgres?sslmode=disable"
}

// Start starts the server again, after Stop, on the same data directory
// and port. Backends of a killed server may hold its shared memory for a
// moment; Start tries again for a few seconds.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = p.start(); err == nil {
			return
		}
	}
	t.Fatal(err)
}

// start runs postgres and waits until it says it accepts connections.
func (p *Postgres) start() error {
	p.cmd = exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.Dir, "-p", p.Port,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "logging_collector=off", "-c", "log_min_messages=warning")
	// Should the test binary die without stopping it (a crash, a
	// timeout), the kernel kills the postmaster, and its children follow.
	// (It is the creating thread's death that counts, and Go rarely ends
	// a thread.)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	out, err := p.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		defer close(done)
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				_ = cmd.Wait() // once the pipe is read to its end
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		ready <- fmt.Errorf("postgres on port %s exited before it was ready:\n%s", p.Port, log.String())
		_ = cmd.Wait()
	}(p.cmd, p.done)
	select {
	case err = <-ready:
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("postgres on port %s was not ready after 10s", p.Port)
	}
	if err != nil {
		p.Stop()
	}
	return err
}

// Pause stops the server and its backends (SIGSTOP): they keep their
// connections and answer nothing until Resume.
func (p *Postgres) Pause() { p.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (p *Postgres) Resume() { p.signal(syscall.SIGCONT) }

// signal sends sig to the postmaster, then to its children (backends,
// background workers), each by pid: they run in sessions of their own,
// so a process group would not reach them. A child forked while the
// signal reaches the postmaster is found on a second look.
func (p *Postgres) signal(sig syscall.Signal) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, sig)
	sent := map[int]bool{}
	for range 3 {
		for _, child := range childrenOf(pid) {
			if !sent[child] {
				sent[child] = true
				_ = syscall.Kill(child, sig)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childrenOf returns the pids of the processes whose parent is pid, from
// /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// Stop kills the server and its backends (SIGKILL), as a crash of its
// host would, and waits for the postmaster to exit.
func (p *Postgres) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		// Stopped first, the postmaster starts no child meanwhile, and
		// its children hardly see it die before they do.
		_ = p.cmd.Process.Signal(syscall.SIGSTOP)
		p.signal(syscall.SIGKILL)
		<-p.done
		p.cmd = nil
	}
}

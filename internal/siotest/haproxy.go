package siotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// HAProxy is an haproxy started by a test on loopback.
type HAProxy struct {
	// Addr is host:port it listens on.
	Addr string
	log  *SyncBuffer // its log, one line per request
}

var (
	bindLine   = regexp.MustCompile(`(?m)^(\s*bind\s+)\S+`)
	serverLine = regexp.MustCompile(`(?m)^(\s*server\s+)(\S+)\s+127\.0\.0\.1:\d+(.*)\n`)
)

// StartHAProxy runs haproxy (Debian's haproxy package; SIO_SKIP_HAPROXY=1
// skips the test when it is missing) with the configuration in file, its
// bind line pointed at a free loopback port and its server lines replaced
// by one per upstream (named n1, n2, ... with cookies of the same names),
// in the foreground, stopped when the test ends. The configuration must
// log to stdout.
func StartHAProxy(t testing.TB, file string, upstreams []string) *HAProxy {
	t.Helper()
	bin := requireProgram(t, "haproxy", "SIO_SKIP_HAPROXY", "haproxy")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		h := &HAProxy{Addr: "127.0.0.1:" + FreePort(t), log: &SyncBuffer{}}
		conf := bindLine.ReplaceAllString(string(raw), "${1}"+h.Addr)
		first := true
		conf = serverLine.ReplaceAllStringFunc(conf, func(line string) string {
			if !first {
				return ""
			}
			first = false
			m := serverLine.FindStringSubmatch(line)
			var b strings.Builder
			for i, u := range upstreams {
				name := "n" + strconv.Itoa(i+1)
				b.WriteString(m[1] + name + " " + u + strings.ReplaceAll(m[3], m[2], name) + "\n")
			}
			return b.String()
		})
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-db", "-f", path)
		cmd.Stdout = h.log
		cmd.Stderr = testWriter{t, "haproxy"}
		if runUntilListening(t, cmd, h.Addr) {
			return h
		}
		if try == 5 {
			t.Fatal("haproxy did not start")
		}
	}
}

// Log returns haproxy's log lines so far.
func (h *HAProxy) Log() []string {
	s := strings.TrimSpace(h.log.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

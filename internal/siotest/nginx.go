package siotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Nginx is an nginx started by a test on loopback.
type Nginx struct {
	// Addr is host:port nginx listens on.
	Addr string
	// Dir holds its files: the configuration, access.log, error.log.
	Dir string
}

var (
	listenLine   = regexp.MustCompile(`(?m)^(\s*listen\s+)\S+;`)
	upstreamLine = regexp.MustCompile(`(?m)^(\s*server\s+)127\.0\.0\.1:\d+(\s[^;]*)?;\n`)
)

// StartNginx runs nginx (Debian's nginx package; SIO_SKIP_NGINX=1 skips
// the test when it is missing) with the configuration in file, its one
// listen line pointed at a free loopback port and its upstream server
// lines replaced by upstreams, as one process in the foreground, stopped
// when the test ends.
func StartNginx(t testing.TB, file string, upstreams []string) *Nginx {
	t.Helper()
	bin := requireProgram(t, "nginx", "SIO_SKIP_NGINX", "nginx")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		n := &Nginx{Addr: "127.0.0.1:" + FreePort(t), Dir: t.TempDir()}
		conf := listenLine.ReplaceAllString(string(raw), "${1}"+n.Addr+";")
		first := true
		conf = upstreamLine.ReplaceAllStringFunc(conf, func(line string) string {
			if !first {
				return ""
			}
			first = false
			m := upstreamLine.FindStringSubmatch(line)
			var b strings.Builder
			for _, u := range upstreams {
				b.WriteString(m[1] + u + m[2] + ";\n")
			}
			return b.String()
		})
		confPath := filepath.Join(n.Dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", n.Dir, "-c", confPath, "-e", filepath.Join(n.Dir, "error.log"),
			"-g", "daemon off; master_process off; pid nginx.pid;")
		cmd.Stderr = testWriter{t, "nginx"}
		if runUntilListening(t, cmd, n.Addr) {
			return n
		}
		if try == 5 {
			log, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
			t.Fatalf("nginx did not start: %s", log)
		}
	}
}

// AccessLog returns the lines of nginx's access.log.
func (n *Nginx) AccessLog(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.Dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

package siotest

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func get(url string) (string, error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestProcessKillPauseRestart(t *testing.T) {
	p := StartProcess(t, BuildProgram(t, "./internal/siotest/internal/hello"))
	if body, err := get(p.URL()); err != nil || body != "hello" {
		t.Fatalf("first answer %q, %v", body, err)
	}
	p.Pause()
	if _, err := get(p.URL()); err == nil {
		t.Fatal("a paused process answered")
	}
	p.Resume()
	if body, err := get(p.URL()); err != nil || body != "hello" {
		t.Fatalf("after resume %q, %v", body, err)
	}
	addr := p.Addr
	p.Kill()
	if _, err := get(p.URL()); err == nil {
		t.Fatal("a killed process answered")
	}
	p.Restart()
	if p.Addr != addr {
		t.Fatalf("restarted on %s, want %s", p.Addr, addr)
	}
	if body, err := get(p.URL()); err != nil || body != "hello" {
		t.Fatalf("after restart %q, %v", body, err)
	}
}

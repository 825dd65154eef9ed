package siotest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
)

// ScriptedServer is an Engine.IO long-polling server that says whatever a
// test scripts: to each client, the scripted answers to its first GETs
// (the handshake, then polls), then nothing until the client posts its
// close packet. Fuzz tests use it to feed clients arbitrary server output.
// One server and one HTTP client serve every script, so that a long run
// does not use up the loopback's ports.
type ScriptedServer struct {
	// URL is the server's base URL.
	URL string
	// Client keeps its connections alive from one script to the next;
	// give it to the clients under test.
	Client *http.Client

	hs      *httptest.Server
	mu      sync.Mutex
	scripts map[string]*script
	last    atomic.Int64
}

// script is one client's conversation.
type script struct {
	answers   []string
	gets      atomic.Int32
	drained   chan struct{} // closed by the first GET past the answers
	closed    chan struct{} // closed by the client's close packet
	closeOnce sync.Once
}

// scriptParam is the query parameter that names a client's script.
const scriptParam = "script"

// NewScriptedServer starts a server; Close stops it.
func NewScriptedServer() *ScriptedServer {
	s := &ScriptedServer{scripts: map[string]*script{}}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	s.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	return s
}

// Add scripts the answers to the GETs of a client whose requests carry
// query. drained is closed when the client polls again after the last
// answer, having taken them all in; forget drops the script.
func (s *ScriptedServer) Add(answers ...string) (query url.Values, drained <-chan struct{}, forget func()) {
	id := strconv.FormatInt(s.last.Add(1), 10)
	sc := &script{answers: answers, drained: make(chan struct{}), closed: make(chan struct{})}
	s.mu.Lock()
	s.scripts[id] = sc
	s.mu.Unlock()
	return url.Values{scriptParam: {id}}, sc.drained, func() {
		s.mu.Lock()
		delete(s.scripts, id)
		s.mu.Unlock()
	}
}

// Close stops the server and closes the client's idle connections.
func (s *ScriptedServer) Close() {
	s.hs.Close()
	s.Client.CloseIdleConnections()
}

func (s *ScriptedServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sc := s.scripts[r.URL.Query().Get(scriptParam)]
	s.mu.Unlock()
	if sc == nil {
		http.Error(w, "no such script", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodGet {
		body, _ := io.ReadAll(r.Body)
		for record := range bytes.SplitSeq(body, []byte{0x1e}) {
			if string(record) == "1" { // the Engine.IO close packet
				sc.closeOnce.Do(func() { close(sc.closed) })
			}
		}
		return // 200, empty
	}
	n := int(sc.gets.Add(1))
	if n <= len(sc.answers) {
		_, _ = io.WriteString(w, sc.answers[n-1])
		return
	}
	if n == len(sc.answers)+1 {
		close(sc.drained)
	}
	// A long poll with nothing to say, answered with a noop once the
	// client closes, so that its connection stays usable.
	select {
	case <-sc.closed:
		_, _ = io.WriteString(w, "6")
	case <-r.Context().Done():
	}
}

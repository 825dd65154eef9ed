package siolog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLayersNamedPassDebugRecords(t *testing.T) {
	var buf bytes.Buffer
	info := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	debug := parse("engineio, RPC")

	choose("engineio", info, debug).Debug("probe", "sid", "s1")
	choose("rpc", info, debug).Debug("call")
	choose("socketio", info, debug).Debug("hidden")
	choose("socketio", info, debug).Info("shown")
	out := buf.String()
	for _, want := range []string{"msg=probe layer=engineio sid=s1", "msg=call layer=rpc", "msg=shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("a layer SIO_DEBUG does not name logged a debug record:\n%s", out)
	}

	buf.Reset()
	choose("redisadapter", info, parse("*")).With("node", "a").Debug("everything")
	if !strings.Contains(buf.String(), "msg=everything layer=redisadapter node=a") {
		t.Errorf("* did not pass debug records: %q", buf.String())
	}
}

func TestDefaultIsSlogDefault(t *testing.T) {
	if got := choose("socketio", nil, map[string]bool{}); got != slog.Default() {
		t.Error("without a logger and SIO_DEBUG, a layer does not log through slog.Default()")
	}
	mine := slog.New(slog.DiscardHandler)
	if got := choose("socketio", mine, map[string]bool{}); got != mine {
		t.Error("a given logger is not used as it is")
	}
}

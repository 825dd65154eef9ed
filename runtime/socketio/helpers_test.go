package socketio

import (
	"encoding/json"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

package houserules_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/sio-dev/sio/internal/houserules"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), houserules.Analyzer,
		"github.com/sio-dev/sio/runtime/lib",
		"github.com/sio-dev/sio/examples/app",
		"github.com/sio-dev/sio/gen/go/pb")
}

package mask

import (
	"testing"

	"github.com/gomlx/compute"

	"github.com/masklab/masklab/pkg/backend"
)

func backendForTest(t *testing.T) compute.Backend {
	t.Helper()
	b, err := backend.New(backend.Choice{Config: backend.Default, Source: "default"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unregister removes test registrations so that other tests and examples see only the
// built-ins.
func unregister(t *testing.T, k Kind, names ...string) {
	t.Cleanup(func() {
		regMu.Lock()
		defer regMu.Unlock()
		for _, n := range names {
			switch k {
			case KindSelf, KindCross:
				delete(attentionDB, n)
			case KindInput:
				delete(corruptDB, n)
			case KindLoss:
				delete(lossDB, n)
			case KindScore:
				delete(scoreDB, n)
			}
		}
	})
}

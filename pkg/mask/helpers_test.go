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

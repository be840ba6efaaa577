package memvec

import (
	"testing"

	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/vectortest"
)

func TestConformanceMemory(t *testing.T) {
	vectortest.Run(t, func(t *testing.T, space index.Space) index.VectorStore {
		s, err := Open("", space, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceDisk(t *testing.T) {
	vectortest.Run(t, func(t *testing.T, space index.Space) index.VectorStore {
		s, err := Open(t.TempDir(), space, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

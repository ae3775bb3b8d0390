package logs

import (
	"testing"

	"provisioner"
	"provisioner/conformance"
)

func TestConformance(t *testing.T) {
	conformance.LogStore(t, func(t *testing.T) provisioner.LogStore {
		l, err := Open(Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

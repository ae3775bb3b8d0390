package buildinfo

import (
	"runtime"
	"testing"
)

// TestVersion: stamped, the version is what the linker set; unstamped, what
// the toolchain recorded (a test binary's main module is "(devel)").
func TestVersion(t *testing.T) {
	if got := Version(); got == "" || got == "unknown" {
		t.Errorf("unstamped Version() = %q", got)
	}
	defer func(v string) { version = v }(version)
	version = "v1.2.3"
	if got := Version(); got != "v1.2.3" {
		t.Errorf("stamped Version() = %q", got)
	}
	if i := Get(); i.Version != "v1.2.3" || i.OS != runtime.GOOS || i.Arch != runtime.GOARCH || i.Go != runtime.Version() {
		t.Errorf("Get() = %+v", i)
	}
}

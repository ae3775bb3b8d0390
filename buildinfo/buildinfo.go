// Package buildinfo is the version a binary was built as. Release builds
// (scripts/dist.sh, .goreleaser.yaml) stamp it with
//
//	-ldflags "-X provisioner/buildinfo.version=v1.2.3"
//
// and any other build falls back to what the Go toolchain recorded, so a
// plain `go build` still says something useful.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// version is set by the linker (-X); a variable, not a constant, for that.
var version string

// Version is the stamped version, or else the module version and VCS
// revision the toolchain recorded, e.g. "(devel) (0123456789ab)".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if rev := revision(bi); len(rev) >= 12 {
		v += " (" + rev[:12] + ")"
	}
	return v
}

// Info is what `provisioner version --json` prints.
type Info struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // the VCS commit, when the toolchain recorded one
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// Get returns the version and the platform the binary was built for.
func Get() Info {
	i := Info{Version: Version(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		i.Revision = revision(bi)
	}
	return i
}

func revision(bi *debug.BuildInfo) string {
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}

// Package plans holds the default TEST and RELEASE plans (test.yaml and
// release.yaml beside this file), embedded in the binary. Package plan
// parses and validates them; an operator overrides them with a directory or
// file of their own (see plan.Load). The format is described in plan's
// documentation and in the comments of the files.
package plans

import "embed"

// FS holds test.yaml and release.yaml.
//
//go:embed *.yaml
var FS embed.FS

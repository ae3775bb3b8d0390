package provisioner

import "strings"

// ValidateVersion accepts "latest" or a git ref name that is safe to hand to
// git and to use as an image tag: the rules of git check-ref-format, narrowed
// to letters, digits and . _ - /, never starting with "-" (which git would
// read as an option, e.g. --upload-pack=...), at most 128 characters.
func ValidateVersion(v string) error {
	if v == "latest" {
		return nil
	}
	bad := func(why string) error {
		return Errorf(EINVALID, "invalid version %q: %s; use a git tag or branch such as v4.5.1, or latest", truncate(v, 64), why)
	}
	switch {
	case v == "":
		return Errorf(EINVALID, "version is required (a git tag or branch, or latest)")
	case len(v) > 128:
		return bad("longer than 128 characters")
	case v[0] == '-' || v[0] == '/':
		return bad("starts with '-' or '/'")
	case strings.HasSuffix(v, "/") || strings.HasSuffix(v, "."):
		return bad("ends with '/' or '.'")
	case strings.Contains(v, "..") || strings.Contains(v, "//") || strings.Contains(v, "@{") || v == "@":
		return bad("contains '..', '//' or '@{'")
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '/'
		if !ok {
			return bad("only letters, digits, '.', '_', '-' and '/' are allowed")
		}
	}
	for _, part := range strings.Split(v, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad("a path component starts with '.' or ends with '.lock'")
		}
	}
	return nil
}

// ValidateClusterVersion is ValidateVersion for the version a cluster runs:
// it names container images, and an image tag has no '/'.
func ValidateClusterVersion(v string) error {
	if err := ValidateVersion(v); err != nil {
		return err
	}
	if strings.Contains(v, "/") {
		return Errorf(EINVALID, "invalid cluster version %q: it is an image tag, so it has no '/'; use a tag such as v4.5.1, or latest", truncate(v, 64))
	}
	return nil
}

package provisioner

import (
	"strings"
	"testing"
)

func TestValidateClusterName(t *testing.T) {
	for _, ok := range []string{"ab", "c1", "my-cluster", "sliderule-dev-7", strings.Repeat("a", 40)} {
		if err := ValidateClusterName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "A1", "my_cluster", "-ab", "ab-", "a--b", "a.b", "a b", "a;b", "$(id)",
		"ab\n", strings.Repeat("a", 41), "login", "provisioner", "none", "../x", "ÿÿ"} {
		err := ValidateClusterName(bad)
		if ErrorCode(err) != EINVALID || ErrorMessage(err) == "" {
			t.Errorf("%q: want invalid_request, got %v", bad, err)
		}
	}
}

func TestValidateVersion(t *testing.T) {
	for _, ok := range []string{"latest", "v4.5.1", "main", "release/v5.0", "feature_x-1", "a"} {
		if err := ValidateVersion(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "--upload-pack=touch /tmp/x", "-x", "v1;rm -rf /", "../etc", "a/../b", "a..b",
		"a b", "a//b", "a/", "a.", ".hidden", "a/.b", "x.lock", "a@{1}", "@", "a~1", "a^", "a:b", "a?", "a*", "a[",
		"a\\b", "a\tb", "$(id)", "`id`", "/x", strings.Repeat("v", 129)} {
		err := ValidateVersion(bad)
		if ErrorCode(err) != EINVALID {
			t.Errorf("%q: want invalid_request, got %v", bad, err)
		}
	}
}

// FuzzValidateVersion: whatever passes is safe as a git argument and an
// image tag: no leading dash, no shell or ref metacharacters.
func FuzzValidateVersion(f *testing.F) {
	for _, s := range []string{"v4.5.1", "latest", "--upload-pack=x", "a/../b", "a@{b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ValidateVersion(v) != nil {
			return
		}
		if strings.HasPrefix(v, "-") || strings.ContainsAny(v, " \t\n;$`&|<>(){}[]*?~^:\\'\"") || strings.Contains(v, "..") {
			t.Fatalf("accepted unsafe version %q", v)
		}
	})
}

func TestLevels(t *testing.T) {
	for _, l := range []Level{LevelAnonymous, LevelMember, LevelOrgMember, LevelAdmin} {
		got, err := ParseLevel(l.String())
		if err != nil || got != l {
			t.Errorf("%v: %v %v", l, got, err)
		}
	}
	if _, err := ParseLevel("root"); ErrorCode(err) != EINVALID {
		t.Errorf("root: %v", err)
	}
	if _, err := Level(9).MarshalText(); err == nil {
		t.Error("marshalled an invalid level")
	}
	if !(LevelAdmin > LevelOrgMember && LevelOrgMember > LevelMember && LevelMember > LevelAnonymous) {
		t.Error("levels out of order")
	}
}

func TestErrorHelpers(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Error("nil error")
	}
	plain := errString("db exploded: secret")
	if ErrorCode(plain) != EINTERNAL || ErrorMessage(plain) != "internal error" {
		t.Error("a plain error must read as internal, with no details")
	}
	w := Wrap(EUNAVAILABLE, plain, "GitHub is unreachable")
	if ErrorCode(w) != EUNAVAILABLE || ErrorMessage(w) != "GitHub is unreachable" || !strings.Contains(w.Error(), "secret") {
		t.Errorf("%v", w)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestValidateClusterVersion(t *testing.T) {
	if err := ValidateClusterVersion("v4.5.1"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"feature/x", "-x", ""} {
		if ErrorCode(ValidateClusterVersion(bad)) != EINVALID {
			t.Errorf("%q accepted", bad)
		}
	}
}

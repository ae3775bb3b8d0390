package provisioner

import "fmt"

// Level is what a user may do; higher levels include the lower ones.
type Level int

// The four levels of the seed, in increasing order of privilege.
const (
	LevelAnonymous Level = iota
	LevelMember
	LevelOrgMember
	LevelAdmin
)

var levelNames = [...]string{"anonymous", "member", "org_member", "admin"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel parses the names used in tokens, settings and JSON.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, Errorf(EINVALID, "unknown level %q (want anonymous, member, org_member or admin)", s)
}

// MarshalText makes levels appear by name in JSON.
func (l Level) MarshalText() ([]byte, error) {
	if l < 0 || int(l) >= len(levelNames) {
		return nil, fmt.Errorf("invalid level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText parses a level name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

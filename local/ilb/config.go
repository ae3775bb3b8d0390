package ilb

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Files of a prepared ILB directory.
const (
	ConfigFile = "haproxy.cfg"
	PEMFile    = "pem/pubkey.pem" // the issuer's signing key, PKIX "PUBLIC KEY"
	jsonLua    = "json.lua"
)

// DefaultMonitorAddr is where the monitor backend (production's Grafana,
// 10.0.1.4:3000) points here: a loopback port with nothing behind it, so
// /grafana/ answers 503 and no request leaves the machine.
const DefaultMonitorAddr = "127.0.0.1:9"

// Config says where Prepare finds production's ILB files and how the local
// copy listens.
type Config struct {
	// Src is the ILB directory: haproxy.cfg, orchestrator.lua and
	// analyzer.lua (a SlideRule checkout's apps/ilb). json.lua, which
	// orchestrator.lua requires, is taken from Src or, as in a checkout,
	// Src/../node/packages/core/extensions.
	Src string
	// Dir is the cluster's ILB directory, created 0700. It must not hold
	// spaces or quotes (HAProxy config syntax).
	Dir string
	// UserPort replaces production's :80 (the user frontend),
	// DiscoveryPort its :8050 (the node-facing orchestrator). Both are bound
	// on 127.0.0.1.
	UserPort, DiscoveryPort int
	// MonitorAddr is a loopback host:port for the monitor backend; empty
	// means DefaultMonitorAddr.
	MonitorAddr string
	// Version is the HAProxy that will run the config; under 3.1 the 3.1+
	// keyword tune.lua.bool-sample-conversion is dropped.
	Version Version
}

// CheckSrc says whether dir holds the ILB files Prepare needs.
func CheckSrc(dir string) error {
	for _, f := range []string{ConfigFile, "orchestrator.lua", "analyzer.lua"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("ILB directory %s has no %s (want a SlideRule checkout's apps/ilb)", dir, f)
		}
	}
	if _, err := findJSONLua(dir); err != nil {
		return err
	}
	return nil
}

func findJSONLua(src string) (string, error) {
	for _, p := range []string{
		filepath.Join(src, jsonLua),
		filepath.Join(src, "..", "node", "packages", "core", "extensions", jsonLua),
	} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s next to the ILB files in %s or in ../node/packages/core/extensions", jsonLua, src)
}

// Prepare writes the cluster's ILB directory: the Lua files, json.lua and
// production's haproxy.cfg with only these edits (each is checked, so a
// changed production config fails here rather than running half-edited):
//   - lua-load paths point at the copies in Dir;
//   - the jwt_verify key path points at Dir/pem/pubkey.pem;
//   - `bind :80` and `bind :8050` become 127.0.0.1:UserPort and
//     127.0.0.1:DiscoveryPort; `bind :443 ssl ...` is dropped;
//   - `user` and `group` are dropped from global;
//   - a server with a fixed address (the monitor backend's) points at
//     MonitorAddr;
//   - under HAProxy < 3.1, `tune.lua.bool-sample-conversion` is dropped.
//
// The key itself is written by WritePEM.
func Prepare(c Config) error {
	if c.MonitorAddr == "" {
		c.MonitorAddr = DefaultMonitorAddr
	}
	if strings.ContainsAny(c.Dir, " \t\n\"'\\#$") {
		return fmt.Errorf("ILB directory %q holds characters HAProxy's config would misread", c.Dir)
	}
	if !strings.HasPrefix(c.MonitorAddr, "127.") {
		return fmt.Errorf("monitor address %q is not on loopback", c.MonitorAddr)
	}
	if err := CheckSrc(c.Src); err != nil {
		return err
	}
	cfg, err := os.ReadFile(filepath.Join(c.Src, ConfigFile))
	if err != nil {
		return err
	}
	out, luas, err := rewrite(string(cfg), c)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(c.Src, ConfigFile), err)
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, filepath.Dir(PEMFile)), 0o700); err != nil {
		return err
	}
	js, _ := findJSONLua(c.Src)
	copies := map[string]string{jsonLua: js}
	for _, l := range luas {
		copies[l] = filepath.Join(c.Src, l)
	}
	for name, from := range copies {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(c.Dir, name), b); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(c.Dir, ConfigFile), []byte(out))
}

var (
	luaLoadRE   = regexp.MustCompile(`^(\s*lua-load\s+)(\S+)\s*$`)
	bindRE      = regexp.MustCompile(`^(\s*bind\s+)(\S+)(.*)$`)
	jwtVerifyRE = regexp.MustCompile(`(jwt_verify\([^,]+,")([^"]+)("\))`)
	serverRE    = regexp.MustCompile(`^(\s*server\s+\S+\s+)(\S+)(.*)$`)
)

// rewrite applies Prepare's edits and returns the config and the Lua files
// it loads.
func rewrite(cfg string, c Config) (string, []string, error) {
	lines := strings.SplitAfter(cfg, "\n")
	var out strings.Builder
	fmt.Fprintf(&out, "# production's ILB config from %s, edited for loopback by the provisioner (see package ilb)\n", c.Src)
	var luas []string
	section := ""
	binds := map[string]bool{}
	pems := 0
	for _, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(body)
		if body != "" && body[0] != ' ' && body[0] != '\t' && !strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, ".") {
			section = strings.Fields(trimmed)[0]
		}
		fields := strings.Fields(trimmed)
		switch {
		case len(fields) == 0 || strings.HasPrefix(trimmed, "#"):
		case section == "global" && (fields[0] == "user" || fields[0] == "group"):
			continue
		case fields[0] == "tune.lua.bool-sample-conversion" && !c.Version.AtLeast(3, 1):
			continue
		case fields[0] == "lua-load":
			m := luaLoadRE.FindStringSubmatch(body)
			if m == nil {
				return "", nil, fmt.Errorf("unexpected lua-load line %q", trimmed)
			}
			name := filepath.Base(m[2])
			if !strings.HasSuffix(name, ".lua") || name == jsonLua {
				return "", nil, fmt.Errorf("unexpected lua-load of %q", m[2])
			}
			luas = append(luas, name)
			line = m[1] + filepath.Join(c.Dir, name) + "\n"
		case fields[0] == "bind":
			m := bindRE.FindStringSubmatch(body)
			switch {
			case m[2] == ":80" && strings.TrimSpace(m[3]) == "":
				line = m[1] + "127.0.0.1:" + strconv.Itoa(c.UserPort) + "\n"
			case m[2] == ":8050" && strings.TrimSpace(m[3]) == "":
				line = m[1] + "127.0.0.1:" + strconv.Itoa(c.DiscoveryPort) + "\n"
			case m[2] == ":443":
				continue
			default:
				return "", nil, fmt.Errorf("unexpected listener %q", trimmed)
			}
			if binds[m[2]] {
				return "", nil, fmt.Errorf("listener %s appears twice", m[2])
			}
			binds[m[2]] = true
		case fields[0] == "server":
			m := serverRE.FindStringSubmatch(body)
			if m == nil {
				return "", nil, fmt.Errorf("unexpected server line %q", trimmed)
			}
			if m[2] != "0.0.0.0:0" { // 0.0.0.0:0 is the cluster backend's set-dst placeholder
				line = m[1] + c.MonitorAddr + m[3] + "\n"
			}
		}
		if strings.Contains(line, "jwt_verify(") {
			n := 0
			line = jwtVerifyRE.ReplaceAllStringFunc(line, func(s string) string {
				n++
				m := jwtVerifyRE.FindStringSubmatch(s)
				return m[1] + filepath.Join(c.Dir, PEMFile) + m[3]
			})
			if n == 0 {
				return "", nil, fmt.Errorf("unexpected jwt_verify %q", trimmed)
			}
			pems += n
		}
		out.WriteString(line)
	}
	switch {
	case !binds[":80"] || !binds[":8050"]:
		return "", nil, errors.New("no `bind :80` and `bind :8050` listeners")
	case pems == 0:
		return "", nil, errors.New("no jwt_verify key path")
	case len(luas) == 0:
		return "", nil, errors.New("no lua-load")
	}
	return out.String(), luas, nil
}

// Env is the ILB's environment, as production's docker-compose sets it,
// plus LUA_PATH for json.lua.
func Env(dir, cluster string, public bool, domain, issuer string) []string {
	return []string{
		"IS_PUBLIC=" + strconv.FormatBool(public),
		"CLUSTER=" + cluster,
		"DOMAIN=" + domain,
		"JWT_ISSUER=" + issuer,
		"LUA_PATH=" + filepath.Join(dir, "?.lua") + ";;",
	}
}

// Args runs HAProxy in master-worker mode in the foreground: the started
// process is the master, SIGUSR2 reloads it (Reload), SIGTERM stops it.
func Args(haproxy, dir string) []string {
	return []string{haproxy, "-W", "-db", "-f", filepath.Join(dir, ConfigFile)}
}

// ParsePEM checks that b is one PKIX public key in PEM.
func ParsePEM(b []byte) error {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return errors.New("not one PEM \"PUBLIC KEY\" block")
	}
	_, err := x509.ParsePKIXPublicKey(blk.Bytes)
	return err
}

// WritePEM installs the issuer's public key in a prepared directory and
// says whether it changed (then the running ILB needs a Reload).
func WritePEM(dir string, key []byte) (changed bool, err error) {
	if err := ParsePEM(key); err != nil {
		return false, fmt.Errorf("ILB key: %w", err)
	}
	path := filepath.Join(dir, PEMFile)
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, key) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	return true, writeAtomic(path, key)
}

// PEM returns the current key of a prepared directory.
func PEM(dir string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, PEMFile)) }

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

package signature

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"provisioner"
)

// ParseKeys reads signing keys: either lines of
//
//	login ssh-ed25519 AAAA... comment
//
// (blank lines and # comments ignored), or production's pubkeys secret, a
// JSON object of login -> "ssh-ed25519 AAAA... comment". Logins compare
// case-insensitively, as GitHub's do. Keys of other types are refused.
func ParseKeys(data []byte) (map[string][]ssh.PublicKey, error) {
	out := map[string][]ssh.PublicKey{}
	add := func(where, login, line string) error {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if k.Type() != ssh.KeyAlgoED25519 {
			return fmt.Errorf("%s: a %s key; signing keys are ssh-ed25519", where, k.Type())
		}
		login = strings.ToLower(login)
		out[login] = append(out[login], k)
		return nil
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var m map[string]string
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, fmt.Errorf("JSON keys: %v", err)
		}
		for login, line := range m {
			if err := add("key of "+login, login, line); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		login, key, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("line %d: want \"login ssh-ed25519 AAAA... comment\"", n)
		}
		if err := add(fmt.Sprintf("line %d", n), login, strings.TrimSpace(key)); err != nil {
			return nil, err
		}
	}
	return out, sc.Err()
}

// FileKeys are the operator's signing keys from a file, or from every
// regular file in a directory (hidden files skipped), read again when a
// file changes (looked at most once per second). A file that fails to
// parse keeps the keys read before, and the error is returned until fixed.
type FileKeys struct {
	Path string

	mu      sync.Mutex
	checked time.Time
	stamp   string
	keys    map[string][]ssh.PublicKey
	err     error
}

// NewFileKeys reads path once, so a bad file fails at start.
func NewFileKeys(path string) (*FileKeys, error) {
	f := &FileKeys{Path: path}
	if err := f.refresh(); err != nil {
		return nil, err
	}
	return f, nil
}

// SigningKeys implements Keys.
func (f *FileKeys) SigningKeys(_ context.Context, login string) ([]ssh.PublicKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) >= time.Second {
		f.err = f.refreshLocked()
	}
	if f.err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, f.err, "the signing keys cannot be read")
	}
	return f.keys[strings.ToLower(login)], nil
}

func (f *FileKeys) refresh() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshLocked()
}

func (f *FileKeys) files() ([]string, error) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{f.Path}, nil
	}
	ents, err := os.ReadDir(f.Path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		out = append(out, filepath.Join(f.Path, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

func (f *FileKeys) refreshLocked() error {
	f.checked = time.Now()
	files, err := f.files()
	if err != nil {
		return err
	}
	var stamp strings.Builder
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&stamp, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	if stamp.String() == f.stamp && f.keys != nil {
		return nil
	}
	all := map[string][]ssh.PublicKey{}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		keys, err := ParseKeys(data)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		for l, k := range keys {
			all[l] = append(all[l], k...)
		}
	}
	f.keys, f.stamp = all, stamp.String()
	return nil
}

// GitHubKeys are the ssh-ed25519 keys a user published on GitHub
// (GET /users/{login}/keys), cached for TTL (default 5 minutes).
type GitHubKeys struct {
	APIURL string       // e.g. https://api.github.com
	Client *http.Client // default: 10 s timeout
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]githubEntry
}

type githubEntry struct {
	keys []ssh.PublicKey
	at   time.Time
}

// SigningKeys implements Keys.
func (g *GitHubKeys) SigningKeys(ctx context.Context, login string) ([]ssh.PublicKey, error) {
	login = strings.ToLower(login)
	ttl := g.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	g.mu.Lock()
	e, ok := g.cache[login]
	g.mu.Unlock()
	if ok && time.Since(e.at) < ttl {
		return e.keys, nil
	}
	keys, err := g.fetch(ctx, login)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.cache == nil {
		g.cache = map[string]githubEntry{}
	}
	g.cache[login] = githubEntry{keys: keys, at: time.Now()}
	g.mu.Unlock()
	return keys, nil
}

func (g *GitHubKeys) fetch(ctx context.Context, login string) ([]ssh.PublicKey, error) {
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	u := strings.TrimRight(g.APIURL, "/") + "/users/" + url.PathEscape(login) + "/keys"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "GitHub did not answer for %s's signing keys", login)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, fmt.Errorf("status %d", resp.StatusCode),
			"GitHub did not answer for %s's signing keys", login)
	}
	var list []struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&list); err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, err, "GitHub's answer for %s's signing keys is unreadable", login)
	}
	var keys []ssh.PublicKey
	for _, k := range list {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.Key))
		if err == nil && pk.Type() == ssh.KeyAlgoED25519 {
			keys = append(keys, pk)
		}
	}
	return keys, nil
}

// Multi looks in each source and returns every key found; a source that
// fails matters only when no other source has a key.
type Multi []Keys

// SigningKeys implements Keys.
func (m Multi) SigningKeys(ctx context.Context, login string) ([]ssh.PublicKey, error) {
	var all []ssh.PublicKey
	var firstErr error
	for _, k := range m {
		keys, err := k.SigningKeys(ctx, login)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		all = append(all, keys...)
	}
	if len(all) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return all, nil
}

// StaticKeys are keys given once (an environment variable), by lower-case
// login.
type StaticKeys map[string][]ssh.PublicKey

// SigningKeys implements Keys.
func (k StaticKeys) SigningKeys(_ context.Context, login string) ([]ssh.PublicKey, error) {
	return k[strings.ToLower(login)], nil
}

// FetchedKeys are keys read with Fetch (an S3 object, say) and kept for a
// minute. When a read fails the keys read before stay in use, and the read
// is tried again after a few seconds.
type FetchedKeys struct {
	What  string // named in errors
	Fetch func(context.Context) ([]byte, error)

	mu   sync.Mutex
	next time.Time // when to read again
	keys map[string][]ssh.PublicKey
	err  error
}

const (
	fetchedKeysTTL   = time.Minute
	fetchedKeysRetry = 5 * time.Second
)

// SigningKeys implements Keys.
func (f *FetchedKeys) SigningKeys(ctx context.Context, login string) ([]ssh.PublicKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); !now.Before(f.next) {
		data, err := f.Fetch(ctx)
		var keys map[string][]ssh.PublicKey
		if err == nil {
			keys, err = ParseKeys(data)
		}
		if err == nil {
			f.keys, f.err, f.next = keys, nil, now.Add(fetchedKeysTTL)
		} else {
			f.err, f.next = err, now.Add(fetchedKeysRetry)
		}
	}
	if f.keys == nil && f.err != nil {
		return nil, provisioner.Wrap(provisioner.EUNAVAILABLE, f.err, "the signing keys (%s) cannot be read", f.What)
	}
	return f.keys[strings.ToLower(login)], nil
}

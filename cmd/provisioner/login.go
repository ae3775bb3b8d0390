package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"provisioner"
	"provisioner/api"
	"provisioner/client"
)

type loginOptions struct {
	*globals
	PAT           string
	WithToken     bool
	Device        bool
	GitHubActions bool
	Audience      string
	Now           func() time.Time
	Sleep         func(context.Context, time.Duration) error
}

func newLoginCmd(g *globals) *cobra.Command {
	o := &loginOptions{globals: g, Now: time.Now, Sleep: sleep}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in with GitHub and cache a provisioner token",
		Long: `Log in to the provisioner and cache the token (0600) in your config directory.

Credentials, first that applies:
  --github-actions   the workflow's OIDC ID token (needs "permissions: id-token: write")
  --device           GitHub device flow: open the URL shown and enter the code
  --with-token       a GitHub personal access token read from standard input
  --pat TOKEN        a GitHub personal access token (visible to other local users; prefer the above)
  SLIDERULE_GITHUB_TOKEN or GITHUB_TOKEN from the environment
With none of these, an interactive terminal uses the device flow.`,
		Example: `  echo "$GITHUB_PAT" | provisioner login --with-token
  provisioner login --device
  provisioner login --github-actions --audience sliderule-provisioner`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&o.PAT, "pat", "", "GitHub personal access token")
	cmd.Flags().BoolVar(&o.WithToken, "with-token", false, "read a GitHub personal access token from standard input")
	cmd.Flags().BoolVar(&o.Device, "device", false, "log in with the GitHub device flow")
	cmd.Flags().BoolVar(&o.GitHubActions, "github-actions", false, "log in with the GitHub Actions OIDC token of this workflow")
	cmd.Flags().StringVar(&o.Audience, "audience", "sliderule-provisioner", "audience to request for the Actions OIDC token (the server's --actions-audience)")
	cmd.MarkFlagsMutuallyExclusive("pat", "with-token", "device", "github-actions")
	return cmd
}

func (o *loginOptions) run(ctx context.Context) error {
	c := client.New(o.Server, "")
	var l api.Login
	var err error
	switch {
	case o.GitHubActions:
		var idt string
		if idt, err = actionsIDToken(ctx, o.Audience); err == nil {
			l, err = c.LoginActions(ctx, idt)
		}
	case o.Device:
		l, err = o.device(ctx, c)
	default:
		pat := o.PAT
		if o.WithToken {
			if pat, err = readToken(o.io.In); err != nil {
				return err
			}
		}
		if pat == "" {
			pat = firstEnv("SLIDERULE_GITHUB_TOKEN", "GITHUB_TOKEN")
		}
		switch {
		case pat != "":
			l, err = c.LoginPAT(ctx, pat)
		case isTTY(o.io.Err) && isTerminalReader(o.io.In):
			l, err = o.device(ctx, c)
		default:
			return usagef("no credentials: use --with-token, --device or --github-actions, or set GITHUB_TOKEN")
		}
	}
	if err != nil {
		return err
	}
	if err := storeToken(o.Server, l); err != nil {
		return fmt.Errorf("logged in, but could not cache the token: %w", err)
	}
	if o.JSON {
		return printJSON(o.io.Out, l.Metadata)
	}
	fmt.Fprintf(o.io.Err, "Logged in to %s as %s (%s) until %s\n", o.Server, l.Metadata.Subject, l.Metadata.Level,
		time.Unix(l.Metadata.ExpiresAt, 0).Local().Format("2006-01-02 15:04 MST"))
	return nil
}

// device runs the device flow: show the code, then poll at the interval the
// server asks for until approved, denied or expired.
func (o *loginOptions) device(ctx context.Context, c *client.Client) (api.Login, error) {
	d, err := c.StartDevice(ctx)
	if err != nil {
		return api.Login{}, err
	}
	fmt.Fprintf(o.io.Err, "To log in, open %s and enter the code: %s\n", d.VerificationURI, d.UserCode)
	interval := time.Duration(d.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := o.Now().Add(time.Duration(d.ExpiresIn) * time.Second)
	if d.ExpiresIn <= 0 {
		deadline = o.Now().Add(15 * time.Minute)
	}
	for {
		if err := o.Sleep(ctx, interval); err != nil {
			return api.Login{}, err
		}
		l, err := c.PollDevice(ctx, d.DeviceCode)
		var pe *provisioner.Error
		if !errors.As(err, &pe) || (pe.Code != provisioner.EPENDING && pe.Code != provisioner.ESLOWDOWN) {
			return l, err
		}
		if pe.RetryAfter > 0 {
			interval = pe.RetryAfter
		}
		if o.Now().After(deadline) {
			return api.Login{}, provisioner.Errorf(provisioner.EEXPIRED, "the device code expired before it was approved; run 'provisioner login --device' again")
		}
	}
}

// actionsIDToken asks the GitHub Actions runtime for an OIDC ID token.
func actionsIDToken(ctx context.Context, audience string) (string, error) {
	reqURL, reqTok := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqTok == "" {
		return "", usagef("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: run inside GitHub Actions with 'permissions: id-token: write'")
	}
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", usagef("invalid ACTIONS_ID_TOKEN_REQUEST_URL: %v", err)
	}
	if audience != "" {
		q := u.Query()
		q.Set("audience", audience)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+reqTok)
	req.Header.Set("Accept", "application/json")
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return "", provisioner.Wrap(provisioner.EUNAVAILABLE, err, "cannot reach the GitHub Actions token service")
	}
	defer resp.Body.Close()
	var out struct {
		Value string `json:"value"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", provisioner.Errorf(provisioner.EUNAUTHORIZED, "GitHub Actions refused an ID token: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil || out.Value == "" {
		return "", provisioner.Errorf(provisioner.EUNAVAILABLE, "GitHub Actions answered without an ID token")
	}
	return out.Value, nil
}

func readToken(r io.Reader) (string, error) {
	s := bufio.NewScanner(io.LimitReader(r, 16<<10))
	if !s.Scan() {
		return "", usagef("--with-token: no token on standard input")
	}
	t := strings.TrimSpace(s.Text())
	if t == "" {
		return "", usagef("--with-token: empty token on standard input")
	}
	return t, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTTY(f)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session at the server and forget the cached token",
		Long: `logout revokes the cached token's session at the server, so the token
stops working there (and at gateways within seconds) even if a copy leaked,
then deletes it here. A token the server no longer accepts is deleted all
the same; a server that cannot be reached leaves the token in place, so
logout can be retried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadCreds()
			if err != nil {
				return err
			}
			if c, cerr := g.authedClient(); cerr == nil {
				err := c.Logout(cmd.Context())
				if err != nil && provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED {
					return err
				}
			}
			delete(m, g.Server)
			return saveCreds(m)
		},
	}
}

func newWhoamiCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the cached token says you are, as the server verifies it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.authedClient()
			if err != nil {
				return err
			}
			m, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			if g.JSON {
				return printJSON(g.io.Out, m)
			}
			org := m.Org
			if org == "" {
				org = "-"
			}
			table(g.io.Out, []string{"LOGIN", "LEVEL", "ORG", "EXPIRES"}, [][]string{{m.Subject, m.Level, org,
				time.Unix(m.ExpiresAt, 0).UTC().Format(time.RFC3339)}})
			return nil
		},
	}
}

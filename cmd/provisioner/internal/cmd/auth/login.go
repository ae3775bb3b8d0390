// Package auth holds the commands about the user's login: login, logout
// and whoami.
package auth

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
	"provisioner/cmd/provisioner/internal/cmdutil"
	"provisioner/cmd/provisioner/internal/creds"
	"provisioner/cmd/provisioner/internal/iostreams"
)

// LoginOptions are the options of `provisioner login`.
type LoginOptions struct {
	IO     *iostreams.IOStreams
	Creds  *creds.Cache
	Now    func() time.Time
	Sleep  func(context.Context, time.Duration) error
	Server string
	JSON   bool

	PAT           string
	WithToken     bool
	Device        bool
	GitHubActions bool
	Audience      string
}

// NewCmdLogin is `provisioner login`; runF nil is the real run.
func NewCmdLogin(f *cmdutil.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, Creds: f.Creds, Now: f.Now, Sleep: f.Sleep}
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
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Server, opts.JSON = f.Server, f.JSON
			return cmdutil.Run(cmd.Context(), opts, runF, loginRun)
		},
	}
	cmd.Flags().StringVar(&opts.PAT, "pat", "", "GitHub personal access token")
	cmd.Flags().BoolVar(&opts.WithToken, "with-token", false, "read a GitHub personal access token from standard input")
	cmd.Flags().BoolVar(&opts.Device, "device", false, "log in with the GitHub device flow")
	cmd.Flags().BoolVar(&opts.GitHubActions, "github-actions", false, "log in with the GitHub Actions OIDC token of this workflow")
	cmd.Flags().StringVar(&opts.Audience, "audience", "sliderule-provisioner", "audience to request for the Actions OIDC token (the server's --actions-audience)")
	cmd.MarkFlagsMutuallyExclusive("pat", "with-token", "device", "github-actions")
	return cmd
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	c := client.New(opts.Server, "")
	var l api.Login
	var err error
	switch {
	case opts.GitHubActions:
		var idt string
		if idt, err = actionsIDToken(ctx, opts.Audience); err == nil {
			l, err = c.LoginActions(ctx, idt)
		}
	case opts.Device:
		l, err = device(ctx, opts, c)
	default:
		pat := opts.PAT
		if opts.WithToken {
			if pat, err = readToken(opts.IO.In); err != nil {
				return err
			}
		}
		if pat == "" {
			pat = firstEnv("SLIDERULE_GITHUB_TOKEN", "GITHUB_TOKEN")
		}
		switch {
		case pat != "":
			l, err = c.LoginPAT(ctx, pat)
		case opts.IO.IsStderrTTY() && opts.IO.IsStdinTTY():
			l, err = device(ctx, opts, c)
		default:
			return cmdutil.FlagErrorf("no credentials: use --with-token, --device or --github-actions, or set GITHUB_TOKEN")
		}
	}
	if err != nil {
		return err
	}
	if err := opts.Creds.Put(opts.Server, l); err != nil {
		return fmt.Errorf("logged in, but could not cache the token: %w", err)
	}
	if opts.JSON {
		return cmdutil.PrintJSON(opts.IO.Out, l.Metadata)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged in to %s as %s (%s) until %s\n", opts.Server, l.Metadata.Subject, l.Metadata.Level,
		time.Unix(l.Metadata.ExpiresAt, 0).Local().Format("2006-01-02 15:04 MST"))
	return nil
}

// device runs the device flow: show the code, then poll at the interval the
// server asks for until approved, denied or expired.
func device(ctx context.Context, opts *LoginOptions, c *client.Client) (api.Login, error) {
	d, err := c.StartDevice(ctx)
	if err != nil {
		return api.Login{}, err
	}
	fmt.Fprintf(opts.IO.ErrOut, "To log in, open %s and enter the code: %s\n", d.VerificationURI, d.UserCode)
	interval := time.Duration(d.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := opts.Now().Add(time.Duration(d.ExpiresIn) * time.Second)
	if d.ExpiresIn <= 0 {
		deadline = opts.Now().Add(15 * time.Minute)
	}
	for {
		if err := opts.Sleep(ctx, interval); err != nil {
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
		if opts.Now().After(deadline) {
			return api.Login{}, provisioner.Errorf(provisioner.EEXPIRED, "the device code expired before it was approved; run 'provisioner login --device' again")
		}
	}
}

// actionsIDToken asks the GitHub Actions runtime for an OIDC ID token.
func actionsIDToken(ctx context.Context, audience string) (string, error) {
	reqURL, reqTok := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqTok == "" {
		return "", cmdutil.FlagErrorf("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: run inside GitHub Actions with 'permissions: id-token: write'")
	}
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", cmdutil.FlagErrorf("invalid ACTIONS_ID_TOKEN_REQUEST_URL: %v", err)
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
		return "", cmdutil.FlagErrorf("--with-token: no token on standard input")
	}
	t := strings.TrimSpace(s.Text())
	if t == "" {
		return "", cmdutil.FlagErrorf("--with-token: empty token on standard input")
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

package githubtest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Device flow states.
const (
	devicePending  = "pending"
	deviceApproved = "approved"
	deviceDenied   = "denied"
	deviceExpired  = "expired"
	deviceUsed     = "used"
)

// DefaultDeviceInterval is the polling interval the fake announces.
const DefaultDeviceInterval = 5

type device struct {
	userCode string
	state    string
	token    string
	interval int
	slowDown bool
}

// AddDevice scripts the next device flow: the next POST /login/device/code
// answers deviceCode and userCode (queued in order), and the flow stays
// pending until ApproveDevice, DenyDevice or ExpireDevice. Without a queued
// device, the server makes up random codes.
func (s *Server) AddDevice(deviceCode, userCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devices[deviceCode] = &device{userCode: userCode, state: devicePending, interval: DefaultDeviceInterval}
	s.deviceQueue = append(s.deviceQueue, deviceCode)
}

// ApproveDevice completes a device flow: the next poll answers token, which
// should be one given to AddUser. The code then stops working, as on GitHub.
func (s *Server) ApproveDevice(deviceCode, token string) {
	s.setDevice(deviceCode, func(d *device) { d.state, d.token = deviceApproved, token })
}

// SetDeviceExpiresIn sets the lifetime, in seconds, that device flows
// started from now on announce (default 900, GitHub's).
func (s *Server) SetDeviceExpiresIn(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = seconds
}

func (s *Server) deviceExpiresIn() int {
	if s.expiresIn > 0 {
		return s.expiresIn
	}
	return 900
}

// DenyDevice makes polls answer access_denied.
func (s *Server) DenyDevice(deviceCode string) {
	s.setDevice(deviceCode, func(d *device) { d.state = deviceDenied })
}

// ExpireDevice makes polls answer expired_token.
func (s *Server) ExpireDevice(deviceCode string) {
	s.setDevice(deviceCode, func(d *device) { d.state = deviceExpired })
}

// SlowDownDevice makes the next poll answer slow_down and raises the
// flow's interval by 5 seconds, as GitHub does for a client polling too fast.
func (s *Server) SlowDownDevice(deviceCode string) {
	s.setDevice(deviceCode, func(d *device) { d.slowDown = true })
}

// DeviceInterval returns the flow's current polling interval in seconds.
func (s *Server) DeviceInterval(deviceCode string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.devices[deviceCode]; d != nil {
		return d.interval
	}
	return 0
}

func (s *Server) setDevice(code string, f func(*device)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[code]
	if d == nil {
		d = &device{state: devicePending, interval: DefaultDeviceInterval}
		s.devices[code] = d
	}
	f(d)
}

// serveDevice answers the two OAuth device flow endpoints. Like GitHub, it
// reports OAuth errors with 200 and an "error" field, and speaks JSON only
// when asked to (form encoding otherwise).
func (s *Server) serveDevice(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		notFound(w)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad form"})
		return
	}
	s.mu.Lock()
	s.forms[r.URL.Path] = r.PostForm
	answer := s.deviceAnswer(r.URL.Path, r.PostForm)
	s.mu.Unlock()

	if !strings.Contains(r.Header.Get("Accept"), "json") {
		v := url.Values{}
		for k, x := range answer {
			v.Set(k, fmt.Sprint(x))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// deviceAnswer is called with s.mu held.
func (s *Server) deviceAnswer(path string, form url.Values) map[string]any {
	if form.Get("client_id") == "" {
		return oauthError("incorrect_client_credentials")
	}
	if path == "/login/device/code" {
		var code string
		if len(s.deviceQueue) > 0 {
			code, s.deviceQueue = s.deviceQueue[0], s.deviceQueue[1:]
		} else {
			code = rand.Text()
			s.devices[code] = &device{userCode: strings.ToUpper(rand.Text()[:4] + "-" + rand.Text()[:4]), state: devicePending, interval: DefaultDeviceInterval}
		}
		d := s.devices[code]
		return map[string]any{
			"device_code":      code,
			"user_code":        d.userCode,
			"verification_uri": s.srv.URL + "/login/device",
			"expires_in":       s.deviceExpiresIn(),
			"interval":         d.interval,
		}
	}
	if form.Get("code") != "" && form.Get("grant_type") == "" {
		return s.webAnswer(form)
	}
	if form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" {
		return oauthError("unsupported_grant_type")
	}
	d := s.devices[form.Get("device_code")]
	switch {
	case d == nil || d.state == deviceUsed:
		return oauthError("incorrect_device_code")
	case d.slowDown:
		d.slowDown = false
		d.interval += 5
		a := oauthError("slow_down")
		a["interval"] = d.interval
		return a
	case d.state == devicePending:
		return oauthError("authorization_pending")
	case d.state == deviceDenied:
		return oauthError("access_denied")
	case d.state == deviceExpired:
		return oauthError("expired_token")
	}
	d.state = deviceUsed
	return map[string]any{"access_token": d.token, "token_type": "bearer", "scope": "read:org"}
}

func oauthError(code string) map[string]any {
	return map[string]any{
		"error":             code,
		"error_description": strings.ReplaceAll(code, "_", " "),
		"error_uri":         "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow",
	}
}

package smtp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"provisioner"
)

// server is a tiny SMTP server: STARTTLS (or TLS from the start), AUTH
// PLAIN after TLS, one scripted reply per command if set, and the
// messages it took.
type server struct {
	t        *testing.T
	ln       net.Listener
	tls      *tls.Config
	starttls bool // offer STARTTLS
	implicit bool // TLS from the first byte
	silent   bool // never greet
	user     string
	pass     string
	replies  map[string]string // command -> reply instead of the usual

	mu   sync.Mutex
	mail []received
	auth []string
}

type received struct {
	from string
	rcpt []string
	data string
	tls  bool
}

func newServer(t *testing.T, opts ...func(*server)) (*server, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, ln: ln, starttls: true, user: "ops", pass: "s3cret", replies: map[string]string{},
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	for _, o := range opts {
		o(s)
	}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s, pool
}

func (s *server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *server) session(c net.Conn) {
	defer c.Close()
	if s.silent {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	secure := false
	if s.implicit {
		c, secure = tls.Server(c, s.tls), true
	}
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 test ESMTP")
	var cur received
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if r, ok := s.replies[verb]; ok {
			_ = tp.PrintfLine("%s", r)
			continue
		}
		switch verb {
		case "EHLO":
			lines := []string{"test"}
			if s.starttls && !secure {
				lines = append(lines, "STARTTLS")
			}
			if secure {
				lines = append(lines, "AUTH PLAIN")
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				_ = tp.PrintfLine("250%s%s", sep, l)
			}
		case "STARTTLS":
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, secure, tp = tc, true, textproto.NewConn(tc)
		case "AUTH":
			_, b64, _ := strings.Cut(arg, " ")
			raw, _ := base64.StdEncoding.DecodeString(b64)
			s.mu.Lock()
			s.auth = append(s.auth, string(raw))
			s.mu.Unlock()
			if string(raw) == "\x00"+s.user+"\x00"+s.pass {
				_ = tp.PrintfLine("235 ok")
			} else {
				_ = tp.PrintfLine("535 5.7.8 authentication failed")
			}
		case "MAIL":
			cur = received{from: strings.Trim(strings.TrimPrefix(arg, "FROM:"), "<>"), tls: secure}
			_ = tp.PrintfLine("250 ok")
		case "RCPT":
			cur.rcpt = append(cur.rcpt, strings.Trim(strings.TrimPrefix(arg, "TO:"), "<>"))
			_ = tp.PrintfLine("250 ok")
		case "DATA":
			_ = tp.PrintfLine("354 go on")
			b, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			cur.data = string(b)
			s.mu.Lock()
			s.mail = append(s.mail, cur)
			s.mu.Unlock()
			_ = tp.PrintfLine("250 queued")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("250 ok")
		}
	}
}

func (s *server) taken() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.mail...)
}

func testNotice() provisioner.Notice {
	return provisioner.Notice{ID: "abc123", Kind: provisioner.NoticeDestroySoon, Cluster: "demo", Owner: "ada",
		Time: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Subject: "SlideRule cluster demo will be destroyed in 10m — ünïcode",
		Text: "Cluster demo will be destroyed.\nTo keep it longer, run: provisioner extend demo --ttl 1h\n" + strings.Repeat("x", 120) + "\n",
		To:   []string{"ada@example.org", "not an address", "ops@example.org"}}
}

func TestSendStartTLS(t *testing.T) {
	srv, pool := newServer(t)
	s, err := New(Config{Addr: srv.ln.Addr().String(), Username: "ops", Password: "s3cret", From: "provisioner@example.org",
		To: []string{"ops@example.org"}, TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), testNotice()); err != nil {
		t.Fatal(err)
	}
	got := srv.taken()
	if len(got) != 1 || !got[0].tls || got[0].from != "provisioner@example.org" ||
		strings.Join(got[0].rcpt, ",") != "ops@example.org,ada@example.org" {
		t.Fatalf("%+v", got)
	}
	m, err := mail.ReadMessage(strings.NewReader(got[0].data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subj != testNotice().Subject {
		t.Errorf("subject %q: %v", subj, err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil || !strings.Contains(string(body), "provisioner extend demo --ttl 1h") || !strings.Contains(string(body), strings.Repeat("x", 120)) {
		t.Errorf("body %q: %v", body, err)
	}
	if m.Header.Get("Message-Id") != "<abc123@sliderule-provisioner>" || m.Header.Get("To") != "ops@example.org, ada@example.org" {
		t.Errorf("headers %v", m.Header)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	srv, pool := newServer(t, func(s *server) { s.implicit = true })
	s, err := New(Config{Addr: srv.ln.Addr().String(), Username: "ops", Password: "s3cret", From: "p@example.org",
		To: []string{"ops@example.org"}, TLS: TLSImplicit, TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), provisioner.Notice{ID: "x", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.taken(); len(got) != 1 || !got[0].tls {
		t.Fatalf("%+v", got)
	}
}

// TestFailures: what fails is classified (a retry for 4xx and lost
// connections, final for 5xx and a refused login), and a password never
// goes over a connection without TLS.
func TestFailures(t *testing.T) {
	send := func(t *testing.T, srv *server, pool *x509.CertPool, pass string, timeout time.Duration) error {
		s, err := New(Config{Addr: srv.ln.Addr().String(), Username: "ops", Password: pass, From: "p@example.org",
			To: []string{"ops@example.org"}, TLSConfig: &tls.Config{RootCAs: pool}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		return s.Send(ctx, testNotice())
	}
	t.Run("NoSTARTTLS", func(t *testing.T) {
		srv, pool := newServer(t, func(s *server) { s.starttls = false })
		err := send(t, srv, pool, "s3cret", 5*time.Second)
		srv.mu.Lock()
		auth := len(srv.auth)
		srv.mu.Unlock()
		if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || auth != 0 || len(srv.taken()) != 0 {
			t.Fatalf("%v; auth %q", err, srv.auth)
		}
	})
	t.Run("BadPassword", func(t *testing.T) {
		srv, pool := newServer(t)
		err := send(t, srv, pool, "wrong", 5*time.Second)
		if provisioner.ErrorCode(err) != provisioner.EUNAUTHORIZED || !provisioner.PermanentNoticeError(err) {
			t.Fatalf("%v", err)
		}
	})
	for verb, c := range map[string]struct {
		reply string
		code  string
	}{
		"RCPT": {"450 4.2.1 mailbox busy", provisioner.EUNAVAILABLE},
		"MAIL": {"550 5.7.1 relaying denied", provisioner.EINVALID},
		"DATA": {"554 5.6.0 message refused", provisioner.EINVALID},
	} {
		t.Run(verb, func(t *testing.T) {
			srv, pool := newServer(t, func(s *server) { s.replies[verb] = c.reply })
			err := send(t, srv, pool, "s3cret", 5*time.Second)
			if provisioner.ErrorCode(err) != c.code || !strings.Contains(provisioner.ErrorMessage(err), c.reply[:3]) {
				t.Fatalf("%v", err)
			}
		})
	}
	t.Run("Silent", func(t *testing.T) {
		srv, pool := newServer(t, func(s *server) { s.silent = true })
		start := time.Now()
		err := send(t, srv, pool, "s3cret", 200*time.Millisecond)
		if provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE || time.Since(start) > 5*time.Second {
			t.Fatalf("%v after %s", err, time.Since(start))
		}
	})
	t.Run("Refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		s, _ := New(Config{Addr: addr, From: "p@example.org", To: []string{"o@example.org"}, TLS: TLSNone})
		if err := s.Send(t.Context(), testNotice()); provisioner.ErrorCode(err) != provisioner.EUNAVAILABLE {
			t.Fatalf("%v", err)
		}
	})
}

func TestBadConfig(t *testing.T) {
	ok := Config{Addr: "smtp.example.org:587", From: "p@example.org", To: []string{"ops@example.org"}}
	for name, change := range map[string]func(c *Config){
		"no port":        func(c *Config) { c.Addr = "smtp.example.org" },
		"bad TLS":        func(c *Config) { c.TLS = "ssl" },
		"login in clear": func(c *Config) { c.TLS, c.Username = TLSNone, "ops" },
		"bad from":       func(c *Config) { c.From = "Provisioner <p@example.org>" },
		"no to":          func(c *Config) { c.To = nil },
		"bad to":         func(c *Config) { c.To = []string{"ops@example.org\r\nBcc: x@evil"} },
	} {
		c := ok
		change(&c)
		if _, err := New(c); provisioner.ErrorCode(err) != provisioner.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}

// TestHeaderInjection: a subject cannot add headers.
func TestHeaderInjection(t *testing.T) {
	msg, err := Message("p@example.org", []string{"o@example.org"}, provisioner.Notice{ID: "x\r\nBcc: evil@example.org", Subject: "hi\r\nBcc: evil@example.org", Text: "t"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(msg))))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Bcc") != "" {
		t.Fatalf("injected: %q", msg)
	}
}

package github

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	gh "github.com/google/go-github/v88/github"

	"provisioner"
)

// defaultRetryAfter is used when GitHub says "rate limited" without saying
// until when.
const defaultRetryAfter = time.Minute

func unreachable(err error) error {
	return provisioner.Wrap(provisioner.EUNAVAILABLE, err, "GitHub is unreachable")
}

func rateLimited(err error, retry time.Duration) error {
	// Whole seconds, rounded up, as Retry-After speaks: a lookup that
	// learns of the limit a moment after another (go-github remembers it)
	// says the same.
	retry = max(time.Second, (retry + time.Second - 1).Truncate(time.Second))
	e := provisioner.Wrap(provisioner.ERATELIMITED, err,
		"GitHub rate limit exceeded; retry in %s", retry)
	e.RetryAfter = retry
	return e
}

// apiError maps what go-github returned to the domain's errors. For an
// ordinary error answer (403, 404, ...) whose meaning depends on the call, it
// returns the HTTP status and a nil error instead.
func apiError(err error) (status int, mapped error) {
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		retry := defaultRetryAfter
		if !rl.Rate.Reset.IsZero() {
			retry = time.Until(rl.Rate.Reset.Time)
		}
		return 0, rateLimited(err, retry)
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		retry := defaultRetryAfter
		if abuse.RetryAfter != nil {
			retry = *abuse.RetryAfter
		}
		return 0, rateLimited(err, retry)
	}
	var tfa *gh.TwoFactorAuthError
	if errors.As(err, &tfa) {
		return 0, rejected(err)
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		switch {
		case code == http.StatusUnauthorized:
			return 0, rejected(err)
		case code == http.StatusTooManyRequests || (code == http.StatusForbidden && er.Response.Header.Get("Retry-After") != ""):
			return 0, rateLimited(err, retryAfter(er.Response.Header))
		case code >= 500:
			return 0, unreachable(err)
		}
		return code, nil
	}
	// Network errors, timeouts, cancellation and undecodable answers.
	return 0, unreachable(err)
}

func rejected(err error) error {
	return provisioner.Wrap(provisioner.EUNAUTHORIZED, err, "GitHub rejected the token")
}

// retryAfter reads Retry-After (seconds) or X-RateLimit-Reset (epoch).
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 {
		return time.Until(time.Unix(s, 0))
	}
	return defaultRetryAfter
}

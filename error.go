package provisioner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Error codes. They travel as the "error" field of JSON error bodies, and the
// HTTP layer maps each to one status (see api.StatusFor).
const (
	EINVALID      = "invalid_request"       // 400: bad input
	EUNAUTHORIZED = "unauthorized"          // 401: no token, bad token, bad credentials
	EFORBIDDEN    = "forbidden"             // 403: level too low
	ENOTFOUND     = "not_found"             // 404
	ECONFLICT     = "conflict"              // 409: state forbids the request
	ERATELIMITED  = "rate_limited"          // 429
	EUNAVAILABLE  = "unavailable"           // 503: an upstream (GitHub, AWS) failed or timed out
	EINTERNAL     = "internal_error"        // 500: never carries details
	EUNSUPPORTED  = "unsupported_media"     // 415: wrong content type
	ETOOLARGE     = "request_too_large"     // 413
	EPENDING      = "authorization_pending" // 202 on device polls
	ESLOWDOWN     = "slow_down"             // 202 on device polls, with a longer interval
	EEXPIRED      = "expired_token"         // 400: device code expired
	EDENIED       = "access_denied"         // 403: user refused the device login
	ESIGREQUIRED  = "signature_required"    // 401: the signature policy requires a signed request
	EBADSIGNATURE = "invalid_signature"     // 401: a signature that does not verify, is stale or replayed

	// The seed's "return failure" for state reasons (409).
	ESCHEDULED = "scheduled_for_delete"   // DEPLOY of a cluster being or about to be destroyed
	ETOOLATE   = "too_late_to_reschedule" // SCHEDULE_DESTROY within 5 minutes of the destroy
	ELIMIT     = "limit_exceeded"         // an org member's node, TTL or cluster limit
	EFAILED    = "operation_failed"       // a DEPLOY or DESTROY that did not reach its state

	// The store could not do its part; the cause stays in the wrapped error,
	// for the log.
	ESTORAGEFULL    = "storage_full"    // 507: the disk or the database's size limit is full
	ESTORAGECORRUPT = "storage_corrupt" // 500: the database is damaged; restore it from a backup
)

// Error is the one error type the domain speaks. Message is safe to show to
// the caller; anything internal stays in wrapped errors and logs.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, tells the caller how long to wait (429, slow_down).
	RetryAfter time.Duration
	// Err is the underlying cause, logged but never sent.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error that hides err behind a caller-safe message.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the message of an
// *Error, or "internal error" for anything else.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// RetryAfter returns how long err tells the caller to wait (its first
// *Error's RetryAfter), or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ContextError is the part of a backend's error translation every backend
// shares: an *Error passes as it is, and a cancelled or expired context
// becomes EUNAVAILABLE with ctx.Err() kept in the chain (so callers can
// tell a gone client from a failing backend). It returns nil for any other
// error, which the backend then classifies itself.
func ContextError(ctx context.Context, err error, op string) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return Wrap(EUNAVAILABLE, err, "%s: canceled or timed out", op)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Wrap(EUNAVAILABLE, err, "%s: canceled or timed out", op)
	}
	return nil
}

package client

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/credd-dev/credd/apitype"
)

// Statuses the daemon answers with (SPEC §6).
const (
	statusNoContent          = 204
	statusBadRequest         = 400
	statusForbidden          = 403
	statusNotFound           = 404
	statusConflict           = 409
	statusServiceUnavailable = 503
)

// Sentinel errors for errors.Is. An *APIError matches the one its status
// and code stand for; a *NotRunningError matches ErrNotRunning.
var (
	ErrNotRunning   = errors.New("credd is not running")
	ErrBadRequest   = errors.New("bad request")
	ErrAccessDenied = errors.New("access denied")
	ErrNotFound     = errors.New("not found")
	ErrReadOnly     = errors.New("keystore is read-only")
	ErrUnavailable  = errors.New("credentials unavailable")
)

// APIError is an error answer from the daemon: its HTTP status and the
// fields of the wire error body.
type APIError struct {
	Status  int
	Code    string // apitype.Code*
	Message string
	Hint    string
	// Known lists the names the caller may use, when a profile or key was
	// not found.
	Known []string
	// Upstream is the cloud's error code when credentials are unavailable.
	Upstream string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return strings.TrimSpace(fmt.Sprintf("credd answered %d %s", e.Status, statusText(e.Status)))
	}
	return e.Message
}

// Is reports whether e stands for target, one of the Err* sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == statusBadRequest
	case ErrAccessDenied:
		return e.Status == statusForbidden || e.Code == apitype.CodeDenied
	case ErrNotFound:
		return e.Status == statusNotFound
	case ErrReadOnly:
		return e.Status == statusConflict || e.Code == apitype.CodeReadOnly
	case ErrUnavailable:
		return e.Status == statusServiceUnavailable
	}
	return false
}

// NotRunningError reports that nothing listens on the socket.
type NotRunningError struct {
	Socket string
	Err    error // the dial error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("credd is not running: connect %s: %v", e.Socket, errnoOf(e.Err))
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotRunning) true.
func (e *NotRunningError) Is(target error) bool { return target == ErrNotRunning }

// IsNotRunning reports whether err means the daemon could not be reached:
// no socket file, or a socket file nobody listens on.
func IsNotRunning(err error) bool { return errors.Is(err, ErrNotRunning) }

// IsNotFound reports whether err means an unknown profile or key.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAccessDenied reports whether the daemon refused the caller.
func IsAccessDenied(err error) bool { return errors.Is(err, ErrAccessDenied) }

// IsUnavailable reports whether the daemon could not obtain credentials.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// AsAPIError returns the *APIError in err's chain, if any.
func AsAPIError(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// isDialRefused reports whether err is a failed connect that means "no
// daemon here": a missing socket file or path, or a stale socket file.
func isDialRefused(err error) bool {
	return errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENOTDIR)
}

// errnoOf returns the bare errno in err, which reads better than the
// "dial unix /path: connect:" chain around it, or err itself.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

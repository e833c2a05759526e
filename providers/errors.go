package providers

import (
	"errors"
	"fmt"
	"time"
)

// Class sorts upstream failures by what credd and the user should do next.
type Class string

const (
	// Transient failures (5xx, network, malformed bodies) back off normally.
	Transient Class = "transient"
	// Throttled requests back off starting from 10 s.
	Throttled Class = "throttled"
	// BadCredentials means the long-lived key is wrong, unknown or disabled:
	// retrying hot cannot help; the user must run `credctl key set`.
	BadCredentials Class = "bad_credentials"
	// ClockSkew means the local clock is too far from the service's.
	ClockSkew Class = "clock_skew"
	// InvalidParameter means the profile's settings were rejected.
	InvalidParameter Class = "invalid_parameter"
	// Denied means the key is valid but lacks permission.
	Denied Class = "denied"
	// MissingKey means the keystore has no entry the profile names, or it
	// could not be read (locked keyring).
	MissingKey Class = "missing_key"
)

// Error is an upstream or credential-source failure, classified.
type Error struct {
	Provider string        // "tencent", "huawei"
	Op       string        // the API called, e.g. "GetFederationToken"
	Class    Class         // what to do about it
	Code     string        // the upstream error code, e.g. "AuthFailure.SecretIdNotFound"
	Message  string        // the upstream message
	Key      string        // the profile key at fault, for InvalidParameter
	Skew     time.Duration // how far off the clock is, when the service tells
	Status   int           // HTTP status, when there was one
	Err      error         // the underlying cause, if any
}

func (e *Error) Error() string {
	s := e.Provider
	if e.Op != "" {
		s += " " + e.Op
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	} else if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Hint tells the user what to do about the error, or "" when there is
// nothing useful to say.
func (e *Error) Hint() string {
	switch e.Class {
	case BadCredentials:
		return "the stored key was rejected; store a valid one with `credctl key set NAME --kind KIND`"
	case MissingKey:
		return "credd could not read the key from its keystore; the message says why (for a locked keyring: unlock it)"
	case ClockSkew:
		if e.Skew != 0 {
			return fmt.Sprintf("the local clock is off by about %s; sync it (timedatectl set-ntp true)", e.Skew.Round(time.Second))
		}
		return "the local clock is off; sync it (timedatectl set-ntp true)"
	case InvalidParameter:
		if e.Key != "" {
			return fmt.Sprintf("check the profile's %q setting", e.Key)
		}
		return "check the profile's settings"
	case Throttled:
		return "the service is throttling requests; credd backs off and retries"
	case Denied:
		return "the key lacks permission for this call; check its policy"
	}
	return ""
}

// ClassOf returns the class of err, Transient when it carries none.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) && e.Class != "" {
		return e.Class
	}
	return Transient
}

// CodeOf returns the upstream code carried by err, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

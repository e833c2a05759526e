// Package providers holds what every cloud provider shares: the Credential a
// provider returns, the error taxonomy that tells the refresh engine and the
// user what went wrong upstream, and the dependencies a provider is built with.
//
// Each cloud lives in a subpackage (providers/tencent, providers/huawei) and
// returns concrete types; the refresh engine consumes them through its own
// one-method Source interface.
package providers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/secret"
)

// Credential is a temporary cloud credential.
type Credential struct {
	AccessKeyID  string       // an identifier, not a secret
	Secret       secret.Value // the temporary secret key
	SessionToken secret.Value // the session / security token
	Expiration   time.Time
}

// Zero wipes the credential's secrets in place.
func (c *Credential) Zero() {
	c.Secret.Zero()
	c.SessionToken.Zero()
}

// Keys reads long-lived secrets by name. keystore backends implement it.
type Keys interface {
	Get(ctx context.Context, name string) (keystore.Entry, error)
}

// Deps are what the daemon hands a provider when it builds one.
type Deps struct {
	Keys   Keys             // where long-lived keys are read at fetch time
	HTTP   *http.Client     // nil means a client with sane timeouts
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil means slog.Default()
}

// Clock returns d.Now or time.Now.
func (d Deps) Clock() func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return time.Now
}

// Log returns d.Logger or slog.Default().
func (d Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Client returns d.HTTP or a client with bounded timeouts.
func (d Deps) Client() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return DefaultHTTPClient()
}

// DefaultHTTPClient returns an HTTP client whose every phase is bounded, so a
// silent upstream can never hang a refresh.
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 20 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

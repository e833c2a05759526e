// Package tencent obtains temporary credentials from Tencent Cloud STS:
// GetFederationToken, AssumeRole and AssumeRoleWithWebIdentity over API 3.0
// (through the official tencentcloud-sdk-go, TC3-HMAC-SHA256), and the
// legacy v2 GetFederationToken at sts.api.qcloud.com, signed here by hand.
//
// The long-lived key is read from the keystore at every fetch, never
// cached, so `credctl key set` takes effect at the next refresh. Upstream
// failures come back as *providers.Error, classified for the refresh
// engine; no secret key, session token or web identity token ever appears
// in them.
package tencent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/secret"
)

// Default endpoints.
const (
	DefaultHost   = "sts.tencentcloudapi.com"    // API 3.0
	DefaultV2Base = "https://sts.api.qcloud.com" // legacy v2
)

// KeyKind is the keystore entry kind the provider reads.
const KeyKind = "tencent"

// keyReadTimeout bounds a keystore read: a D-Bus keyring can hang.
const keyReadTimeout = 10 * time.Second

// Provider fetches temporary credentials for one profile.
type Provider struct {
	prof   config.Profile
	keys   providers.Keys
	client *http.Client
	now    func() time.Time

	// API 3.0: the SDK's endpoint host and scheme.
	host   string
	scheme string
	// v2: the base URL, /v2/index.php is appended.
	v2Base *url.URL
}

var _ refresh.Source = (*Provider)(nil)

// New builds a provider for a validated tencent profile.
func New(p *config.Profile, d providers.Deps) (*Provider, error) {
	if p == nil {
		return nil, errors.New("tencent provider: nil profile")
	}
	pr := &Provider{prof: *p, keys: d.Keys, client: providers.NoRedirects(d.Client()), now: d.Clock()}
	switch p.API {
	case config.APIFederationToken, config.APIAssumeRole, config.APIWebIdentity:
	default:
		return nil, fmt.Errorf("tencent provider: profile %q: unknown api %q", p.Name, p.API)
	}
	switch p.APIVersion {
	case 3:
	case 2:
		if p.API != config.APIFederationToken {
			return nil, fmt.Errorf("tencent provider: profile %q: api_version 2 supports only GetFederationToken", p.Name)
		}
	default:
		return nil, fmt.Errorf("tencent provider: profile %q: unknown api_version %d", p.Name, p.APIVersion)
	}
	if p.API != config.APIWebIdentity && p.Key == "" {
		return nil, fmt.Errorf("tencent provider: profile %q: no key named", p.Name)
	}
	if p.API != config.APIWebIdentity && d.Keys == nil {
		return nil, fmt.Errorf("tencent provider: profile %q: no keystore", p.Name)
	}
	if p.API == config.APIWebIdentity && p.WebIdentityTokenFile == "" {
		return nil, fmt.Errorf("tencent provider: profile %q: no web_identity_token_file", p.Name)
	}

	base := p.Endpoint
	if p.APIVersion == 2 && base == "" {
		base = DefaultV2Base
	}
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("tencent provider: profile %q: endpoint %q is not an http(s) base URL", p.Name, base)
		}
		pr.v2Base = u
		pr.host, pr.scheme = u.Host, strings.ToUpper(u.Scheme)
	} else {
		pr.host, pr.scheme = DefaultHost, "HTTPS"
	}
	return pr, nil
}

// Fetch obtains a fresh temporary credential.
func (p *Provider) Fetch(ctx context.Context) (providers.Credential, error) {
	if p.prof.APIVersion == 2 {
		return p.fetchV2(ctx)
	}
	return p.fetchV3(ctx)
}

// longKey is a permanent SecretId / SecretKey pair.
type longKey struct {
	id  string
	key secret.Value
}

// readKey reads the profile's keystore entry.
func (p *Provider) readKey(ctx context.Context) (longKey, error) {
	ctx, cancel := context.WithTimeout(ctx, keyReadTimeout)
	defer cancel()
	name := p.prof.Key
	e, err := p.keys.Get(ctx, name)
	if errors.Is(err, keystore.ErrNotFound) {
		return longKey{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.MissingKey, Err: err,
			Message: fmt.Sprintf("key %q: %v", name, err)} // the daemon's hint says how to add it
	}
	if err != nil {
		return longKey{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.MissingKey, Err: err,
			Message: fmt.Sprintf("read key %q: %v", name, err)}
	}
	if e.Kind != "" && e.Kind != KeyKind {
		return longKey{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.MissingKey,
			Message: fmt.Sprintf("key %q is of kind %q, not tencent", name, e.Kind)}
	}
	id, sk := e.Field("secret_id"), e.Field("secret_key")
	if id.IsEmpty() || sk.IsEmpty() {
		return longKey{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.MissingKey,
			Message: fmt.Sprintf("key %q lacks secret_id or secret_key", name)}
	}
	return longKey{id: id.Reveal(), key: sk}, nil
}

// readWebIdentityToken re-reads the token file at every fetch: the issuer
// rotates it in place.
func (p *Provider) readWebIdentityToken() (secret.Value, error) {
	b, err := os.ReadFile(p.prof.WebIdentityTokenFile)
	if err != nil {
		return secret.Value{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.InvalidParameter,
			Key: "web_identity_token_file", Err: err, Message: fmt.Sprintf("read web identity token: %v", err)}
	}
	tok := strings.TrimSpace(string(b))
	clear(b)
	if tok == "" {
		return secret.Value{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.InvalidParameter,
			Key: "web_identity_token_file", Message: fmt.Sprintf("web identity token file %s is empty", p.prof.WebIdentityTokenFile)}
	}
	return secret.New(tok), nil
}

// expiry picks the credential's expiry: ExpiredTime (Unix seconds) when
// present, else Expiration (RFC 3339).
func expiry(expiredTime int64, expiration string) (time.Time, bool) {
	if expiredTime > 0 {
		return time.Unix(expiredTime, 0), true
	}
	if expiration != "" {
		if t, err := time.Parse(time.RFC3339, expiration); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// serverSkew returns how far the service's Date header is from now, or 0
// when there is none.
func serverSkew(date string, now time.Time) time.Duration {
	if date == "" {
		return 0
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return 0
	}
	// Date has whole seconds: a difference under two is no measurable skew.
	if d := t.Sub(now).Round(time.Second); d.Abs() >= 2*time.Second {
		return d
	}
	return 0
}

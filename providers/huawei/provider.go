// Package huawei fetches temporary AK/SK credentials from Huawei Cloud IAM.
//
// Three methods are supported (SPEC §2.2): "federation", SAML2 ECP against
// the OS-FEDERATION credential endpoint; "token", which exchanges an IAM
// token (from a password, ECP or OpenID Connect login, cached until shortly
// before it expires) at /v3.0/OS-CREDENTIAL/securitytokens; and
// "assume_role", the same endpoint signed with SDK-HMAC-SHA256 by a
// permanent AK/SK. Huawei's SDK is not used: the REST calls are small and
// written here.
package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/secret"
)

// Keystore entry kinds the provider reads.
const (
	KindPassword = "password"    // fields username, password
	KindAKSK     = "huawei-aksk" // fields access_key, secret_key
)

const (
	// maxBody caps every response body read.
	maxBody = 1 << 20
	// tokenMargin is how long before its expires_at a cached IAM token is
	// replaced, so a token never expires between the check and its use.
	tokenMargin = 5 * time.Minute
	// expiresLayout parses IAM's expires_at ("2026-11-23T12:34:56.123456Z");
	// RFC 3339 with optional fractional seconds covers it.
	expiresLayout = time.RFC3339Nano
)

var _ refresh.Source = (*Provider)(nil)

// Provider fetches credentials for one huawei profile.
type Provider struct {
	prof     config.Profile
	endpoint *url.URL
	keys     providers.Keys
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	policy   json.RawMessage // compacted, nil when the profile has none

	mu  sync.Mutex // guards tok
	tok cachedToken
}

// cachedToken is an IAM token held for the token method.
type cachedToken struct {
	value   secret.Value
	expires time.Time
}

// New checks that p has what its method needs and builds a Provider.
func New(p *config.Profile, d providers.Deps) (*Provider, error) {
	if p == nil {
		return nil, errors.New("huawei provider: nil profile")
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("huawei profile %q: "+format, append([]any{p.Name}, a...)...)
	}
	u, err := checkURL(p.IAMEndpoint)
	if err != nil {
		return nil, fail("iam_endpoint: %v", err)
	}
	if d.Keys == nil && !(p.Method == config.MethodToken && p.Login == config.LoginOIDC) {
		return nil, fail("no keystore")
	}
	need := func(v, name string) error {
		if strings.TrimSpace(v) == "" {
			return fail("%s is required for method %q", name, p.MethodLabel())
		}
		return nil
	}
	var errs []error
	ecpNeeds := func() {
		errs = append(errs, need(p.Key, "key"), need(p.IdpID, "idp_id"), need(p.ProtocolID, "protocol_id"), need(p.IdpURL, "idp_url"))
		if p.IdpURL != "" {
			if _, err := checkURL(p.IdpURL); err != nil {
				errs = append(errs, fail("idp_url: %v", err))
			}
		}
	}
	switch p.Method {
	case config.MethodFederation, "":
		ecpNeeds()
	case config.MethodToken:
		switch p.Login {
		case config.LoginPassword, "":
			errs = append(errs, need(p.Key, "key"), need(p.DomainName, "domain_name"))
		case config.LoginFederation:
			ecpNeeds()
		case config.LoginOIDC:
			errs = append(errs, need(p.IdpID, "idp_id"), need(p.IDTokenFile, "id_token_file"))
		default:
			errs = append(errs, fail("unknown login %q", p.Login))
		}
	case config.MethodAssumeRole:
		errs = append(errs, need(p.Key, "key"), need(p.AgencyName, "agency_name"))
		if p.DomainName == "" && p.DomainID == "" {
			errs = append(errs, fail("domain_name or domain_id is required for method %q", p.Method))
		}
	default:
		errs = append(errs, fail("unknown method %q", p.Method))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	prov := &Provider{
		prof:     *p,
		endpoint: u,
		keys:     d.Keys,
		client:   providers.NoRedirects(d.Client()), // ECP follows its redirects itself
		now:      d.Clock(),
		log:      d.Log().With("provider", "huawei", "profile", p.Name),
	}
	if p.Policy != "" {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(p.Policy)); err != nil || !strings.HasPrefix(b.String(), "{") {
			return nil, fail("policy is not a JSON object")
		}
		if p.Method == config.MethodAssumeRole && b.Len() > 2048 {
			return nil, fail("policy is %d characters; assume_role allows 2048", b.Len())
		}
		prov.policy = b.Bytes()
	}
	return prov, nil
}

// checkURL accepts https URLs, and http only for loopback hosts.
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%q: http:// is allowed only for loopback addresses", s)
		}
	default:
		return nil, fmt.Errorf("%q: scheme must be https", s)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Fetch obtains a fresh temporary credential.
func (p *Provider) Fetch(ctx context.Context) (providers.Credential, error) {
	// Whatever IAM or the IdP echo back into an error is scrubbed of the
	// secrets this fetch sent.
	ctx, red := providers.WithRedactor(ctx)
	defer red.Zero()
	var c providers.Credential
	var err error
	switch p.prof.Method {
	case config.MethodToken:
		c, err = p.fetchToken(ctx)
	case config.MethodAssumeRole:
		c, err = p.fetchAssumeRole(ctx)
	default:
		c, err = p.fetchFederation(ctx)
	}
	return c, red.Scrub(err)
}

// url joins the IAM endpoint and a path.
func (p *Provider) url(path string) string {
	return strings.TrimRight(p.endpoint.String(), "/") + path
}

func (p *Provider) durationSeconds() int {
	n := int(p.prof.Duration / time.Second)
	if n == 0 {
		n = 900
	}
	return n
}

// key reads the profile's keystore entry at fetch time and checks its kind.
func (p *Provider) key(ctx context.Context, kind string) (keystore.Entry, error) {
	e, err := p.keys.Get(ctx, p.prof.Key)
	if err != nil {
		msg := fmt.Sprintf("read key %q: %v", p.prof.Key, err)
		if !errors.Is(err, keystore.ErrNotFound) {
			msg = fmt.Sprintf("read key %q: %v (is the keyring locked?)", p.prof.Key, err)
		}
		return e, &providers.Error{Provider: "huawei", Op: "read key", Class: providers.MissingKey, Message: msg, Err: err}
	}
	if e.Kind != kind {
		e.Zero()
		return keystore.Entry{}, &providers.Error{Provider: "huawei", Op: "read key", Class: providers.MissingKey,
			Message: fmt.Sprintf("key %q is of kind %q, the profile needs %q", p.prof.Key, e.Kind, kind)}
	}
	for _, f := range keystore.Kinds[kind] {
		if e.Field(f).IsEmpty() {
			e.Zero()
			return keystore.Entry{}, &providers.Error{Provider: "huawei", Op: "read key", Class: providers.MissingKey,
				Message: fmt.Sprintf("key %q has no %s", p.prof.Key, f)}
		}
	}
	providers.NoteSecret(ctx, e.Field("password"), e.Field("secret_key"))
	return e, nil
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL
}

// do sends req with client and reads a bounded body. Transport failures and
// oversized bodies are Transient.
func do(client *http.Client, req *http.Request, op string) (*response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: fmt.Errorf("read response: %w", err)}
	}
	if len(b) > maxBody {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Status: resp.StatusCode,
			Message: fmt.Sprintf("response larger than %d bytes", maxBody)}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b, url: resp.Request.URL}, nil
}

// redactURLError drops the query from a *url.Error's URL: the URLs this
// package builds carry no secrets, but a redirect target chosen upstream
// might.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// credentialBody is the 201 body of both credential endpoints.
type credentialBody struct {
	Credential struct {
		Access        string `json:"access"`
		Secret        string `json:"secret"`
		ExpiresAt     string `json:"expires_at"`
		SecurityToken string `json:"securitytoken"`
	} `json:"credential"`
}

// parseCredential reads {"credential":{...}} and wipes body afterwards, as
// it holds the temporary secret.
func parseCredential(op string, body []byte) (providers.Credential, error) {
	defer clear(body)
	malformed := func(what string) error {
		return &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Message: "malformed credential response: " + what}
	}
	var v credentialBody
	if err := json.Unmarshal(body, &v); err != nil {
		return providers.Credential{}, malformed("not JSON")
	}
	c := v.Credential
	if c.Access == "" || c.Secret == "" || c.SecurityToken == "" {
		return providers.Credential{}, malformed("access, secret or securitytoken missing")
	}
	exp, err := time.Parse(expiresLayout, c.ExpiresAt)
	if err != nil {
		return providers.Credential{}, malformed("bad expires_at")
	}
	return providers.Credential{
		AccessKeyID:  c.Access,
		Secret:       secret.New(c.Secret),
		SessionToken: secret.New(c.SecurityToken),
		Expiration:   exp.UTC(),
	}, nil
}

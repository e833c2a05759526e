package tencent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sts "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sts/v20180813"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
)

// respMeta remembers the status and Date header of the response the SDK
// received: the SDK's errors carry neither, and both decide how a failure
// is classified (5xx) and explained (clock skew).
type respMeta struct {
	base http.RoundTripper

	mu     sync.Mutex // guards status and date
	status int
	date   string
}

func (m *respMeta) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := m.base.RoundTrip(r)
	if resp != nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// The SDK's client would follow it, re-sending the signed body (and
		// a web identity token) to wherever Location points.
		resp.Body.Close()
		return nil, fmt.Errorf("refusing HTTP %d redirect from %s", resp.StatusCode, r.URL.Host)
	}
	if resp != nil {
		m.mu.Lock()
		m.status, m.date = resp.StatusCode, resp.Header.Get("Date")
		m.mu.Unlock()
	}
	return resp, err
}

func (m *respMeta) get() (int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status, m.date
}

// sdkClient builds an STS client for one fetch (credentials change between
// fetches, and the client is cheap).
func (p *Provider) sdkClient(cred common.CredentialIface) (*sts.Client, *respMeta) {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = p.host
	cpf.HttpProfile.Scheme = p.scheme
	cpf.HttpProfile.ReqMethod = http.MethodPost
	if t := p.client.Timeout; t > 0 {
		cpf.HttpProfile.ReqTimeout = int(math.Ceil(t.Seconds()))
	}
	cpf.Language = "en-US"
	// credd's refresh engine owns retries and backoff; the SDK must report
	// every failure at once. The region breaker would silently switch to a
	// backup endpoint, which an endpoint override must never do.
	cpf.NetworkFailureMaxRetries = 0
	cpf.RateLimitExceededMaxRetries = 0
	cpf.DisableRegionBreaker = true
	c, _ := sts.NewClient(cred, p.prof.Region, cpf) // never fails
	base := p.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	meta := &respMeta{base: base}
	c.WithHttpTransport(meta)
	return c, meta
}

// encodePolicy URL-encodes a policy as STS requires. Spaces become %20, not
// "+", so the value decodes the same whether the service uses urldecode
// or rawurldecode.
func encodePolicy(p string) string {
	return strings.ReplaceAll(url.QueryEscape(p), "+", "%20")
}

func (p *Provider) fetchV3(ctx context.Context) (providers.Credential, error) {
	var (
		cred    common.CredentialIface
		secrets []secret.Value
	)
	if p.prof.API != config.APIWebIdentity {
		k, err := p.readKey(ctx)
		if err != nil {
			return providers.Credential{}, err
		}
		cred = common.NewCredential(k.id, k.key.Reveal())
		secrets = append(secrets, k.key)
	}
	c, meta := p.sdkClient(cred)
	seconds := uint64(p.prof.Duration / time.Second)

	var (
		creds       *sts.Credentials
		expiredTime int64
		expiration  string
		err         error
	)
	switch p.prof.API {
	case config.APIFederationToken:
		req := sts.NewGetFederationTokenRequest()
		req.Name = common.StringPtr(p.prof.FederationName)
		if p.prof.Policy != "" {
			req.Policy = common.StringPtr(encodePolicy(p.prof.Policy))
		}
		if seconds > 0 {
			req.DurationSeconds = common.Uint64Ptr(seconds)
		}
		var resp *sts.GetFederationTokenResponse
		if resp, err = c.GetFederationTokenWithContext(ctx, req); err == nil && resp.Response != nil {
			r := resp.Response
			creds, expiration = r.Credentials, deref(r.Expiration)
			if r.ExpiredTime != nil {
				expiredTime = int64(*r.ExpiredTime)
			}
		}
	case config.APIAssumeRole:
		req := sts.NewAssumeRoleRequest()
		req.RoleArn = common.StringPtr(p.prof.RoleARN)
		req.RoleSessionName = common.StringPtr(p.prof.RoleSessionName)
		if p.prof.Policy != "" {
			req.Policy = common.StringPtr(encodePolicy(p.prof.Policy))
		}
		if p.prof.ExternalID != "" {
			req.ExternalId = common.StringPtr(p.prof.ExternalID)
		}
		if seconds > 0 {
			req.DurationSeconds = common.Uint64Ptr(seconds)
		}
		var resp *sts.AssumeRoleResponse
		if resp, err = c.AssumeRoleWithContext(ctx, req); err == nil && resp.Response != nil {
			r := resp.Response
			creds, expiration = r.Credentials, deref(r.Expiration)
			if r.ExpiredTime != nil {
				expiredTime = *r.ExpiredTime
			}
		}
	case config.APIWebIdentity:
		tok, terr := p.readWebIdentityToken()
		if terr != nil {
			return providers.Credential{}, terr
		}
		secrets = append(secrets, tok)
		// The request is unsigned: the SDK sends Authorization: SKIP.
		req := sts.NewAssumeRoleWithWebIdentityRequest()
		req.ProviderId = common.StringPtr(p.prof.ProviderID)
		req.WebIdentityToken = common.StringPtr(tok.Reveal())
		req.RoleArn = common.StringPtr(p.prof.RoleARN)
		req.RoleSessionName = common.StringPtr(p.prof.RoleSessionName)
		if seconds > 0 {
			req.DurationSeconds = common.Int64Ptr(int64(seconds))
		}
		var resp *sts.AssumeRoleWithWebIdentityResponse
		if resp, err = c.AssumeRoleWithWebIdentityWithContext(ctx, req); err == nil && resp.Response != nil {
			r := resp.Response
			creds, expiration = r.Credentials, deref(r.Expiration)
			if r.ExpiredTime != nil {
				expiredTime = int64(*r.ExpiredTime)
			}
		}
	}
	if err != nil {
		return providers.Credential{}, p.sdkError(ctx, err, meta, secrets...)
	}
	if creds == nil || deref(creds.TmpSecretId) == "" || deref(creds.TmpSecretKey) == "" || deref(creds.Token) == "" {
		return providers.Credential{}, p.malformed("the response lacks credentials")
	}
	exp, ok := expiry(expiredTime, expiration)
	if !ok {
		return providers.Credential{}, p.malformed("the response lacks ExpiredTime and Expiration")
	}
	return providers.Credential{
		AccessKeyID:  *creds.TmpSecretId,
		Secret:       secret.New(*creds.TmpSecretKey),
		SessionToken: secret.New(*creds.Token),
		Expiration:   exp,
	}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (p *Provider) malformed(msg string) error {
	return &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.Transient, Message: "malformed response: " + msg}
}

// sdkError turns an SDK error into a classified *providers.Error. The SDK's
// own client-side messages are never reused: some quote the response body,
// which can hold a freshly issued token.
func (p *Provider) sdkError(ctx context.Context, err error, meta *respMeta, secrets ...secret.Value) error {
	status, date := meta.get()
	e := &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.Transient, Status: status}
	var se *tcerr.TencentCloudSDKError
	if !errors.As(err, &se) {
		e.Message = providers.Scrub(err.Error(), secrets...)
		return e
	}
	if strings.HasPrefix(se.Code, "ClientError.") {
		switch {
		case se.Code == "ClientError.NetworkError":
			e.Err = errors.Unwrap(se) // a *url.Error: method, URL, cause
			if ctx.Err() != nil {
				e.Message = "request abandoned: " + ctx.Err().Error()
			} else if e.Err != nil {
				e.Message = "network error: " + providers.Scrub(e.Err.Error(), secrets...)
			} else {
				e.Message = "network error"
			}
		case status != 0 && status != http.StatusOK:
			e.Message = fmt.Sprintf("HTTP %d %s from the service", status, http.StatusText(status))
		default:
			e.Message = fmt.Sprintf("malformed response (%s)", se.Code)
		}
		return e
	}
	e.Code = se.Code
	e.Message = providers.Scrub(se.Message, secrets...)
	if se.RequestId != "" {
		e.Message += " (RequestId " + se.RequestId + ")"
	}
	e.Class = classify(se.Code)
	switch e.Class {
	case providers.ClockSkew:
		e.Skew = serverSkew(date, p.now())
	case providers.InvalidParameter:
		e.Key = inferKey(se.Code + " " + se.Message)
	}
	return e
}

// classify maps an API 3.0 error code to what credd should do about it.
func classify(code string) providers.Class {
	bare := strings.TrimPrefix(code, "AuthFailure.")
	switch {
	case strings.HasPrefix(code, "RequestLimitExceeded"), code == "InvalidParameter.OverLimit":
		return providers.Throttled
	case bare == "SignatureExpire":
		return providers.ClockSkew
	case code == "AuthFailure.UnauthorizedOperation", bare == "MFAFailure",
		strings.HasPrefix(code, "UnauthorizedOperation"):
		return providers.Denied
	case code == "AuthFailure", bare == "SecretIdNotFound", bare == "InvalidSecretId", bare == "SignatureFailure",
		bare == "TokenFailure", bare == "AccessKeyIllegal", bare == "InvalidAuthorization",
		code == "FailedOperation.TempKeyNotAllowed", code == "InvalidParameter.AccessKeyNotSupport":
		return providers.BadCredentials
	case strings.HasPrefix(code, "InvalidParameter"), strings.HasPrefix(code, "MissingParameter"),
		strings.HasPrefix(code, "UnknownParameter"), code == "ResourceNotFound.RoleNotFound":
		return providers.InvalidParameter
	}
	return providers.Transient
}

// inferKey names the profile key an InvalidParameter error is about, from
// the code and message, or "" when they do not say.
func inferKey(s string) string {
	l := strings.ToLower(s)
	for _, k := range []struct{ needle, key string }{
		{"webidentitytoken", "web_identity_token_file"},
		{"providerid", "provider_id"},
		{"rolesessionname", "role_session_name"},
		{"externalid", "external_id"},
		{"rolearn", "role_arn"},
		{"rolenotfound", "role_arn"},
		{"role", "role_arn"},
		{"duration", "duration"},
		{"overtime", "duration"},
		{"policy", "policy"},
		{"strategy", "policy"},
		{"principal", "policy"},
		{"resouce", "policy"},
		{"grantotherresource", "policy"},
		{"name", "name"},
		{"region", "region"},
	} {
		if strings.Contains(l, k.needle) {
			return k.key
		}
	}
	return ""
}

package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
	"github.com/credd-dev/credd/tests/tencentemu"
)

const (
	testID   = "AKIDproviderTEST00000000000000000"
	canary   = "CANARY-tencent-secret-key-7f3e9a" // the long-lived secret key
	subID    = "AKIDsubTEST0000000000000000000000"
	testRole = "qcs::cam::uin/100012345678:roleName/deployer"
	testPol  = `{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["qcs::cos:ap-guangzhou:uid/1250000000:bucket-1250000000/a b+c/*"]}]}`
)

// memKeys is a keystore in memory.
type memKeys map[string]keystore.Entry

func (m memKeys) Get(_ context.Context, name string) (keystore.Entry, error) {
	e, ok := m[name]
	if !ok {
		return keystore.Entry{}, keystore.ErrNotFound
	}
	return e, nil
}

func tencentEntry(id, key string) keystore.Entry {
	return keystore.Entry{Kind: "tencent", Fields: map[string]secret.Value{"secret_id": secret.New(id), "secret_key": secret.New(key)}}
}

// env is an emulator plus a keystore; tokens records every token issued.
type env struct {
	emu  *tencentemu.Server
	url  string
	keys memKeys

	mu     sync.Mutex
	tokens []string
}

func newEnv(t testing.TB, opts tencentemu.Options) *env {
	t.Helper()
	e := &env{emu: tencentemu.New(opts), keys: memKeys{"main": tencentEntry(testID, canary), "sub": tencentEntry(subID, canary+"-sub")}}
	e.emu.AddKey(testID, canary, true)
	e.emu.AddKey(subID, canary+"-sub", false)
	e.emu.AddRole(testRole)
	e.emu.SetTokenFunc(func(n int) string {
		tok := tencentemu.HostileToken(n)
		e.mu.Lock()
		e.tokens = append(e.tokens, tok)
		e.mu.Unlock()
		return tok
	})
	srv := httptest.NewServer(e.emu)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) profile(api string, mod func(*config.Profile)) *config.Profile {
	p := &config.Profile{Name: "t", Provider: "tencent", Key: "main", Region: "ap-guangzhou", API: api, APIVersion: 3,
		Endpoint: e.url, FederationName: "dev", Policy: testPol, Duration: 1800 * time.Second,
		RoleARN: testRole, RoleSessionName: "credd-t", SignatureMethod: "HmacSHA256"}
	if api != config.APIFederationToken {
		p.Duration = 7200 * time.Second
		p.Policy = ""
	}
	if mod != nil {
		mod(p)
	}
	return p
}

func (e *env) provider(t testing.TB, p *config.Profile) *Provider {
	t.Helper()
	pr, err := New(p, providers.Deps{Keys: e.keys})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// assertNoSecrets fails when an error text carries the long-lived key or
// any issued token (or a recognisable piece of one).
func (e *env) assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		texts = append(texts, u.Error())
	}
	e.mu.Lock()
	secrets := append([]string{canary}, e.tokens...)
	e.mu.Unlock()
	for _, s := range texts {
		for _, sec := range secrets {
			// Tokens end in plain alphanumerics, which survive the JSON
			// escaping of a quoted response body.
			if strings.Contains(s, sec) || (len(sec) > 32 && (strings.Contains(s, sec[:20]) || strings.Contains(s, sec[len(sec)-32:]))) {
				t.Fatalf("error text carries a secret: %s", s)
			}
		}
		if strings.Contains(s, "'sq' \"dq\"") {
			t.Fatalf("error text carries a token fragment: %s", s)
		}
	}
}

func checkCred(t *testing.T, c providers.Credential, start time.Time, d time.Duration) {
	t.Helper()
	if !strings.HasPrefix(c.AccessKeyID, "AKID") || c.Secret.Len() < 16 || !strings.HasPrefix(c.SessionToken.Reveal(), "tok") {
		t.Fatalf("credential %+v", c)
	}
	if want := start.Add(d); c.Expiration.Before(want.Add(-2*time.Second)) || c.Expiration.After(want.Add(2*time.Second)) {
		t.Fatalf("expiration %s, want about %s", c.Expiration, want)
	}
}

func TestFederationTokenRoundTrip(t *testing.T) {
	e := newEnv(t, tencentemu.Options{})
	p := e.provider(t, e.profile(config.APIFederationToken, nil))
	start := time.Now()
	c, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkCred(t, c, start, 1800*time.Second)
	if c.SessionToken.Reveal() != e.tokens[0] {
		t.Fatal("token bytes changed on the way")
	}
	last, _ := e.emu.LastRequest("GetFederationToken")
	if last.Policy != testPol {
		t.Fatalf("policy decoded by the service: %q", last.Policy)
	}
	if strings.ContainsAny(last.Params["Policy"], "{\" +") || last.Params["Name"] != "dev" || last.Params["DurationSeconds"] != "1800" {
		t.Fatalf("params sent: %v", last.Params)
	}
	if last.Region != "ap-guangzhou" || last.SecretID != testID {
		t.Fatalf("request %+v", last)
	}
}

func TestV2RoundTrip(t *testing.T) {
	for _, method := range []string{"HmacSHA256", "HmacSHA1"} {
		for _, spelling := range []string{"sessionToken", "token"} {
			t.Run(method+"/"+spelling, func(t *testing.T) {
				e := newEnv(t, tencentemu.Options{})
				e.emu.SetV2TokenKey(spelling)
				p := e.provider(t, e.profile(config.APIFederationToken, func(p *config.Profile) {
					p.APIVersion, p.SignatureMethod = 2, method
				}))
				start := time.Now()
				c, err := p.Fetch(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				checkCred(t, c, start, 1800*time.Second)
				last, _ := e.emu.LastRequest("GetFederationToken")
				if last.APIVersion != 2 || last.Policy != testPol || last.Params["SignatureMethod"] != method || last.Params["name"] != "dev" {
					t.Fatalf("request %+v", last)
				}
			})
		}
	}
}

func TestAssumeRoleRoundTrip(t *testing.T) {
	e := newEnv(t, tencentemu.Options{})
	p := e.provider(t, e.profile(config.APIAssumeRole, func(p *config.Profile) {
		p.Key, p.Policy, p.ExternalID = "sub", testPol, "ext-1"
	}))
	start := time.Now()
	c, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkCred(t, c, start, 7200*time.Second)
	last, _ := e.emu.LastRequest("AssumeRole")
	if last.Params["RoleArn"] != testRole || last.Params["RoleSessionName"] != "credd-t" || last.Params["ExternalId"] != "ext-1" || last.Policy != testPol {
		t.Fatalf("request %+v", last)
	}
}

// The token file is read at every fetch, so a rotated token is used.
func TestWebIdentityRotatedTokenFile(t *testing.T) {
	e := newEnv(t, tencentemu.Options{})
	valid := map[string]bool{"jwt-one": true, "jwt-two": true}
	var mu sync.Mutex
	e.emu.AddWebIdentityProvider("oidc", func(tok string) bool { mu.Lock(); defer mu.Unlock(); return valid[tok] })
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("jwt-one\n"), 0o600)
	p := e.provider(t, e.profile(config.APIWebIdentity, func(p *config.Profile) {
		p.Key, p.ProviderID, p.WebIdentityTokenFile = "", "oidc", file
	}))
	if _, err := p.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	last, _ := e.emu.LastRequest("AssumeRoleWithWebIdentity")
	if last.Params["WebIdentityToken"] != "jwt-one" || last.SecretID != "" {
		t.Fatalf("first request %+v", last)
	}
	os.WriteFile(file, []byte("jwt-two"), 0o600)
	mu.Lock()
	delete(valid, "jwt-one") // the old token has expired
	mu.Unlock()
	if _, err := p.Fetch(context.Background()); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if last, _ := e.emu.LastRequest("AssumeRoleWithWebIdentity"); last.Params["WebIdentityToken"] != "jwt-two" {
		t.Fatalf("rotated token not used: %q", last.Params["WebIdentityToken"])
	}
	os.WriteFile(file, []byte("jwt-stale"), 0o600)
	_, err := p.Fetch(context.Background())
	if c := providers.ClassOf(err); c != providers.InvalidParameter || providers.CodeOf(err) != "InvalidParameter.WebIdentityTokenError" {
		t.Fatalf("stale token: %v (%s)", err, c)
	}
	var pe *providers.Error
	if errors.As(err, &pe); pe.Key != "web_identity_token_file" || strings.Contains(err.Error(), "jwt-stale") {
		t.Fatalf("stale token error %+v", pe)
	}
	os.Remove(file)
	if _, err := p.Fetch(context.Background()); providers.ClassOf(err) != providers.InvalidParameter {
		t.Fatalf("missing token file: %v", err)
	}
}

func TestMissingKey(t *testing.T) {
	e := newEnv(t, tencentemu.Options{})
	p := e.provider(t, e.profile(config.APIFederationToken, func(p *config.Profile) { p.Key = "absent" }))
	_, err := p.Fetch(context.Background())
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.MissingKey || !errors.Is(err, keystore.ErrNotFound) ||
		!strings.Contains(err.Error(), `"absent"`) || pe.Hint() == "" {
		t.Fatalf("missing key: %v", err)
	}
	if e.emu.Calls() != 0 {
		t.Fatal("called upstream without a key")
	}
}

// Each fault, on each API, lands in the class the refresh engine needs.
func TestFaultClasses(t *testing.T) {
	cases := []struct {
		fault tencentemu.FaultKind
		class providers.Class
	}{
		{tencentemu.Throttle, providers.Throttled},
		{tencentemu.ServerError, providers.Transient},
		{tencentemu.Malformed, providers.Transient},
		{tencentemu.Outage, providers.Transient},
		{tencentemu.AuthFailure, providers.BadCredentials},
		{tencentemu.ClockSkew, providers.ClockSkew},
		{tencentemu.InvalidParameter, providers.InvalidParameter},
	}
	for _, version := range []int{3, 2} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("v%d/%s", version, c.fault), func(t *testing.T) {
				e := newEnv(t, tencentemu.Options{})
				p := e.provider(t, e.profile(config.APIFederationToken, func(p *config.Profile) { p.APIVersion = version }))
				e.emu.SetFault(tencentemu.Fault{Kind: c.fault, Count: 1})
				_, err := p.Fetch(context.Background())
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Class != c.class {
					t.Fatalf("%v: class %s, want %s", err, providers.ClassOf(err), c.class)
				}
				if c.class == providers.InvalidParameter && pe.Key != "policy" {
					t.Errorf("key at fault %q, want policy", pe.Key)
				}
				if pe.Hint() == "" && c.class != providers.Transient {
					t.Errorf("no hint for %s", c.class)
				}
				e.assertNoSecrets(t, err)
				if _, err := p.Fetch(context.Background()); err != nil {
					t.Fatalf("after the fault: %v", err)
				}
			})
		}
	}
}

func TestServiceRejections(t *testing.T) {
	principal := `{"version":"2.0","statement":[{"effect":"allow","action":["*"],"resource":["*"],"principal":{"qcs":["*"]}}]}`
	cases := []struct {
		name  string
		opts  tencentemu.Options
		mod   func(*config.Profile)
		class providers.Class
		code  string
		key   string
	}{
		{"root duration", tencentemu.Options{}, func(p *config.Profile) { p.Duration = 7201 * time.Second }, providers.InvalidParameter, "InvalidParameter.OverTimeError", "duration"},
		{"principal", tencentemu.Options{}, func(p *config.Profile) { p.Policy = principal }, providers.InvalidParameter, "InvalidParameter.StrategyInvalid", "policy"},
		{"bad policy", tencentemu.Options{}, func(p *config.Profile) { p.Policy = "not json" }, providers.InvalidParameter, "InvalidParameter.StrategyFormatError", "policy"},
		{"wrong key", tencentemu.Options{}, func(p *config.Profile) { p.Key = "wrong" }, providers.BadCredentials, "AuthFailure.SignatureFailure", ""},
		{"unknown id", tencentemu.Options{}, func(p *config.Profile) { p.Key = "unknown" }, providers.BadCredentials, "AuthFailure.SecretIdNotFound", ""},
		{"skew", tencentemu.Options{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }}, nil, providers.ClockSkew, "AuthFailure.SignatureExpire", ""},
		{"v2 skew", tencentemu.Options{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }}, func(p *config.Profile) { p.APIVersion = 2 }, providers.ClockSkew, "RequestExpired", ""},
		{"v2 wrong key", tencentemu.Options{}, func(p *config.Profile) { p.APIVersion, p.Key = 2, "wrong" }, providers.BadCredentials, "AuthFailure.SignatureFailure", ""},
		{"v2 duration", tencentemu.Options{}, func(p *config.Profile) { p.APIVersion, p.Duration = 2, 7201*time.Second }, providers.InvalidParameter, "InvalidParameter", "duration"},
		{"role not found", tencentemu.Options{}, func(p *config.Profile) {
			p.API, p.RoleARN, p.Policy = config.APIAssumeRole, "qcs::cam::uin/1:roleName/nope", ""
		}, providers.InvalidParameter, "ResourceNotFound.RoleNotFound", "role_arn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.opts)
			e.keys["wrong"] = tencentEntry(testID, "not-the-key")
			e.keys["unknown"] = tencentEntry("AKIDunknown", canary)
			p := e.provider(t, e.profile(config.APIFederationToken, c.mod))
			_, err := p.Fetch(context.Background())
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Class != c.class || pe.Code != c.code || pe.Key != c.key {
				t.Fatalf("got %v (%+v), want class %s code %s key %q", err, pe, c.class, c.code, c.key)
			}
			if c.class == providers.ClockSkew && (pe.Skew < 9*time.Minute || pe.Skew > 11*time.Minute) {
				t.Errorf("skew %s, want about 10m", pe.Skew)
			}
			e.assertNoSecrets(t, err)
		})
	}
}

func TestContextHonoured(t *testing.T) {
	for _, version := range []int{3, 2} {
		e := newEnv(t, tencentemu.Options{})
		p := e.provider(t, e.profile(config.APIFederationToken, func(p *config.Profile) { p.APIVersion = version }))
		e.emu.SetFault(tencentemu.Fault{Kind: tencentemu.Delay, Delay: 10 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, err := p.Fetch(ctx)
		cancel()
		if err == nil || time.Since(start) > 3*time.Second || providers.ClassOf(err) != providers.Transient {
			t.Fatalf("v%d: %v after %s", version, err, time.Since(start))
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("v%d: the cause is lost: %v", version, err)
		}
		if e.emu.Calls() != 1 {
			t.Errorf("v%d: %d calls: the SDK retried", version, e.emu.Calls())
		}
	}
}

// The SDK must not retry on its own: one Fetch, one upstream call.
func TestNoSDKRetries(t *testing.T) {
	e := newEnv(t, tencentemu.Options{})
	p := e.provider(t, e.profile(config.APIFederationToken, nil))
	for _, f := range []tencentemu.FaultKind{tencentemu.Throttle, tencentemu.Outage} {
		e.emu.SetFault(tencentemu.Fault{Kind: f})
		before := e.emu.Calls()
		p.Fetch(context.Background())
		if n := e.emu.Calls() - before; n != 1 {
			t.Errorf("%s: %d upstream calls for one fetch", f, n)
		}
	}
}

func TestV2Vectors(t *testing.T) {
	b, err := os.ReadFile("../../tests/vectors/signing.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		V2 struct {
			SecretKey string `json:"secret_key"`
			Cases     []struct {
				SignatureMethod string `json:"signature_method"`
				StringToSign    string `json:"string_to_sign"`
				Signature       string
			}
		} `json:"tencent_v2_legacy"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.V2.Cases) != 2 {
		t.Fatalf("%d v2 cases", len(v.V2.Cases))
	}
	for _, c := range v.V2.Cases {
		got, err := SignV2(secret.New(v.V2.SecretKey), c.SignatureMethod, c.StringToSign)
		if err != nil || got != c.Signature {
			t.Errorf("%s: %s %v, want %s", c.SignatureMethod, got, err, c.Signature)
		}
		params := map[string]string{}
		for kv := range strings.SplitSeq(strings.TrimPrefix(c.StringToSign, "GETcvm.api.qcloud.com/v2/index.php?"), "&") {
			k, val, _ := strings.Cut(kv, "=")
			params[k] = val
		}
		if s := V2StringToSign("GET", "cvm.api.qcloud.com", "/v2/index.php", params); s != c.StringToSign {
			t.Errorf("string to sign %q", s)
		}
	}
	if _, err := SignV2(secret.New("k"), "MD5", "x"); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[string]providers.Class{
		"RequestLimitExceeded":                     providers.Throttled,
		"RequestLimitExceeded.UinLimitExceeded":    providers.Throttled,
		"AuthFailure.SecretIdNotFound":             providers.BadCredentials,
		"AuthFailure.InvalidSecretId":              providers.BadCredentials,
		"AuthFailure.SignatureFailure":             providers.BadCredentials,
		"SignatureFailure":                         providers.BadCredentials,
		"AuthFailure.SignatureExpire":              providers.ClockSkew,
		"AuthFailure.UnauthorizedOperation":        providers.Denied,
		"UnauthorizedOperation":                    providers.Denied,
		"InvalidParameter.PolicyTooLong":           providers.InvalidParameter,
		"InvalidParameterValue.DurationOutOfRange": providers.InvalidParameter,
		"MissingParameter":                         providers.InvalidParameter,
		"InternalError.SystemError":                providers.Transient,
		"ResourceUnavailable":                      providers.Transient,
	} {
		if got := classify(code); got != want {
			t.Errorf("%s: %s, want %s", code, got, want)
		}
	}
}

func BenchmarkFetch(b *testing.B) {
	e := newEnv(b, tencentemu.Options{})
	p := e.provider(b, e.profile(config.APIFederationToken, nil))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

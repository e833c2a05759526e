package huawei

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	"github.com/credd-dev/credd/providers/huawei/signer"
	"github.com/credd-dev/credd/secret"
	"github.com/credd-dev/credd/tests/huaweiemu"
	"github.com/credd-dev/credd/tests/samlidp"
)

// Canary secrets: none may ever show up in an error or a log line.
const (
	canaryPassword    = "pw-CANARY-iam-7f3a9c"
	canaryIdPPassword = "pw-CANARY-idp-51d0e2"
	canarySK          = "sk-CANARY-91b2c4d6e8f0a1b3c5d7"
	testAK            = "AKTESTPERMANENT0001"
	idpEntity         = "https://idp.corp.example/idp/shibboleth"
)

// fakeKeys hands out fresh copies, since the provider zeroes what it reads.
type fakeKeys struct {
	mu      sync.Mutex
	entries map[string]map[string]string
	kinds   map[string]string
}

func (k *fakeKeys) set(name, kind string, fields map[string]string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries[name], k.kinds[name] = fields, kind
}

func (k *fakeKeys) Get(_ context.Context, name string) (keystore.Entry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f, ok := k.entries[name]
	if !ok {
		return keystore.Entry{}, keystore.ErrNotFound
	}
	e := keystore.Entry{Name: name, Kind: k.kinds[name], Fields: map[string]secret.Value{}}
	for n, v := range f {
		e.Fields[n] = secret.New(v)
	}
	return e, nil
}

// clock is a settable clock shared by the emulator and the provider.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

type env struct {
	emu    *huaweiemu.Server
	iam    *httptest.Server
	idp    *samlidp.IdP
	idpSrv *httptest.Server
	keys   *fakeKeys
	clock  *clock
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{clock: &clock{}, logs: new(bytes.Buffer), logMu: new(sync.Mutex)}
	e.emu = huaweiemu.New(huaweiemu.Options{Now: e.clock.Now, TokenTTL: time.Hour})
	e.emu.AddUser("acme", "alice", canaryPassword)
	e.emu.AddAKSK(testAK, canarySK, "acme")
	e.emu.AddAgency("partner", "ops-agency")
	e.emu.AddSAMLIdP("corp", "saml", idpEntity, "acme")
	e.iam = httptest.NewServer(e.emu)
	t.Cleanup(e.iam.Close)
	e.idp = samlidp.New(idpEntity)
	e.idp.Now = e.clock.Now
	e.idp.AddUser("bob", canaryIdPPassword)
	e.idpSrv = httptest.NewServer(e.idp)
	t.Cleanup(e.idpSrv.Close)
	e.keys = &fakeKeys{entries: map[string]map[string]string{}, kinds: map[string]string{}}
	e.keys.set("iam-user", KindPassword, map[string]string{"username": "alice", "password": canaryPassword})
	e.keys.set("corp-idp", KindPassword, map[string]string{"username": "bob", "password": canaryIdPPassword})
	e.keys.set("aksk", KindAKSK, map[string]string{"access_key": testAK, "secret_key": canarySK})
	return e
}

func (e *env) deps() providers.Deps {
	h := slog.NewTextHandler(lockedWriter{e.logMu, e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})
	return providers.Deps{Keys: e.keys, Now: e.clock.Now, Logger: slog.New(h)}
}

func (e *env) federation() *config.Profile {
	return &config.Profile{Name: "hw-sso", Provider: "huawei", Method: config.MethodFederation, Key: "corp-idp",
		IAMEndpoint: e.iam.URL, IdpID: "corp", ProtocolID: "saml", IdpURL: e.idpSrv.URL, Duration: time.Hour}
}

func (e *env) tokenPassword() *config.Profile {
	return &config.Profile{Name: "hw-tok", Provider: "huawei", Method: config.MethodToken, Login: config.LoginPassword,
		Key: "iam-user", IAMEndpoint: e.iam.URL, DomainName: "acme", Duration: 900 * time.Second}
}

func (e *env) assumeRole() *config.Profile {
	return &config.Profile{Name: "hw-role", Provider: "huawei", Method: config.MethodAssumeRole, Key: "aksk",
		IAMEndpoint: e.iam.URL, DomainName: "partner", AgencyName: "ops-agency", SessionUser: "credd-test", Duration: 2 * time.Hour}
}

func (e *env) provider(t testing.TB, p *config.Profile) *Provider {
	t.Helper()
	prov, err := New(p, e.deps())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return prov
}

// checkWorks proves a credential is real by calling the emulator's check
// endpoint with it, as an SDK would.
func (e *env) checkWorks(t *testing.T, c providers.Credential) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.iam.URL+huaweiemu.CheckPath, nil)
	s := signer.Signer{AccessKey: c.AccessKeyID, SecretKey: c.Secret, SecurityToken: c.SessionToken, Now: e.clock.Now}
	if err := s.Sign(req, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("check endpoint refused the credential: %d %s", resp.StatusCode, body)
	}
}

// noCanary fails if any secret appears in s.
func noCanary(t *testing.T, what, s string, extra ...string) {
	t.Helper()
	for _, c := range append([]string{canaryPassword, canaryIdPPassword, canarySK}, extra...) {
		if c != "" && strings.Contains(s, c) {
			t.Errorf("%s leaks a secret: %q", what, s)
		}
	}
}

func wantClass(t *testing.T, err error, class providers.Class) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	if pe.Class != class {
		t.Fatalf("class = %s, want %s (error: %v)", pe.Class, class, err)
	}
	noCanary(t, "error", err.Error())
	return pe
}

func TestFederationHappyPath(t *testing.T) {
	e := newEnv(t)
	c, err := e.provider(t, e.federation()).Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !strings.HasPrefix(c.AccessKeyID, "HST") || c.Secret.IsEmpty() || c.SessionToken.IsEmpty() {
		t.Fatalf("incomplete credential: %+v", c)
	}
	if d := time.Until(c.Expiration) - time.Hour; d > time.Minute || d < -time.Minute {
		t.Errorf("expiration %v is not an hour away", c.Expiration)
	}
	e.checkWorks(t, c)
	calls := e.emu.Calls()
	if calls[huaweiemu.EPECPCredential] != 2 || calls[huaweiemu.EPECPConsume] != 1 {
		t.Errorf("calls = %v, want 2 credential GETs (PAOS + redirect) and 1 consume", calls)
	}
	if e.idp.Calls() != 1 {
		t.Errorf("IdP calls = %d", e.idp.Calls())
	}
	noCanary(t, "logs", e.logs.String(), c.Secret.Reveal(), c.SessionToken.Reveal())
	noCanary(t, "formatted credential", fmt.Sprintf("%+v %#v", c, c), c.Secret.Reveal(), c.SessionToken.Reveal())
}

func TestFederationACSMismatch(t *testing.T) {
	e := newEnv(t)
	rec := samlidp.NewRecorder()
	evil := httptest.NewServer(rec)
	defer evil.Close()
	e.idp.SetACSOverride(evil.URL + "/collect")
	_, err := e.provider(t, e.federation()).Fetch(context.Background())
	pe := wantClass(t, err, providers.InvalidParameter)
	if !strings.Contains(err.Error(), "differs") || !strings.Contains(err.Error(), "not sent") || pe.Key != "idp_url" {
		t.Errorf("unclear error: %v (key %q)", err, pe.Key)
	}
	if rec.Count() != 0 {
		t.Errorf("the mismatching consumer received %d requests", rec.Count())
	}
	if f := e.emu.Faults(); len(f) != 1 || !strings.Contains(f[0], "do not match") {
		t.Errorf("SP faults = %q, want one", f)
	}
}

func TestFederationWrongIdPPassword(t *testing.T) {
	e := newEnv(t)
	e.keys.set("corp-idp", KindPassword, map[string]string{"username": "bob", "password": canaryPassword})
	_, err := e.provider(t, e.federation()).Fetch(context.Background())
	wantClass(t, err, providers.BadCredentials)
	if !strings.Contains(err.Error(), `key "corp-idp"`) {
		t.Errorf("error does not say how to fix it: %v", err)
	}
	if e.idp.AuthFailures() != 1 {
		t.Errorf("IdP auth failures = %d", e.idp.AuthFailures())
	}
}

// TestFederationWebSSORedirect puts a proxy that drops the PAOS header in
// front of IAM: the SP then answers with a WebSSO redirect.
func TestFederationWebSSORedirect(t *testing.T) {
	e := newEnv(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("PAOS")
		e.emu.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	p := e.federation()
	p.IAMEndpoint = proxy.URL
	_, err := e.provider(t, p).Fetch(context.Background())
	pe := wantClass(t, err, providers.InvalidParameter)
	if !strings.Contains(err.Error(), "WebSSO") || !strings.Contains(err.Error(), "ECP") || pe.Status != http.StatusFound {
		t.Errorf("unclear error: %v", err)
	}
	if e.idp.Calls() != 0 {
		t.Error("the IdP was contacted after a WebSSO redirect")
	}
}

func TestFederationUnknownIdP(t *testing.T) {
	e := newEnv(t)
	p := e.federation()
	p.IdpID = "nope"
	_, err := e.provider(t, p).Fetch(context.Background())
	pe := wantClass(t, err, providers.InvalidParameter)
	if pe.Code != "IAM.0004" || pe.Key != "idp_id" {
		t.Errorf("got code %q key %q: %v", pe.Code, pe.Key, err)
	}
}

func TestTokenPasswordCachesAndRelogins(t *testing.T) {
	e := newEnv(t)
	prov := e.provider(t, e.tokenPassword())
	ctx := context.Background()
	for range 2 {
		c, err := prov.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		e.checkWorks(t, c)
	}
	if got := e.emu.Calls(); got[huaweiemu.EPTokens] != 1 || got[huaweiemu.EPSecurityTokens] != 2 {
		t.Fatalf("calls = %v, want 1 login and 2 exchanges", got)
	}
	// A revoked token: one 401, one login, one retry.
	e.emu.ExpireTokens()
	if _, err := prov.Fetch(ctx); err != nil {
		t.Fatalf("Fetch after revocation: %v", err)
	}
	if got := e.emu.Calls(); got[huaweiemu.EPTokens] != 2 || got[huaweiemu.EPSecurityTokens] != 4 {
		t.Fatalf("calls = %v, want 2 logins and 4 exchanges", got)
	}
	// Within 5 minutes of the token's expiry a new one is fetched first.
	e.clock.advance(56 * time.Minute)
	if _, err := prov.Fetch(ctx); err != nil {
		t.Fatalf("Fetch near token expiry: %v", err)
	}
	if got := e.emu.Calls(); got[huaweiemu.EPTokens] != 3 || got[huaweiemu.EPSecurityTokens] != 5 {
		t.Fatalf("calls = %v, want 3 logins and 5 exchanges", got)
	}
}

func TestTokenPasswordWrong(t *testing.T) {
	e := newEnv(t)
	e.keys.set("iam-user", KindPassword, map[string]string{"username": "alice", "password": canaryIdPPassword})
	_, err := e.provider(t, e.tokenPassword()).Fetch(context.Background())
	pe := wantClass(t, err, providers.BadCredentials)
	if pe.Message == "" || !strings.Contains(err.Error(), `key "iam-user"`) {
		t.Errorf("unclear error: %v", err)
	}
}

func TestTokenFederationLogin(t *testing.T) {
	e := newEnv(t)
	p := e.federation()
	p.Method, p.Login = config.MethodToken, config.LoginFederation
	prov := e.provider(t, p)
	for range 2 {
		c, err := prov.Fetch(context.Background())
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		e.checkWorks(t, c)
	}
	got := e.emu.Calls()
	if got[huaweiemu.EPECPAuth] != 2 || got[huaweiemu.EPSecurityTokens] != 2 || got[huaweiemu.EPECPCredential] != 0 {
		t.Errorf("calls = %v, want one ECP login (2 auth calls) and 2 exchanges", got)
	}
}

func TestTokenOIDCLogin(t *testing.T) {
	e := newEnv(t)
	valid := map[string]bool{"jwt-one": true, "jwt-two": true}
	var seen []string
	var mu sync.Mutex
	e.emu.AddOIDC("oidc-corp", func(jwt string) bool {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, jwt)
		return valid[jwt]
	})
	file := filepath.Join(t.TempDir(), "token.jwt")
	if err := os.WriteFile(file, []byte("jwt-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &config.Profile{Name: "hw-oidc", Provider: "huawei", Method: config.MethodToken, Login: config.LoginOIDC,
		IAMEndpoint: e.iam.URL, IdpID: "oidc-corp", IDTokenFile: file, Duration: 900 * time.Second}
	deps := e.deps()
	deps.Keys = nil // keyless
	prov, err := New(p, deps)
	if err != nil {
		t.Fatal(err)
	}
	c, err := prov.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	e.checkWorks(t, c)
	// The file is re-read at every login.
	if err := os.WriteFile(file, []byte("jwt-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.emu.ExpireTokens()
	if _, err := prov.Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	mu.Lock()
	if len(seen) != 2 || seen[0] != "jwt-one" || seen[1] != "jwt-two" {
		t.Errorf("IdP saw %q", seen)
	}
	mu.Unlock()
	// A rejected JWT is the user's to fix, and never shows in the error.
	if err := os.WriteFile(file, []byte("jwt-CANARY-bad"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.emu.ExpireTokens()
	_, err = prov.Fetch(context.Background())
	wantClass(t, err, providers.BadCredentials)
	noCanary(t, "error", err.Error(), "jwt-CANARY-bad")
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t)
	c, err := e.provider(t, e.assumeRole()).Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if d := time.Until(c.Expiration) - 2*time.Hour; d > time.Minute || d < -time.Minute {
		t.Errorf("expiration %v is not two hours away", c.Expiration)
	}
	e.checkWorks(t, c)
	noCanary(t, "logs", e.logs.String())
}

// tamper rewrites request bodies after they were signed.
type tamper struct{ base http.RoundTripper }

func (t tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	b = bytes.ReplaceAll(b, []byte("ops-agency"), []byte("adm-agency"))
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return t.base.RoundTrip(r)
}

func TestAssumeRoleRejections(t *testing.T) {
	e := newEnv(t)
	e.emu.AddAgency("partner", "adm-agency")

	d := e.deps()
	d.HTTP = &http.Client{Transport: tamper{http.DefaultTransport}}
	prov, err := New(e.assumeRole(), d)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prov.Fetch(context.Background())
	pe := wantClass(t, err, providers.BadCredentials)
	if pe.Code != "APIGW.0301" {
		t.Errorf("tampered body: code %q", pe.Code)
	}

	e.keys.set("aksk", KindAKSK, map[string]string{"access_key": testAK, "secret_key": "wrong-" + canarySK})
	_, err = e.provider(t, e.assumeRole()).Fetch(context.Background())
	wantClass(t, err, providers.BadCredentials)
	if !strings.Contains(err.Error(), `key "aksk"`) {
		t.Errorf("the error does not name the key: %v", err)
	}
	e.keys.set("aksk", KindAKSK, map[string]string{"access_key": testAK, "secret_key": canarySK})

	skewed := e.deps()
	skewed.Now = func() time.Time { return e.clock.Now().Add(20 * time.Minute) }
	prov, err = New(e.assumeRole(), skewed)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prov.Fetch(context.Background())
	wantClass(t, err, providers.ClockSkew)

	p := e.assumeRole()
	p.AgencyName = "missing"
	_, err = e.provider(t, p).Fetch(context.Background())
	if pe := wantClass(t, err, providers.InvalidParameter); pe.Key != "agency_name" || pe.Code != "IAM.0004" {
		t.Errorf("missing agency: key %q code %q", pe.Key, pe.Code)
	}

	p = e.assumeRole()
	p.Duration = 100 * time.Second // past config validation, as a bad build would be
	_, err = e.provider(t, p).Fetch(context.Background())
	if pe := wantClass(t, err, providers.InvalidParameter); pe.Key != "duration" {
		t.Errorf("short duration: key %q (%v)", pe.Key, err)
	}
}

func TestMissingKey(t *testing.T) {
	e := newEnv(t)
	p := e.tokenPassword()
	p.Key = "absent"
	_, err := e.provider(t, p).Fetch(context.Background())
	wantClass(t, err, providers.MissingKey)
	if !errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), `key "absent"`) {
		t.Errorf("unclear: %v", err)
	}
	p.Key = "aksk" // wrong kind
	_, err = e.provider(t, p).Fetch(context.Background())
	wantClass(t, err, providers.MissingKey)
}

func TestInjectedFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault huaweiemu.Fault
		class providers.Class
		code  string
	}{
		{"throttle", huaweiemu.Fault{Kind: huaweiemu.FaultThrottle, Count: 1}, providers.Throttled, "APIGW.0308"},
		{"server error", huaweiemu.Fault{Kind: huaweiemu.FaultServerError, Count: 1}, providers.Transient, "IAM.0006"},
		{"malformed", huaweiemu.Fault{Kind: huaweiemu.FaultMalformed, Count: 1}, providers.Transient, ""},
		{"outage", huaweiemu.Fault{Kind: huaweiemu.FaultOutage, Count: 1}, providers.Transient, ""},
		{"auth failure", huaweiemu.Fault{Kind: huaweiemu.FaultAuthFailure, Count: 1}, providers.BadCredentials, "APIGW.0301"},
		{"clock skew", huaweiemu.Fault{Kind: huaweiemu.FaultClockSkew, Count: 1}, providers.ClockSkew, "APIGW.0303"},
		{"delay", huaweiemu.Fault{Kind: huaweiemu.FaultDelay, Count: 1, Delay: 500 * time.Millisecond}, providers.Transient, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.emu.SetFault(tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := e.provider(t, e.assumeRole()).Fetch(ctx)
			pe := wantClass(t, err, tc.class)
			if pe.Code != tc.code {
				t.Errorf("code = %q, want %q", pe.Code, tc.code)
			}
			// The fault was for one request only.
			if _, err := e.provider(t, e.assumeRole()).Fetch(context.Background()); err != nil {
				t.Errorf("Fetch after the fault: %v", err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	for name, mut := range map[string]func(*config.Profile){
		"http non-loopback": func(p *config.Profile) { p.IAMEndpoint = "http://iam.example.com" },
		"no idp_url":        func(p *config.Profile) { p.IdpURL = "" },
		"bad method":        func(p *config.Profile) { p.Method = "magic" },
		"policy not object": func(p *config.Profile) { p.Policy = "[1]" },
	} {
		p := e.federation()
		mut(p)
		if _, err := New(p, e.deps()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p := e.assumeRole()
	p.Policy = `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["` + strings.Repeat("x", 2100) + `"]}]}`
	if _, err := New(p, e.deps()); err == nil {
		t.Error("assume_role accepted a policy over 2048 characters")
	}
}

func TestPolicyIsSent(t *testing.T) {
	e := newEnv(t)
	p := e.tokenPassword()
	p.Policy = `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:GetObject"]}]}`
	if _, err := e.provider(t, p).Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch with policy: %v", err)
	}
	p.Policy = `{"Statement":[]}` // the emulator rejects a policy without Version
	_, err := e.provider(t, p).Fetch(context.Background())
	if pe := wantClass(t, err, providers.InvalidParameter); pe.Key != "policy" {
		t.Errorf("key = %q", pe.Key)
	}
}

func BenchmarkFetchToken(b *testing.B) {
	e := newEnv(b)
	prov := e.provider(b, e.tokenPassword())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := prov.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

package tencentemu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sts "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sts/v20180813"
)

const (
	rootID  = "AKIDrootEXAMPLE0000000000000000000"
	rootKey = "rootSECRETkeyEXAMPLE000000000000"
	subID   = "AKIDsubEXAMPLE00000000000000000000"
	subKey  = "subSECRETkeyEXAMPLE0000000000000"
	roleArn = "qcs::cam::uin/100012345678:roleName/deployer"
	policy  = `{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["*"]}]}`
)

type vectors struct {
	TC3 struct {
		Method, Host, Service, Path, Query, Body string
		ContentType                              string `json:"content_type"`
		Timestamp                                int64
		SecretID                                 string `json:"secret_id"`
		SecretKey                                string `json:"secret_key"`
		SignedHeaders                            string `json:"signed_headers"`
		CanonicalRequestSHA256                   string `json:"canonical_request_sha256"`
		Signature, Authorization                 string
	} `json:"tencent_tc3_hmac_sha256"`
	V2 struct {
		SecretKey string `json:"secret_key"`
		Cases     []struct {
			SignatureMethod string `json:"signature_method"`
			StringToSign    string `json:"string_to_sign"`
			Signature       string
		}
	} `json:"tencent_v2_legacy"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("../vectors/signing.json")
	if err != nil {
		t.Fatalf("signing vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The emulator's verifier reproduces Tencent's worked TC3 example.
func TestTC3Vector(t *testing.T) {
	v := loadVectors(t).TC3
	r := httptest.NewRequest(v.Method, "https://"+v.Host+v.Path, strings.NewReader(v.Body))
	r.Header.Set("Content-Type", v.ContentType)
	a, err := ParseTC3Authorization(v.Authorization)
	if err != nil {
		t.Fatal(err)
	}
	if a.SecretID != v.SecretID || a.Service != v.Service || strings.Join(a.SignedHeaders, ";") != v.SignedHeaders {
		t.Fatalf("parsed authorization %+v", a)
	}
	cr := TC3CanonicalRequest(r, []byte(v.Body), a.SignedHeaders)
	if got := sha256Hex([]byte(cr)); got != v.CanonicalRequestSHA256 {
		t.Fatalf("canonical request hash %s, want %s\n%s", got, v.CanonicalRequestSHA256, cr)
	}
	if got := TC3Signature(v.SecretKey, v.Service, v.Timestamp, cr); got != v.Signature {
		t.Fatalf("signature %s, want %s", got, v.Signature)
	}
	if got := TC3Signature(v.SecretKey+"x", v.Service, v.Timestamp, cr); got == v.Signature {
		t.Fatal("a different key gave the same signature")
	}
}

func TestV2Vectors(t *testing.T) {
	v := loadVectors(t).V2
	for _, c := range v.Cases {
		if got := V2Signature(v.SecretKey, c.SignatureMethod, c.StringToSign); got != c.Signature {
			t.Errorf("%s: %s, want %s", c.SignatureMethod, got, c.Signature)
		}
		// Rebuild the string to sign from its parameters.
		rest := strings.TrimPrefix(c.StringToSign, "GETcvm.api.qcloud.com/v2/index.php?")
		params := map[string]string{"Signature": "ignored"}
		for kv := range strings.SplitSeq(rest, "&") {
			k, val, _ := strings.Cut(kv, "=")
			params[k] = val
		}
		if got := V2StringToSign("GET", "cvm.api.qcloud.com", "/v2/index.php", params); got != c.StringToSign {
			t.Errorf("string to sign %q", got)
		}
	}
}

type fixture struct {
	emu *Server
	url string
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	emu := New(opts)
	emu.AddKey(rootID, rootKey, true)
	emu.AddKey(subID, subKey, false)
	emu.AddRole(roleArn)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &fixture{emu: emu, url: srv.URL}
}

func (f *fixture) client(t *testing.T, cred common.CredentialIface, region string) *sts.Client {
	t.Helper()
	u, _ := url.Parse(f.url)
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = u.Host
	cpf.HttpProfile.Scheme = "HTTP"
	c, err := sts.NewClient(cred, region, cpf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func codeOf(err error) string {
	var e *tcerr.TencentCloudSDKError
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "non-sdk: " + err.Error()
	}
	return ""
}

func fedReq(name, pol string, dur uint64) *sts.GetFederationTokenRequest {
	r := sts.NewGetFederationTokenRequest()
	if name != "" {
		r.Name = common.StringPtr(name)
	}
	if pol != "" {
		r.Policy = common.StringPtr(pol)
	}
	if dur > 0 {
		r.DurationSeconds = common.Uint64Ptr(dur)
	}
	return r
}

// The real SDK signs, the emulator verifies; issued credentials then work
// for GetCallerIdentity only with their own token.
func TestSDKRoundTripAndCallerIdentity(t *testing.T) {
	f := newFixture(t, Options{})
	f.emu.SetTokenFunc(HostileToken)
	ctx := context.Background()
	c := f.client(t, common.NewCredential(rootID, rootKey), "ap-guangzhou")
	resp, err := c.GetFederationTokenWithContext(ctx, fedReq("dev", url.QueryEscape(policy), 3600))
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Response
	if *r.ExpiredTime == 0 || r.Expiration == nil || !strings.HasPrefix(*r.Credentials.Token, "tok1 'sq'") {
		t.Fatalf("response %s", resp.ToJsonString())
	}
	last, _ := f.emu.LastRequest(ActionGetFederationToken)
	if last.Policy != policy || last.Params["DurationSeconds"] != "3600" || last.SecretID != rootID || last.Region != "ap-guangzhou" {
		t.Fatalf("last request %+v", last)
	}

	id, key, tok := *r.Credentials.TmpSecretId, *r.Credentials.TmpSecretKey, *r.Credentials.Token
	tc := f.client(t, common.NewTokenCredential(id, key, tok), "ap-guangzhou")
	who, err := tc.GetCallerIdentityWithContext(ctx, sts.NewGetCallerIdentityRequest())
	if err != nil {
		t.Fatalf("GetCallerIdentity with issued credentials: %v", err)
	}
	if *who.Response.Type != "FederatedUser" || !strings.HasSuffix(*who.Response.Arn, ":dev") {
		t.Fatalf("identity %s", who.ToJsonString())
	}
	for name, cred := range map[string]common.CredentialIface{
		"wrong token":   common.NewTokenCredential(id, key, tok+"x"),
		"missing token": common.NewCredential(id, key),
	} {
		_, err := f.client(t, cred, "ap-guangzhou").GetCallerIdentityWithContext(ctx, sts.NewGetCallerIdentityRequest())
		if codeOf(err) != "AuthFailure.TokenFailure" {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = tc.GetFederationTokenWithContext(ctx, fedReq("dev", url.QueryEscape(policy), 0))
	if codeOf(err) != "FailedOperation.TempKeyNotAllowed" {
		t.Errorf("temporary key calling GetFederationToken: %v", err)
	}
	f.emu.Expire(id)
	if _, err := tc.GetCallerIdentityWithContext(ctx, sts.NewGetCallerIdentityRequest()); codeOf(err) != "AuthFailure.TokenFailure" {
		t.Errorf("expired credentials: %v", err)
	}
}

func TestRejections(t *testing.T) {
	enc := url.QueryEscape(policy)
	principal := url.QueryEscape(`{"version":"2.0","statement":[{"effect":"allow","action":["*"],"resource":["*"],"principal":{"qcs":["*"]}}]}`)
	big := url.QueryEscape(`{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["` + strings.Repeat("a", 5000) + `"]}]}`)
	cases := []struct {
		name   string
		opts   Options
		cred   common.CredentialIface
		region string
		req    *sts.GetFederationTokenRequest
		code   string
	}{
		{"ok root", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", enc, 7200), ""},
		{"ok sub long", Options{}, common.NewCredential(subID, subKey), "ap-guangzhou", fedReq("dev", enc, 129600), ""},
		{"bad signature", Options{}, common.NewCredential(rootID, "wrong"), "ap-guangzhou", fedReq("dev", enc, 0), "AuthFailure.SignatureFailure"},
		{"unknown id", Options{}, common.NewCredential("AKIDunknown", rootKey), "ap-guangzhou", fedReq("dev", enc, 0), "AuthFailure.SecretIdNotFound"},
		{"skew", Options{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", enc, 0), "AuthFailure.SignatureExpire"},
		{"no region", Options{}, common.NewCredential(rootID, rootKey), "", fedReq("dev", enc, 0), "MissingParameter"},
		{"no name", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("", enc, 0), "MissingParameter"},
		{"no policy", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", "", 0), "MissingParameter"},
		{"unencoded policy", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", policy, 0), "InvalidParameter.StrategyFormatError"},
		{"not json", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", "hello", 0), "InvalidParameter.StrategyFormatError"},
		{"principal", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", principal, 0), "InvalidParameter.StrategyInvalid"},
		{"too long", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", big, 0), "InvalidParameter.PolicyTooLong"},
		{"root duration", Options{}, common.NewCredential(rootID, rootKey), "ap-guangzhou", fedReq("dev", enc, 7201), "InvalidParameter.OverTimeError"},
		{"sub duration", Options{}, common.NewCredential(subID, subKey), "ap-guangzhou", fedReq("dev", enc, 129601), "InvalidParameter.OverTimeError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opts)
			_, err := f.client(t, c.cred, c.region).GetFederationTokenWithContext(context.Background(), c.req)
			if got := codeOf(err); got != c.code {
				t.Fatalf("code %q, want %q (%v)", got, c.code, err)
			}
			if f.emu.Calls() != 1 || f.emu.CallsFor(ActionGetFederationToken) != 1 {
				t.Fatalf("calls %d", f.emu.Calls())
			}
		})
	}
}

func TestAssumeRoleAndWebIdentity(t *testing.T) {
	f := newFixture(t, Options{})
	f.emu.AddWebIdentityProvider("oidc-1", func(tok string) bool { return tok == "good-jwt" })
	ctx := context.Background()
	c := f.client(t, common.NewCredential(subID, subKey), "ap-guangzhou")
	ar := func(arn, sess string, dur uint64) error {
		r := sts.NewAssumeRoleRequest()
		r.RoleArn, r.RoleSessionName = common.StringPtr(arn), common.StringPtr(sess)
		if dur > 0 {
			r.DurationSeconds = common.Uint64Ptr(dur)
		}
		_, err := c.AssumeRoleWithContext(ctx, r)
		return err
	}
	for _, tc := range []struct {
		arn, sess string
		dur       uint64
		code      string
	}{
		{roleArn, "sess-1", 43200, ""},
		{"arn:bad", "sess-1", 0, "InvalidParameter.ParamError"},
		{"qcs::cam::uin/100012345678:roleName/nope", "sess-1", 0, "ResourceNotFound.RoleNotFound"},
		{roleArn, "x", 0, "InvalidParameter.ParamError"},
		{roleArn, "bad name!", 0, "InvalidParameter.ParamError"},
		{roleArn, "sess-1", 43201, "InvalidParameter.OverTimeError"},
	} {
		if got := codeOf(ar(tc.arn, tc.sess, tc.dur)); got != tc.code {
			t.Errorf("AssumeRole %s %s %d: %q, want %q", tc.arn, tc.sess, tc.dur, got, tc.code)
		}
	}

	// AssumeRoleWithWebIdentity is unsigned: the SDK sends no credential.
	wc := f.client(t, nil, "ap-guangzhou")
	wi := func(pid, tok string) error {
		r := sts.NewAssumeRoleWithWebIdentityRequest()
		r.ProviderId, r.WebIdentityToken = common.StringPtr(pid), common.StringPtr(tok)
		r.RoleArn, r.RoleSessionName = common.StringPtr(roleArn), common.StringPtr("ci-job")
		_, err := wc.AssumeRoleWithWebIdentityWithContext(ctx, r)
		return err
	}
	if err := wi("oidc-1", "good-jwt"); err != nil {
		t.Fatalf("web identity: %v", err)
	}
	if last, _ := f.emu.LastRequest(ActionAssumeRoleWithWebIdentity); last.SecretID != "" || last.Params["WebIdentityToken"] != "good-jwt" {
		t.Fatalf("last web identity request %+v", last)
	}
	if got := codeOf(wi("oidc-1", "stale-jwt")); got != "InvalidParameter.WebIdentityTokenError" {
		t.Errorf("bad web identity token: %q", got)
	}
	if got := codeOf(wi("nope", "good-jwt")); got != "InvalidParameter.ParamError" {
		t.Errorf("unknown provider: %q", got)
	}
}

func rawPost(t *testing.T, url string, hdr map[string]string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Protocol errors use Tencent's exact error body with HTTP 200.
func TestErrorBodyShape(t *testing.T) {
	f := newFixture(t, Options{})
	ts := time.Now().Unix()
	m := rawPost(t, f.url, map[string]string{"X-TC-Action": "GetFederationToken", "X-TC-Version": "2017-01-01",
		"X-TC-Region": "ap-guangzhou", "X-TC-Timestamp": itoa(ts)})
	resp, _ := m["Response"].(map[string]any)
	e, _ := resp["Error"].(map[string]any)
	if e["Code"] != "NoSuchVersion" || e["Message"] == "" || resp["RequestId"] == "" || len(m) != 1 || len(resp) != 2 {
		t.Fatalf("body %v", m)
	}
	m = rawPost(t, f.url, map[string]string{"X-TC-Action": "GetFederationToken", "X-TC-Version": APIVersion,
		"X-TC-Region": "ap-guangzhou", "X-TC-Timestamp": itoa(ts), "Authorization": "SKIP"})
	if code := m["Response"].(map[string]any)["Error"].(map[string]any)["Code"]; code != "AuthFailure.InvalidAuthorization" {
		t.Fatalf("SKIP on a signed action: %v", code)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestFaultsCountAndClear(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t, common.NewCredential(rootID, rootKey), "ap-guangzhou")
	call := func() error {
		_, err := c.GetFederationTokenWithContext(context.Background(), fedReq("dev", url.QueryEscape(policy), 0))
		return err
	}
	f.emu.SetFault(Fault{Kind: Throttle, Count: 2})
	for i := range 2 {
		if got := codeOf(call()); got != "RequestLimitExceeded" {
			t.Fatalf("call %d: %q", i, got)
		}
	}
	if err := call(); err != nil {
		t.Fatalf("fault outlived its count: %v", err)
	}
	for _, k := range []struct {
		kind FaultKind
		code string
	}{
		{AuthFailure, "AuthFailure.SecretIdNotFound"},
		{ClockSkew, "AuthFailure.SignatureExpire"},
		{InvalidParameter, "InvalidParameter.StrategyFormatError"},
		{ServerError, "ClientError.ParseJsonError"}, // the SDK parses before it looks at the status
		{Malformed, "ClientError.ParseJsonError"},
		{Outage, "ClientError.NetworkError"},
	} {
		f.emu.SetFault(Fault{Kind: k.kind})
		if got := codeOf(call()); got != k.code {
			t.Errorf("%v: %q, want %q", k.kind, got, k.code)
		}
		f.emu.ClearFault()
	}
	f.emu.SetFault(Fault{Kind: Delay, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetFederationTokenWithContext(ctx, fedReq("dev", url.QueryEscape(policy), 0))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("delay: %v after %s", err, time.Since(start))
	}
	f.emu.ClearFault()
	if n := f.emu.CallsFor(ActionGetFederationToken); n != f.emu.Calls() || n != 10 {
		t.Fatalf("CallsFor %d, Calls %d, want 10", n, f.emu.Calls())
	}
}

func TestHostileToken(t *testing.T) {
	tok := HostileToken(7)
	for _, must := range []string{"'", `"`, "$(", "`", `\`, "!", "%", " ", "\t", "é", "中"} {
		if !strings.Contains(tok, must) {
			t.Errorf("HostileToken lacks %q", must)
		}
	}
	if strings.ContainsAny(tok, "\x00\r\n") {
		t.Error("HostileToken holds NUL, CR or LF")
	}
	if HostileToken(7) == tok || !strings.HasPrefix(tok, "tok7 ") {
		t.Error("HostileToken is not distinct per call and n")
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/tests/tencentemu"
)

// e2eRole is a role the emulator knows, owned by its default account.
const e2eRole = "qcs::cam::uin/100012345678:roleName/e2e-role"

// getCreds runs `credctl get` and decodes the credentials.
func (e *env) getCreds(name string) apitype.Credentials {
	e.t.Helper()
	r := e.must(e.credctl("", "get", name))
	var c apitype.Credentials
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		e.t.Fatalf("get %s: %v\n%s", name, err, r.stdout)
	}
	return c
}

// sdkAccepts proves the profile's exported credentials work in a real
// tencentcloud-sdk-go program (GetCallerIdentity against the emulator, which
// knows every credential it issued) and returns that program's output.
func (e *env) sdkAccepts(name, endpoint string) string {
	e.t.Helper()
	cmd := exec.Command(need(e.t, "bash"), "-c", `eval "$(credctl export "$PROFILE" --shell bash)" && tcsdkcheck -endpoint "$EMU"`)
	cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"), "EMU="+endpoint, "PROFILE="+name)
	r := e.run(cmd, "")
	if r.code != 0 {
		e.t.Fatalf("tencentcloud-sdk-go with %s's exported credentials: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestV2LegacyGetFederationToken: api_version = 2 with both signature
// methods, and both spellings of the token key in the response.
func TestV2LegacyGetFederationToken(t *testing.T) {
	for _, tc := range []struct{ method, tokenKey string }{
		{"HmacSHA256", "sessionToken"},
		{"HmacSHA256", "token"},
		{"HmacSHA1", "sessionToken"},
		{"HmacSHA1", "token"},
	} {
		t.Run(tc.method+"/"+tc.tokenKey, func(t *testing.T) {
			t.Parallel()
			emu := startTencent(t)
			emu.SetV2TokenKey(tc.tokenKey)
			e := newEnv(t, tencentProfile("v2", emu.URL, fmt.Sprintf("api_version = 2\nsignature_method = %q\nduration = \"20m\"", tc.method)))
			e.start()
			e.storeKey("tc-main")

			c := e.getCreds("v2")
			if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
				t.Fatalf("v2 credentials incomplete: id %q, secret %d bytes, token %d bytes", c.AccessKeyID, len(c.SecretAccessKey), len(c.SessionToken))
			}
			req, ok := emu.LastRequest(tencentemu.ActionGetFederationToken)
			if !ok || req.APIVersion != 2 {
				t.Fatalf("the emulator saw no v2 GetFederationToken (%+v)", req)
			}
			if req.Params["SignatureMethod"] != tc.method || req.SecretID != canarySecretID ||
				req.Params["name"] != "e2e" || req.Params["durationSeconds"] != "1200" || req.Policy != policy {
				t.Fatalf("v2 request params %v, policy %q", req.Params, req.Policy)
			}
			if emu.CallsFor(tencentemu.ActionGetFederationToken) != 1 {
				t.Fatalf("%d v2 calls, want 1", emu.CallsFor(tencentemu.ActionGetFederationToken))
			}
			out := e.sdkAccepts("v2", emu.URL)
			if !strings.Contains(out, "secret_id="+c.AccessKeyID) || !strings.Contains(out, "type=FederatedUser") {
				t.Fatalf("GetCallerIdentity with the v2 credentials:\n%s", out)
			}
		})
	}
}

// TestAssumeRole: the role's temporary credentials, signed with the stored
// key, with the profile's role settings on the wire.
func TestAssumeRole(t *testing.T) {
	emu := startTencent(t)
	emu.AddRole(e2eRole)
	e := newEnv(t, fmt.Sprintf(`[profiles.role]
provider = "tencent"
api = "AssumeRole"
key = "tc-main"
endpoint = %q
role_arn = %q
external_id = "ext-e2e-1"
policy = '%s'
`, emu.URL, e2eRole, policy))
	e.start()
	e.storeKey("tc-main")

	c := e.getCreds("role")
	req, ok := emu.LastRequest(tencentemu.ActionAssumeRole)
	if !ok {
		t.Fatal("the emulator saw no AssumeRole")
	}
	if req.SecretID != canarySecretID || req.Params["RoleArn"] != e2eRole || req.Params["RoleSessionName"] != "credd-role" ||
		req.Params["ExternalId"] != "ext-e2e-1" || req.Params["DurationSeconds"] != "7200" || req.Policy != policy {
		t.Fatalf("AssumeRole request: secret id %q, params %v, policy %q", req.SecretID, req.Params, req.Policy)
	}
	out := e.sdkAccepts("role", emu.URL)
	if !strings.Contains(out, "secret_id="+c.AccessKeyID) || !strings.Contains(out, "type=AssumedRole") ||
		!strings.Contains(out, "assumed-role/e2e-role/credd-role") {
		t.Fatalf("GetCallerIdentity with the role's credentials:\n%s", out)
	}
	if p := e.profiles(); len(p) != 1 || p[0].Method != "AssumeRole" || p[0].State != apitype.StateFresh {
		t.Fatalf("profiles: %+v", p)
	}
}

// TestAssumeRoleWithWebIdentity: no keystore entry at all; the token file
// is re-read at every fetch, so a rotated token is the one sent.
func TestAssumeRoleWithWebIdentity(t *testing.T) {
	emu := startTencent(t)
	emu.AddRole(e2eRole)
	// Web identity tokens are bearer secrets: "CANARY-" makes every log
	// and output check look for them.
	const valid = "CANARY-WEBID-"
	emu.AddWebIdentityProvider("oidc-e2e", func(tok string) bool { return strings.HasPrefix(tok, valid) })

	e := newEnv(t, "")
	tokFile := filepath.Join(e.dir, "web-identity.jwt")
	writeToken := func(tok string) {
		t.Helper()
		// Rotate in place, the way a token issuer does.
		if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken(valid + "one")
	e.writeConfig(fmt.Sprintf("[daemon]\nkeystore = \"file\"\nkeystore_dir = %q\n\n[profiles.web]\nprovider = \"tencent\"\napi = \"AssumeRoleWithWebIdentity\"\nendpoint = %q\nprovider_id = \"oidc-e2e\"\nweb_identity_token_file = %q\nrole_arn = %q\nrole_session_name = \"ci-job\"\nduration = \"1h\"\n",
		filepath.Join(e.dir, "keys"), emu.URL, tokFile, e2eRole))
	e.start()
	if r := e.must(e.credctl("", "key", "list")); strings.Contains(r.stdout, "tencent") {
		t.Fatalf("the keystore is not empty:\n%s", r.stdout)
	}

	sentToken := func() string {
		t.Helper()
		req, ok := emu.LastRequest(tencentemu.ActionAssumeRoleWithWebIdentity)
		if !ok {
			t.Fatal("the emulator saw no AssumeRoleWithWebIdentity")
		}
		if req.SecretID != "" || req.Params["ProviderId"] != "oidc-e2e" || req.Params["RoleArn"] != e2eRole ||
			req.Params["RoleSessionName"] != "ci-job" || req.Params["DurationSeconds"] != "3600" {
			t.Fatalf("AssumeRoleWithWebIdentity request: secret id %q, params ProviderId=%q RoleArn=%q RoleSessionName=%q DurationSeconds=%q",
				req.SecretID, req.Params["ProviderId"], req.Params["RoleArn"], req.Params["RoleSessionName"], req.Params["DurationSeconds"])
		}
		return req.Params["WebIdentityToken"]
	}

	first := e.getCreds("web")
	if tok := sentToken(); tok != valid+"one" {
		t.Fatalf("sent token %.20q..., want the file's first token", tok)
	}
	out := e.sdkAccepts("web", emu.URL)
	if !strings.Contains(out, "secret_id="+first.AccessKeyID) || !strings.Contains(out, "assumed-role/e2e-role/ci-job") {
		t.Fatalf("GetCallerIdentity with the web identity credentials:\n%s", out)
	}

	writeToken(valid + "two")
	r := e.must(e.credctl("", "refresh", "web"))
	e.assertNoSecrets("credctl refresh", r.stdout+r.stderr)
	if tok := sentToken(); tok != valid+"two" {
		t.Fatalf("after rotation the sent token is %.20q..., want the file's second token", tok)
	}
	second := e.getCreds("web")
	if second.AccessKeyID == first.AccessKeyID {
		t.Fatal("refresh after rotation returned the old credential")
	}

	// A token the provider no longer accepts: the refresh fails, naming
	// the profile key to look at, and the valid credential keeps serving.
	writeToken("expired-token")
	r = e.credctl("", "refresh", "web")
	if r.code != 5 || !strings.Contains(r.stderr, "InvalidParameter.WebIdentityTokenError") || !hasHint(r.stderr, "web_identity_token_file") {
		t.Fatalf("refresh with a rejected token: exit %d, stderr %q", r.code, r.stderr)
	}
	if c := e.getCreds("web"); c.AccessKeyID != second.AccessKeyID {
		t.Fatalf("after a failed refresh get returned %q, want the still valid %q", c.AccessKeyID, second.AccessKeyID)
	}
	if n := emu.CallsFor(tencentemu.ActionAssumeRoleWithWebIdentity); n != 3 {
		t.Fatalf("%d AssumeRoleWithWebIdentity calls, want 3", n)
	}
}

// roleProfile is an AssumeRole profile with extra settings.
func roleProfile(name, endpoint, extra string) string {
	return fmt.Sprintf("[profiles.%s]\nprovider = \"tencent\"\napi = \"AssumeRole\"\nkey = \"tc-main\"\nendpoint = %q\n%s\n", name, endpoint, extra)
}

// lineOf returns the 1-based line of body holding needle.
func lineOf(t *testing.T, body, needle string) int {
	t.Helper()
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%q not in config", needle)
	return 0
}

// TestCheckConfigRejectsRoleSettings: out-of-range durations and malformed
// role ARNs are rejected at load with file:line:col and the key, by
// `credd check-config` and by a running credd's reload, which keeps
// serving the previous config.
func TestCheckConfigRejectsRoleSettings(t *testing.T) {
	emu := startTencent(t)
	emu.AddRole(e2eRole)
	e := newEnv(t, roleProfile("role", emu.URL, fmt.Sprintf("role_arn = %q\nduration = \"12h\"", e2eRole)))
	good, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkConfig := func(path string) result {
		t.Helper()
		return e.run(exec.Command(bins.credd, "check-config", path), "")
	}
	if r := checkConfig(e.cfg); r.code != 0 || !strings.Contains(r.stdout, "ok, 1 profile") {
		t.Fatalf("check-config of the good config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	bad := []struct {
		name, key, needle, extra string
	}{
		{"duration 13h", "duration", `duration = "13h"`, fmt.Sprintf("role_arn = %q\nduration = \"13h\"", e2eRole)},
		{"duration 0", "duration", `duration = 0`, fmt.Sprintf("role_arn = %q\nduration = 0", e2eRole)},
		{"role_arn", "role_arn", `role_arn = "arn:aws`, `role_arn = "arn:aws:iam::123456789012:role/e2e"`},
		{"role_arn without role", "role_arn", `role_arn = "qcs::cam::uin/100012345678:uin/1"`, `role_arn = "qcs::cam::uin/100012345678:uin/1"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			body := string(good) + "\n" + roleProfile("broken", emu.URL, tc.extra)
			path := filepath.Join(t.TempDir(), "credd.toml")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			r := checkConfig(path)
			out := r.stdout + r.stderr
			want := regexp.MustCompile(regexp.QuoteMeta(path) + fmt.Sprintf(`:%d:\d+: .*%s`, lineOf(t, body, tc.needle), regexp.QuoteMeta(tc.key)))
			if r.code != 1 || !want.MatchString(out) {
				t.Fatalf("check-config: exit %d, want 1 and a line matching %s:\n%s", r.code, want, out)
			}
		})
	}

	// A running credd keeps the old config when a bad one is written.
	e.start()
	e.storeKey("tc-main")
	before := e.getCreds("role")
	gen := e.status().Generation
	for _, tc := range bad[:3] {
		body := fmt.Sprintf("[daemon]\nkeystore = \"file\"\nkeystore_dir = %q\n\n", filepath.Join(e.dir, "keys")) + roleProfile("role", emu.URL, tc.extra)
		e.writeConfig(body)
		line := lineOf(t, body, tc.needle)
		want := regexp.MustCompile(regexp.QuoteMeta(e.cfg) + fmt.Sprintf(`:%d:\d+: .*%s`, line, regexp.QuoteMeta(tc.key)))
		waitFor(t, "reload error about "+tc.key, func() bool { return want.MatchString(e.status().LastReloadError) })
		st := e.status()
		if st.Generation != gen {
			t.Fatalf("%s: a rejected config changed the generation %d → %d", tc.name, gen, st.Generation)
		}
		if r := e.credctl("", "status"); !want.MatchString(r.stdout) {
			t.Fatalf("%s: credctl status does not show the reload error:\n%s%s", tc.name, r.stdout, r.stderr)
		}
		if c := e.getCreds("role"); c.AccessKeyID != before.AccessKeyID {
			t.Fatalf("%s: the old profile was not kept: key %q, want %q", tc.name, c.AccessKeyID, before.AccessKeyID)
		}
		if p := e.profiles(); len(p) != 1 || p[0].State != apitype.StateFresh {
			t.Fatalf("%s: profiles after a rejected reload: %+v", tc.name, p)
		}
	}
	// The good config again: the error clears, and the unchanged profile
	// keeps its credential without another upstream call.
	calls := emu.CallsFor(tencentemu.ActionAssumeRole)
	e.writeConfig(string(good))
	waitFor(t, "the reload error to clear", func() bool { return e.status().LastReloadError == "" })
	if c := e.getCreds("role"); c.AccessKeyID != before.AccessKeyID {
		t.Fatalf("after restoring the config: key %q, want %q", c.AccessKeyID, before.AccessKeyID)
	}
	if n := emu.CallsFor(tencentemu.ActionAssumeRole); n != calls {
		t.Fatalf("restoring the same config refetched: %d calls, want %d", n, calls)
	}
	if strings.Contains(e.logs.String(), canarySecretKey) {
		t.Fatal("the log carries the secret key")
	}
}

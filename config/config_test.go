package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const policy = `{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["*"]}]}`

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadExample(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "policies/cos-read.json", policy)
	path := write(t, dir, "credd.toml", `
[daemon]
keystore = "file"
log_level = "debug"
socket_mode = "0660"

[profiles.tc-dev]
provider = "tencent"
key = "tc-main"
region = "ap-guangzhou"
name = "devlaptop"
policy_file = "policies/cos-read.json"
duration = "30m"
refresh = "on-demand"
allow_uids = [1000]

[profiles.hw-sso]
provider = "huawei"
method = "federation"
key = "corp-idp"
iam_endpoint = "https://iam.myhuaweicloud.com"
idp_id = "corp"
protocol_id = "saml"
idp_url = "https://idp.corp.example/idp/profile/SAML2/SOAP/ECP"
duration = 3600
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.Profiles["tc-dev"]
	if tc.Duration != 30*time.Minute || tc.Policy != policy || tc.API != APIFederationToken || tc.APIVersion != 3 {
		t.Errorf("tc-dev = %+v", tc)
	}
	if tc.AllowUIDs[0] != 1000 || tc.FederationName != "devlaptop" {
		t.Errorf("tc-dev = %+v", tc)
	}
	hw := c.Profiles["hw-sso"]
	if hw.Duration != time.Hour || hw.Method != MethodFederation {
		t.Errorf("hw-sso = %+v", hw)
	}
	if c.Daemon.Keystore != "file" || c.Daemon.SocketMode != 0o660 {
		t.Errorf("daemon = %+v", c.Daemon)
	}
	if got := c.ProfileNames(); strings.Join(got, ",") != "hw-sso,tc-dev" {
		t.Errorf("names = %v", got)
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "credd.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Missing || len(c.Profiles) != 0 || c.Daemon.Keystore != "keyring" {
		t.Fatalf("got %+v", c)
	}
}

func TestErrors(t *testing.T) {
	base := "[profiles.p]\nprovider = \"tencent\"\nkey = \"k\"\npolicy = '" + policy + "'\n"
	tests := []struct {
		name, body string
		want       string // substring of the error, which also carries file:line:col
	}{
		{"unknown key", base + "colour = \"red\"\n", "credd.toml:5:1: unknown key \"profiles.p.colour\""},
		{"wrong type", base + "duration = true\n", "credd.toml:5:"},
		{"duration too long", base + "duration = \"37h\"\n", "credd.toml:5:1: profile \"p\": duration: 37h is out of range"},
		{"duration zero", base + "duration = 0\n", "credd.toml:5:1: profile \"p\": duration: 0 seconds is out of range"},
		{"duration garbage", base + "duration = \"soon\"\n", "credd.toml:5:1: profile \"p\": duration: \"soon\" is not a duration"},
		{"fractional", base + "duration = \"1.5s\"\n", "not a whole number of seconds"},
		{"assume role too long", "[profiles.p]\nprovider = \"tencent\"\napi = \"AssumeRole\"\nkey = \"k\"\nrole_arn = \"qcs::cam::uin/100000000001:roleName/dev\"\nduration = \"13h\"\n", "credd.toml:6:1: profile \"p\": duration: 13h is out of range"},
		{"bad role arn", "[profiles.p]\nprovider = \"tencent\"\napi = \"AssumeRole\"\nkey = \"k\"\nrole_arn = \"arn:aws:iam::1:role/x\"\n", "credd.toml:5:1: profile \"p\": role_arn: \"arn:aws:iam::1:role/x\" is not a role ARN"},
		{"huawei short", "[profiles.h]\nprovider = \"huawei\"\nmethod = \"assume_role\"\nkey = \"k\"\nagency_name = \"a\"\ndomain_name = \"d\"\nduration = 600\n", "credd.toml:7:1: profile \"h\": duration: 600 seconds is out of range (15m–24h"},
		{"http not loopback", base + "endpoint = \"http://sts.example.com\"\n", "credd.toml:5:1: profile \"p\": endpoint: http:// is allowed only for loopback"},
		{"key for other provider", base + "idp_url = \"https://x\"\n", "credd.toml:5:1: profile \"p\": idp_url: does not apply to tencent GetFederationToken"},
		{"principal", "[profiles.p]\nprovider = \"tencent\"\nkey = \"k\"\npolicy = '{\"statement\":[{\"principal\":{}}]}'\n", "must not contain \"principal\""},
		{"no provider", "[profiles.p]\nkey = \"k\"\n", "credd.toml:1:1: profile \"p\": provider is required"},
		{"unknown provider", "[profiles.p]\nprovider = \"aws\"\n", "credd.toml:2:1: profile \"p\": provider: unknown provider \"aws\""},
		{"policy missing", "[profiles.p]\nprovider = \"tencent\"\nkey = \"k\"\n", "policy is required for GetFederationToken"},
		{"bad json policy", "[profiles.p]\nprovider = \"tencent\"\nkey = \"k\"\npolicy = \"{\"\n", "credd.toml:4:1: profile \"p\": policy: the policy is not valid JSON"},
		{"refresh", base + "refresh = \"never\"\n", "refresh: \"never\" is not one of on-demand, always"},
		{"syntax", "[profiles.p\n", "credd.toml:1:"},
		{"daemon keystore", "[daemon]\nkeystore = \"vault\"\n", "credd.toml:2:1: daemon: keystore: \"vault\" is not one of"},
		{"socket mode", "[daemon]\nsocket_mode = \"0066\"\n", "credd.toml:2:1: daemon: socket_mode"},
		{"api version", base + "api_version = 4\n", "credd.toml:5:1: profile \"p\": api_version: 4 is not 2"},
		{"sigmethod without v2", base + "signature_method = \"HmacSHA1\"\n", "signature_method: does not apply"},
		{"web identity takes no policy", "[profiles.w]\nprovider = \"tencent\"\napi = \"AssumeRoleWithWebIdentity\"\nrole_arn = \"qcs::cam::uin/1:roleName/r\"\nprovider_id = \"OIDC\"\nweb_identity_token_file = \"tok\"\npolicy = '{}'\n", "credd.toml:7:1: profile \"w\": policy: does not apply"},
		{"federation takes no policy", "[profiles.h]\nprovider = \"huawei\"\nkey = \"k\"\nidp_id = \"i\"\nprotocol_id = \"saml\"\nidp_url = \"https://idp.example\"\npolicy = '{}'\n", "credd.toml:7:1: profile \"h\": policy: does not apply"},
		{"web identity needs no key", "[profiles.w]\nprovider = \"tencent\"\napi = \"AssumeRoleWithWebIdentity\"\nkey = \"k\"\nrole_arn = \"qcs::cam::uin/1:roleName/r\"\nprovider_id = \"OIDC\"\nweb_identity_token_file = \"tok\"\n", "credd.toml:4:1: profile \"w\": key: does not apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := write(t, dir, "credd.toml", tt.body)
			_, err := Load(path)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%s\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error does not start with the file path: %s", err)
			}
		})
	}
}

func TestDropIns(t *testing.T) {
	dir := t.TempDir()
	p := "provider = \"tencent\"\nkey = \"k\"\npolicy = '" + policy + "'\n"
	path := write(t, dir, "credd.toml", "[profiles.a]\n"+p)
	write(t, dir, "credd.d/20-b.toml", "[profiles.b]\n"+p)
	write(t, dir, "credd.d/10-log.toml", "[daemon]\nlog_level = \"warn\"\n")
	write(t, dir, "credd.d/ignored.conf", "garbage")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Profiles) != 2 || c.Daemon.LogLevel != "warn" || len(c.Files) != 3 {
		t.Fatalf("got %+v files %v", c.Profiles, c.Files)
	}
	write(t, dir, "credd.d/30-dup.toml", "\n[profiles.a]\n"+p)
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "30-dup.toml:2:1: profile \"a\" is already defined at "+path+":1:1") {
		t.Fatalf("err = %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	p := "provider = \"tencent\"\nkey = \"k\"\npolicy = '" + policy + "'\n"
	path := write(t, dir, "credd.toml", "[profiles.a]\n"+p+"\n[profiles.b]\n"+p)
	c1, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "credd.toml", "# moved\n\n[profiles.a]\n"+p+"\n[profiles.b]\n"+p+"duration = 900\n")
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Profiles["a"].Fingerprint() != c2.Profiles["a"].Fingerprint() {
		t.Error("unchanged profile a changed fingerprint")
	}
	if c1.Profiles["b"].Fingerprint() == c2.Profiles["b"].Fingerprint() {
		t.Error("changed profile b kept its fingerprint")
	}
	if c1.Hash == c2.Hash || Hash(path) != c2.Hash {
		t.Error("hash does not follow content")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("[profiles.p]\nprovider = \"tencent\"\nkey = \"k\"\npolicy = '{}'\nduration = \"1h\"\n")
	f.Add("[daemon]\nkeystore = \"file\"\n[profiles.h]\nprovider = \"huawei\"\n")
	f.Add("a.b.c = 1\n[[x]]\n")
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "credd.toml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

func TestKeystoreDirRelativeToItsFile(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "credd.toml", "[daemon]\nkeystore = \"file\"\n")
	write(t, dir, "credd.d/10.toml", "[daemon]\nkeystore_dir = \"keys\"\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "credd.d", "keys"); c.Daemon.KeystoreDir != want {
		t.Fatalf("keystore_dir = %q, want %q", c.Daemon.KeystoreDir, want)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "credd.toml", "[daemon]\nsocket_mode = \"0644x\"\n\n[profiles.p]\nprovider = \"tencent\"\nkey = \"k\"\npolicy = \"{\"\ncolour = 1\n")
	_, err := Load(path)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{":2:1: daemon: socket_mode", ":8:1: unknown key \"profiles.p.colour\"", ":7:1: profile \"p\": policy: the policy is not valid JSON"}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d (one each):\n%s", len(ce.Problems), len(want), err)
	}
}

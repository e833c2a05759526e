package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdCredentials is the server path: the key is encrypted with
// systemd-creds, decrypted into $CREDENTIALS_DIRECTORY as systemd does for
// LoadCredentialEncrypted=, and credd (keystore = "systemd") serves from it.
func TestSystemdCredentials(t *testing.T) {
	creds := need(t, "systemd-creds")
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; systemd-creds --with-key=host needs it")
		}
		t.Skip("systemd-creds with the host key needs root")
	}
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	body, _ := os.ReadFile(e.cfg)
	e.writeConfig(strings.Replace(string(body), `keystore = "file"`, `keystore = "systemd"`, 1))

	plain := filepath.Join(e.dir, "tc-main.json")
	os.WriteFile(plain, []byte(`{"kind":"tencent","fields":{"secret_id":"`+canarySecretID+`","secret_key":"`+canarySecretKey+`"}}`), 0o600)
	enc := filepath.Join(e.dir, "tc-main.cred")
	if out, err := exec.Command(creds, "encrypt", "--with-key=host", "--name=tc-main", plain, enc).CombinedOutput(); err != nil {
		t.Fatalf("systemd-creds encrypt: %v\n%s", err, out)
	}
	os.Remove(plain)
	if b, _ := os.ReadFile(enc); strings.Contains(string(b), canarySecretKey) {
		t.Fatal("the encrypted credential holds the key in clear")
	}
	// What systemd does at service start for LoadCredentialEncrypted=tc-main:PATH.
	credDir := filepath.Join(e.dir, "credentials")
	os.Mkdir(credDir, 0o700)
	if out, err := exec.Command(creds, "decrypt", "--name=tc-main", enc, filepath.Join(credDir, "tc-main")).CombinedOutput(); err != nil {
		t.Fatalf("systemd-creds decrypt: %v\n%s", err, out)
	}
	e.extra = []string{"CREDENTIALS_DIRECTORY=" + credDir}
	e.start()

	e.must(e.credctl("", "get", "demo"))
	if r := e.must(e.credctl("", "key", "list")); !strings.Contains(r.stdout, "tc-main") {
		t.Fatalf("key list: %q", r.stdout)
	}
	r := e.credctl("secret_id=x\nsecret_key=y\n", "key", "set", "other", "--kind", "tencent")
	if r.code == 0 || !strings.Contains(r.stderr, "systemd-creds encrypt") {
		t.Fatalf("key set on a read-only keystore: exit %d\n%s", r.code, r.stderr)
	}
	if st := e.status(); st.Keystore != "systemd" {
		t.Fatalf("keystore %q", st.Keystore)
	}
}

// TestSystemdKeystoreWithoutCredentials: a unit that loads no credential
// yet still starts, and the error names the fix.
func TestSystemdKeystoreWithoutCredentials(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	body, _ := os.ReadFile(e.cfg)
	e.writeConfig(strings.Replace(string(body), `keystore = "file"`, `keystore = "systemd"`, 1))
	e.start()
	r := e.credctl("", "get", "demo")
	if r.code != 5 || !strings.Contains(r.stderr, "LoadCredentialEncrypted=") {
		t.Fatalf("get without credentials: exit %d\n%s", r.code, r.stderr)
	}
}

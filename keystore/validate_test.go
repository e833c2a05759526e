package keystore

import (
	"strings"
	"testing"

	"github.com/credd-dev/credd/secret"
)

func TestValidateName(t *testing.T) {
	good := []string{"a", "tc-main", "A.b_c-9", "0", strings.Repeat("x", 128)}
	bad := []string{"", ".index", "-x", "_x", "a/b", "../x", "a b", "é", strings.Repeat("x", 129), "a\n", "x:y"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		err := ValidateName(n)
		if err == nil {
			t.Errorf("ValidateName(%q) accepted", n)
			continue
		}
		if !strings.Contains(err.Error(), "A-Z a-z 0-9 . _ -") {
			t.Errorf("error does not say what is allowed: %v", err)
		}
	}
}

func TestValidate(t *testing.T) {
	v := secret.New(canary)
	cases := []struct {
		name  string
		e     Entry
		wants []string // substrings of the error; nil means valid
	}{
		{"ok", tencentEntry("k", canary), nil},
		{"bad name", Entry{Name: "a/b", Kind: "tencent"}, []string{"invalid key name"}},
		{"unknown kind", Entry{Name: "k", Kind: "aws"}, []string{`unknown kind "aws"`, "huawei-aksk, password, tencent"}},
		{"missing", Entry{Name: "k", Kind: "tencent", Fields: map[string]secret.Value{"secret_id": v}},
			[]string{`missing field "secret_key"`, "secret_id, secret_key"}},
		{"empty", Entry{Name: "k", Kind: "password", Fields: map[string]secret.Value{"username": v, "password": {}}},
			[]string{`empty field "password"`}},
		{"unknown field", Entry{Name: "k", Kind: "huawei-aksk", Fields: map[string]secret.Value{
			"access_key": v, "secret_key": v, "token": v}}, []string{`unknown field "token"`}},
		{"bad utf8", Entry{Name: "k", Kind: "password", Fields: map[string]secret.Value{
			"username": v, "password": secret.New("\xff" + canary)}}, []string{`field "password" is not valid UTF-8`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.e)
			if c.wants == nil {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			assertNoCanary(t, err.Error())
		})
	}
}

func TestOpenUnknownBackend(t *testing.T) {
	_, err := Open(Options{Backend: "vault"})
	if err == nil || !strings.Contains(err.Error(), `"keyring", "file" or "systemd"`) {
		t.Fatalf("Open(vault) = %v", err)
	}
	s, err := Open(Options{})
	if err != nil || s.Backend() != BackendKeyring || IsReadOnly(s) {
		t.Fatalf("Open default = %v, %v", s, err)
	}
}

func TestDefaultFileDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if d, _ := DefaultFileDir(); d != "/xdg/credd/keys" {
		t.Errorf("with XDG_DATA_HOME: %s", d)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultFileDir(); d != "/home/u/.local/share/credd/keys" {
		t.Errorf("without XDG_DATA_HOME: %s", d)
	}
}

package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	write("tc-main", `{"kind":"tencent","fields":{"secret_id":"AKIDexample","secret_key":"`+canary+`"}}`)
	write("corp-idp", `{"kind":"password","fields":{"username":"alice","password":"pw"}}`+"\n")
	write("tls.pem", "-----BEGIN CERTIFICATE-----\n") // another credential of the unit
	t.Setenv("CREDENTIALS_DIRECTORY", dir)

	s, err := Open(Options{Backend: BackendSystemd})
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend() != BackendSystemd || !IsReadOnly(s) {
		t.Fatalf("backend %q read-only %v", s.Backend(), IsReadOnly(s))
	}
	got, err := s.Get(ctx, "tc-main")
	if err != nil {
		t.Fatal(err)
	}
	assertEntry(t, got, tencentEntry("tc-main", canary))
	if got, err := s.Get(ctx, "corp-idp"); err != nil || got.Field("username").Reveal() != "alice" {
		t.Fatalf("Get corp-idp = %v", err)
	}
	l, err := s.List(ctx)
	if err != nil || len(l) != 2 || l[0] != (Info{"corp-idp", "password"}) || l[1] != (Info{"tc-main", "tencent"}) {
		t.Fatalf("List = %v, %v", l, err)
	}
	_, err = s.Get(ctx, "missing")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "LoadCredentialEncrypted=missing:") {
		t.Fatalf("Get missing = %v", err)
	}
	if _, err := s.Get(ctx, "../etc"); err == nil || !strings.Contains(err.Error(), "invalid key name") {
		t.Fatalf("Get ../etc = %v", err)
	}
}

func TestSystemdReadOnly(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSystemd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Set(ctx, tencentEntry("tc-main", canary))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "systemd-creds encrypt") ||
		!strings.Contains(err.Error(), "LoadCredentialEncrypted=tc-main:") {
		t.Fatalf("Set = %v", err)
	}
	assertNoCanary(t, err.Error())
	if err := s.Delete(ctx, "tc-main"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Delete = %v", err)
	}
}

func TestSystemdUnset(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	// A unit that loads no credential yet still starts: the store is
	// empty and every Get names the fix.
	s, err := Open(Options{Backend: BackendSystemd})
	if err != nil {
		t.Fatalf("Open without CREDENTIALS_DIRECTORY: %v", err)
	}
	_, err = s.Get(context.Background(), "tc-main")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "LoadCredential=") || !strings.Contains(err.Error(), "LoadCredentialEncrypted=") {
		t.Fatalf("Get without CREDENTIALS_DIRECTORY = %v", err)
	}
	if infos, err := s.List(context.Background()); err != nil || len(infos) != 0 {
		t.Fatalf("List without CREDENTIALS_DIRECTORY = %v, %v", infos, err)
	}
	if _, err := OpenSystemd(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("OpenSystemd on a missing dir succeeded")
	}
}

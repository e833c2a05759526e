package main

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sts "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sts/v20180813"

	"github.com/credd-dev/credd/tests/tencentemu"
)

func TestAgainstEmulator(t *testing.T) {
	emu := tencentemu.New(tencentemu.Options{})
	emu.AddKey("AKIDroot", "root-secret", true)
	emu.SetTokenFunc(tencentemu.HostileToken)
	srv := httptest.NewServer(emu)
	defer srv.Close()

	// Mint temporary credentials as credd would.
	u, _ := url.Parse(srv.URL)
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme = u.Host, "HTTP"
	c, _ := sts.NewClient(common.NewCredential("AKIDroot", "root-secret"), "ap-guangzhou", cpf)
	req := sts.NewGetFederationTokenRequest()
	req.Name = common.StringPtr("dev")
	req.Policy = common.StringPtr(url.QueryEscape(`{"version":"2.0","statement":[{"effect":"allow","action":["*"],"resource":["*"]}]}`))
	resp, err := c.GetFederationTokenWithContext(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	cr := resp.Response.Credentials
	t.Setenv("TENCENTCLOUD_SECRET_ID", *cr.TmpSecretId)
	t.Setenv("TENCENTCLOUD_SECRET_KEY", *cr.TmpSecretKey)
	t.Setenv("TENCENTCLOUD_SESSION_TOKEN", *cr.Token)
	tokFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokFile, []byte(*cr.Token), 0o600)

	var out strings.Builder
	if err := run([]string{"-endpoint", srv.URL, "-expect-token-file", tokFile}, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "secret_id="+*cr.TmpSecretId) || !strings.Contains(out.String(), "type=FederatedUser") {
		t.Fatalf("output %q", out.String())
	}
	os.WriteFile(tokFile, []byte(*cr.Token+"x"), 0o600)
	if err := run([]string{"-endpoint", srv.URL, "-expect-token-file", tokFile}, &out); err == nil {
		t.Fatal("a differing token file was accepted")
	}
	t.Setenv("TENCENTCLOUD_SESSION_TOKEN", "x")
	if err := run([]string{"-endpoint", srv.URL}, &out); err == nil || !strings.Contains(err.Error(), "AuthFailure.TokenFailure") {
		t.Fatalf("wrong token: %v", err)
	}
}

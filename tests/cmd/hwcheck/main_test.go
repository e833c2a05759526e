package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/credd-dev/credd/tests/huaweiemu"
)

func TestRun(t *testing.T) {
	emu := huaweiemu.New(huaweiemu.Options{})
	emu.AddUser("acme", "alice", "pw")
	srv := httptest.NewServer(emu)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/v3/auth/tokens", "application/json", strings.NewReader(
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"pw","domain":{"name":"acme"}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v3.0/OS-CREDENTIAL/securitytokens", strings.NewReader(`{"auth":{"identity":{"methods":["token"]}}}`))
	req.Header.Set("X-Auth-Token", resp.Header.Get("X-Subject-Token"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var v struct {
		Credential struct{ Access, Secret, Securitytoken string }
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Credential.Access == "" {
		t.Fatalf("securitytokens: %d %s", resp.StatusCode, body)
	}

	t.Setenv("HUAWEICLOUD_SDK_AK", v.Credential.Access)
	t.Setenv("HUAWEICLOUD_SDK_SK", v.Credential.Secret)
	t.Setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", v.Credential.Securitytoken)
	var out bytes.Buffer
	if err := run([]string{"-endpoint", srv.URL}, &out); err != nil {
		t.Fatalf("valid credential refused: %v", err)
	}
	if !strings.Contains(out.String(), v.Credential.Access) {
		t.Errorf("output %q", out.String())
	}

	t.Setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", v.Credential.Securitytoken+"x")
	err = run([]string{"-endpoint", srv.URL}, &out)
	if err == nil || !strings.Contains(err.Error(), "APIGW.0301") {
		t.Errorf("bad token: %v", err)
	}
	t.Setenv("HUAWEICLOUD_SDK_SK", "")
	if err := run([]string{"-endpoint", srv.URL}, &out); err == nil {
		t.Error("ran without a secret key")
	}
	if err := run(nil, &out); err == nil {
		t.Error("ran without -endpoint")
	}
}

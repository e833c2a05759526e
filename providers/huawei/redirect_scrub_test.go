package huawei

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
)

// An IAM endpoint that answers 307 must not make credd resend the password
// body or the X-Auth-Token to another host.
func TestRedirectDoesNotForwardSecrets(t *testing.T) {
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b), r.Header.Get("X-Auth-Token"))
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer other.Close()
	// Same port trick is not needed: "localhost" and "127.0.0.1" are different hosts.
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	iam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer iam.Close()

	keys := &fakeKeys{entries: map[string]map[string]string{}, kinds: map[string]string{}}
	keys.set("iam-user", KindPassword, map[string]string{"username": "alice", "password": canaryPassword})
	p := &config.Profile{Name: "hw-tok", Provider: "huawei", Method: config.MethodToken, Login: config.LoginPassword,
		Key: "iam-user", IAMEndpoint: iam.URL, DomainName: "acme", Duration: 900 * time.Second}
	prov, err := New(p, providers.Deps{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	_, err = prov.Fetch(context.Background())
	if err == nil {
		t.Fatal("fetch succeeded against a redirecting endpoint")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range got {
		if strings.Contains(s, canaryPassword) {
			t.Fatalf("the password was forwarded to the redirect target %s: %q", target, s)
		}
	}
}

// An upstream error message that echoes the request must not carry the
// password into the error (tencent scrubs; huawei should too).
func TestErrorEchoIsScrubbed(t *testing.T) {
	iam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		// A gateway that quotes the start of the offending body.
		msg := strings.ReplaceAll(string(b), `"`, `'`)
		io.WriteString(w, `{"error_msg":"invalid request body: `+msg+`","error_code":"APIGW.0201"}`)
	}))
	defer iam.Close()
	keys := &fakeKeys{entries: map[string]map[string]string{}, kinds: map[string]string{}}
	keys.set("iam-user", KindPassword, map[string]string{"username": "alice", "password": canaryPassword})
	p := &config.Profile{Name: "hw-tok", Provider: "huawei", Method: config.MethodToken, Login: config.LoginPassword,
		Key: "iam-user", IAMEndpoint: iam.URL, DomainName: "acme", Duration: 900 * time.Second}
	prov, err := New(p, providers.Deps{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	_, err = prov.Fetch(context.Background())
	if err == nil {
		t.Fatal("fetch succeeded")
	}
	if strings.Contains(err.Error(), canaryPassword) {
		t.Fatalf("error carries the password: %v", err)
	}
}

package tencent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
)

// A redirecting STS endpoint must not receive... the web identity token on
// another host.
func TestWebIdentityRedirect(t *testing.T) {
	const tok = "eyJ-CANARY-web-identity-token-5b1e"
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer other.Close()
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer sts.Close()
	f := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(f, []byte(tok), 0o600)
	p := &config.Profile{Name: "t", Provider: "tencent", API: config.APIWebIdentity, APIVersion: 3, Region: "ap-guangzhou",
		Endpoint: sts.URL, ProviderID: "OIDC", WebIdentityTokenFile: f, RoleARN: testRole, RoleSessionName: "credd-t", Duration: 7200 * time.Second}
	pr, err := New(p, providers.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pr.Fetch(context.Background())
	if err == nil {
		t.Fatal("fetch succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range got {
		if strings.Contains(s, tok) {
			t.Fatalf("web identity token forwarded to %s", target)
		}
	}
	t.Logf("err: %v; requests at target: %d", err, len(got))
}

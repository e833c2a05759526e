package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/credd-dev/credd/secret"
)

func TestScrub(t *testing.T) {
	pw := secret.New(`pa"ss w/rd&CANARY`)
	for _, in := range []string{
		`bad body {"password":"pa\"ss w/rd&CANARY"}`,
		`url ?p=pa%22ss+w%2Frd%26CANARY`,
		`raw pa"ss w/rd&CANARY`,
	} {
		if out := Scrub(in, pw); strings.Contains(out, "CANARY") || !strings.Contains(out, secret.Redacted) {
			t.Errorf("Scrub(%q) = %q", in, out)
		}
	}
}

func TestRedactorScrubsErrorsAfterTheSecretIsWiped(t *testing.T) {
	ctx, red := WithRedactor(context.Background())
	tok := secret.New("tok-CANARY-1234")
	NoteSecret(ctx, tok)
	tok.Zero() // the fetch is done with it; the redactor kept a copy
	err := red.Scrub(&Error{Provider: "huawei", Op: "x", Message: "invalid token tok-CANARY-1234"})
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("not scrubbed: %v", err)
	}
	err = red.Scrub(&Error{Provider: "huawei", Err: errors.New("echo tok-CANARY-1234")})
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("wrapped cause not scrubbed: %v", err)
	}
	if err := red.Scrub(fmt.Errorf("plain tok-CANARY-1234")); strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("plain error not scrubbed: %v", err)
	}
	red.Zero()
}

func TestNoRedirects(t *testing.T) {
	var hits int
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	resp, err := NoRedirects(http.DefaultClient).Post(srv.URL, "application/json", strings.NewReader(`{"password":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || hits != 0 {
		t.Fatalf("status %d, redirect target hit %d times", resp.StatusCode, hits)
	}
	if http.DefaultClient.CheckRedirect != nil {
		t.Fatal("NoRedirects changed the client it was given")
	}
}

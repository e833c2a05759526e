package providers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/credd-dev/credd/secret"
)

// Scrub replaces every occurrence of each secret in s, raw, JSON-escaped or
// URL-encoded, with [redacted]. Services echo request bodies in their error
// messages; those messages reach logs and status output.
func Scrub(s string, secrets ...secret.Value) string {
	for _, v := range secrets {
		if v.Len() < 4 { // too short to scrub without mangling the text
			continue
		}
		raw := v.Reveal()
		forms := []string{raw, url.QueryEscape(raw), url.PathEscape(raw)}
		// JSON-escaped, as Go escapes it (<, >, & as \u00XX) and as others do.
		for _, html := range []bool{true, false} {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if enc.Encode(raw) == nil {
				q := strings.TrimSuffix(b.String(), "\n")
				forms = append(forms, q[1:len(q)-1])
			}
		}
		for _, f := range forms {
			s = strings.ReplaceAll(s, f, secret.Redacted)
		}
	}
	return s
}

// Redactor collects the secrets one fetch sends upstream, wherever in the
// call tree they are read, so that the fetch's error can be scrubbed of
// them in one place. It keeps copies: the originals are wiped as soon as
// they have been sent.
type Redactor struct {
	mu   sync.Mutex
	vals []secret.Value
}

type redactorKey struct{}

// WithRedactor returns a context carrying a new Redactor.
func WithRedactor(ctx context.Context) (context.Context, *Redactor) {
	r := &Redactor{}
	return context.WithValue(ctx, redactorKey{}, r), r
}

// NoteSecret records v with the context's Redactor, if any.
func NoteSecret(ctx context.Context, vs ...secret.Value) {
	r, _ := ctx.Value(redactorKey{}).(*Redactor)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vs {
		if v.Len() > 0 {
			r.vals = append(r.vals, secret.New(v.Reveal()))
		}
	}
}

// Scrub removes the recorded secrets from err's text. A *Error is scrubbed
// in place; any other error is replaced by its scrubbed text.
func (r *Redactor) Scrub(err error) error {
	if err == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var e *Error
	if errors.As(err, &e) {
		e.Code = Scrub(e.Code, r.vals...)
		if e.Message == "" && e.Err != nil {
			e.Message = e.Err.Error() // Error prints Message in place of Err
		}
		e.Message = Scrub(e.Message, r.vals...)
		return err
	}
	if msg := err.Error(); Scrub(msg, r.vals...) != msg {
		return errors.New(Scrub(msg, r.vals...))
	}
	return err
}

// Zero wipes the recorded copies.
func (r *Redactor) Zero() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.vals {
		v.Zero()
	}
	r.vals = nil
}

// NoRedirects returns a copy of c that never follows redirects. Go re-sends
// a request body on 307/308, to whatever host the Location names: a
// password or token must not follow an upstream's redirect.
func NoRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

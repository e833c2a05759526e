package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/providers/huawei/signer"
	"github.com/credd-dev/credd/secret"
)

const securityTokensPath = "/v3.0/OS-CREDENTIAL/securitytokens"

// maxIDToken caps the ID token file: JWTs are a few KiB.
const maxIDToken = 64 << 10

// fetchToken is method "token": an IAM token exchanged at securitytokens.
// A cached token the service no longer accepts (401) is dropped and the
// login repeated once.
func (p *Provider) fetchToken(ctx context.Context) (providers.Credential, error) {
	tok, cached, err := p.token(ctx)
	if err != nil {
		return providers.Credential{}, err
	}
	c, err := p.exchangeToken(ctx, tok)
	if err != nil && cached && statusOf(err) == http.StatusUnauthorized {
		p.log.InfoContext(ctx, "cached IAM token rejected; logging in again")
		p.dropToken(tok)
		if tok, _, err = p.token(ctx); err != nil {
			return providers.Credential{}, err
		}
		c, err = p.exchangeToken(ctx, tok)
	}
	return c, err
}

func statusOf(err error) int {
	var e *providers.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// token returns a valid IAM token and whether it came from the cache.
func (p *Provider) token(ctx context.Context) (secret.Value, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tok.value.IsEmpty() && p.now().Before(p.tok.expires.Add(-tokenMargin)) {
		return p.tok.value, true, nil
	}
	var (
		t   cachedToken
		err error
	)
	switch p.prof.Login {
	case config.LoginFederation:
		t, err = p.loginFederation(ctx)
	case config.LoginOIDC:
		t, err = p.loginOIDC(ctx)
	default:
		t, err = p.loginPassword(ctx)
	}
	if err != nil {
		return secret.Value{}, false, err
	}
	p.tok = t
	return t.value, false, nil
}

// dropToken forgets tok unless another fetch already replaced it.
func (p *Provider) dropToken(tok secret.Value) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tok.value.Equal(tok) {
		p.tok = cachedToken{}
	}
}

func (p *Provider) exchangeToken(ctx context.Context, tok secret.Value) (providers.Credential, error) {
	const op = "securitytokens (token)"
	providers.NoteSecret(ctx, tok)
	identity := map[string]any{
		"methods": []string{"token"},
		"token":   map[string]any{"id": tok.Reveal(), "duration_seconds": p.durationSeconds()},
	}
	if p.policy != nil {
		identity["policy"] = p.policy
	}
	body, err := json.Marshal(map[string]any{"auth": map[string]any{"identity": identity}})
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: err}
	}
	defer clear(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url(securityTokensPath), bytes.NewReader(body))
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "iam_endpoint", Err: err}
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("X-Auth-Token", tok.Reveal())
	r, err := do(p.client, req, op)
	if err != nil {
		return providers.Credential{}, err
	}
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		return providers.Credential{}, apiError(op, r.status, r.body, "duration")
	}
	return parseCredential(op, r.body)
}

// tokenBody is the part of a token response credd reads.
type tokenBody struct {
	Token struct {
		ExpiresAt string `json:"expires_at"`
	} `json:"token"`
}

// readToken takes the token from X-Subject-Token and its expiry from the body.
func readToken(op string, r *response) (cachedToken, error) {
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		return cachedToken{}, apiError(op, r.status, r.body, "")
	}
	t := r.header.Get("X-Subject-Token")
	var b tokenBody
	if t == "" || json.Unmarshal(r.body, &b) != nil {
		return cachedToken{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Message: "malformed token response: no X-Subject-Token or body"}
	}
	exp, err := time.Parse(expiresLayout, b.Token.ExpiresAt)
	if err != nil {
		return cachedToken{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Message: "malformed token response: bad token.expires_at"}
	}
	return cachedToken{value: secret.New(t), expires: exp}, nil
}

func (p *Provider) scope() map[string]any {
	if p.prof.ProjectName != "" {
		return map[string]any{"project": map[string]string{"name": p.prof.ProjectName}}
	}
	if p.prof.DomainName != "" {
		return map[string]any{"domain": map[string]string{"name": p.prof.DomainName}}
	}
	return nil
}

// postJSON sends a JSON body and wipes it afterwards (it may hold a password
// or an ID token).
func (p *Provider) postJSON(ctx context.Context, op, path string, v any, hdr map[string]string) (*response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: err}
	}
	defer clear(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url(path), bytes.NewReader(body))
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "iam_endpoint", Err: err}
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(p.client, req, op)
}

func (p *Provider) loginPassword(ctx context.Context) (cachedToken, error) {
	const op = "auth/tokens (password)"
	e, err := p.key(ctx, KindPassword)
	if err != nil {
		return cachedToken{}, err
	}
	defer e.Zero()
	auth := map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name":     e.Field("username").Reveal(),
				"password": e.Field("password").Reveal(),
				"domain":   map[string]string{"name": p.prof.DomainName},
			}},
		},
	}
	if s := p.scope(); s != nil {
		auth["scope"] = s
	}
	r, err := p.postJSON(ctx, op, "/v3/auth/tokens?nocatalog=true", map[string]any{"auth": auth}, nil)
	if err != nil {
		return cachedToken{}, err
	}
	t, err := readToken(op, r)
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Class == providers.BadCredentials {
		pe.Message += fmt.Sprintf(" (key %q)", p.prof.Key)
	}
	return t, err
}

func (p *Provider) loginFederation(ctx context.Context) (cachedToken, error) {
	const op = "federation auth"
	r, err := p.ecpLogin(ctx, op, p.ecpTokenURL())
	if err != nil {
		return cachedToken{}, err
	}
	return readToken(op, r)
}

func (p *Provider) loginOIDC(ctx context.Context) (cachedToken, error) {
	const op = "id-token/tokens"
	// Re-read every time: whatever writes the file rotates the JWT.
	jwt, err := readIDToken(p.prof.IDTokenFile)
	if err != nil {
		return cachedToken{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "id_token_file", Err: err}
	}
	defer jwt.Zero()
	providers.NoteSecret(ctx, jwt)
	auth := map[string]any{"id_token": map[string]string{"id": jwt.Reveal()}}
	if s := p.scope(); s != nil {
		auth["scope"] = s
	}
	r, err := p.postJSON(ctx, op, "/v3.0/OS-AUTH/id-token/tokens", map[string]any{"auth": auth}, map[string]string{"X-Idp-Id": p.prof.IdpID})
	if err != nil {
		return cachedToken{}, err
	}
	return readToken(op, r)
}

func readIDToken(path string) (secret.Value, error) {
	f, err := os.Open(path)
	if err != nil {
		return secret.Value{}, fmt.Errorf("read id_token_file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIDToken+1))
	if err != nil {
		return secret.Value{}, fmt.Errorf("read id_token_file %s: %w", path, err)
	}
	if len(b) > maxIDToken {
		clear(b)
		return secret.Value{}, fmt.Errorf("read id_token_file %s: larger than %d bytes", path, maxIDToken)
	}
	t := strings.TrimSpace(string(b))
	clear(b)
	if t == "" {
		return secret.Value{}, fmt.Errorf("read id_token_file %s: empty", path)
	}
	return secret.New(t), nil
}

// fetchAssumeRole is method "assume_role", signed with the profile's AK/SK.
func (p *Provider) fetchAssumeRole(ctx context.Context) (providers.Credential, error) {
	const op = "securitytokens (assume_role)"
	e, err := p.key(ctx, KindAKSK)
	if err != nil {
		return providers.Credential{}, err
	}
	defer e.Zero()
	ar := map[string]any{"agency_name": p.prof.AgencyName, "duration_seconds": p.durationSeconds()}
	if p.prof.DomainName != "" {
		ar["domain_name"] = p.prof.DomainName
	} else {
		ar["domain_id"] = p.prof.DomainID
	}
	if p.prof.SessionUser != "" {
		ar["session_user"] = map[string]string{"name": p.prof.SessionUser}
	}
	identity := map[string]any{"methods": []string{"assume_role"}, "assume_role": ar}
	if p.policy != nil {
		identity["policy"] = p.policy
	}
	body, err := json.Marshal(map[string]any{"auth": map[string]any{"identity": identity}})
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url(securityTokensPath), bytes.NewReader(body))
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "iam_endpoint", Err: err}
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	s := signer.Signer{AccessKey: e.Field("access_key").Reveal(), SecretKey: e.Field("secret_key"), Now: p.now}
	if err := s.Sign(req, body); err != nil {
		return providers.Credential{}, &providers.Error{Provider: "huawei", Op: op, Class: providers.MissingKey, Err: err}
	}
	r, err := do(p.client, req, op)
	if err != nil {
		return providers.Credential{}, err
	}
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		pe := apiError(op, r.status, r.body, "agency_name")
		if pe.Class == providers.BadCredentials {
			pe.Message += fmt.Sprintf(" (key %q)", p.prof.Key)
		}
		return providers.Credential{}, pe
	}
	return parseCredential(op, r.body)
}

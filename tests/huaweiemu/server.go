// Package huaweiemu emulates the parts of Huawei Cloud IAM that credd uses,
// and says no the way IAM does: it verifies SDK-HMAC-SHA256 signatures
// exactly, rejects stale X-Sdk-Date values, checks durations, passwords,
// tokens and agencies, plays the SAML service provider for ECP (tracked
// AuthnRequest IDs and RelayStates, assertions consumed once), and answers
// with IAM's real error shapes. Faults (throttling, 5xx, malformed bodies,
// delays, outages, auth failures, clock skew) can be injected, and every
// endpoint counts its calls.
//
// Serve it with httptest.NewServer(huaweiemu.New(huaweiemu.Options{})).
package huaweiemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"
	"time"
)

// Endpoint names used by Calls.
const (
	EPTokens         = "tokens"         // POST /v3/auth/tokens
	EPIDToken        = "id_token"       // POST /v3.0/OS-AUTH/id-token/tokens
	EPSecurityTokens = "securitytokens" // POST /v3.0/OS-CREDENTIAL/securitytokens
	EPECPCredential  = "ecp_credential" // GET /v3-ext/OS-FEDERATION/.../credential
	EPECPAuth        = "ecp_auth"       // GET|POST /v3/OS-FEDERATION/.../auth
	EPECPConsume     = "ecp_consume"    // POST ConsumerPath
	EPCheck          = "check"          // GET CheckPath
)

const (
	// ConsumerPath is the SP's ECP assertion consumer service.
	ConsumerPath = "/Shibboleth.sso/SAML2/ECP"
	// CheckPath accepts only requests signed with an issued temporary AK/SK
	// and its X-Security-Token.
	CheckPath = "/v3/check"
	// SPEntityID is the SP's SAML entity ID (the assertion's Audience).
	SPEntityID = "https://auth.huaweicloud.com/"
	// ExpiresFormat is IAM's expires_at layout (microseconds, UTC).
	ExpiresFormat = "2006-01-02T15:04:05.000000Z"
	// MaxSkew is how far X-Sdk-Date may be from the emulator's clock.
	MaxSkew = 15 * time.Minute
)

// Options configure a Server.
type Options struct {
	Now      func() time.Time // nil means time.Now
	TokenTTL time.Duration    // lifetime of IAM tokens; 0 means 24 h
}

// FaultKind names an injectable failure.
type FaultKind int

// Fault kinds.
const (
	FaultNone        FaultKind = iota
	FaultThrottle              // 429 APIGW.0308
	FaultServerError           // 500 IAM.0006
	FaultMalformed             // 201 with a body that is not JSON
	FaultDelay                 // wait Delay, then answer normally
	FaultOutage                // close the connection without answering
	FaultAuthFailure           // 401 APIGW.0301
	FaultClockSkew             // 401 APIGW.0303, request expired
)

// Fault is injected into the next Count IAM requests (every request when
// Count <= 0, until SetFault(Fault{})). The check endpoint is never faulted.
type Fault struct {
	Kind  FaultKind
	Count int
	Delay time.Duration
}

type user struct{ domain, name, password string }

type akskEntry struct{ sk, domain string }

type samlIdP struct{ entityID, protocol, domain string }

type token struct {
	domain, user string
	expires      time.Time
}

type tempCred struct {
	sk, securityToken string
	domain, user      string
	expires           time.Time
}

// Server is the emulator. It is an http.Handler and safe for concurrent use.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex           // guards everything below
	users    map[string]user      // domain + "\x00" + name
	aksk     map[string]akskEntry // AK -> SK, domain
	agencies map[string]bool      // domain + "\x00" + agency
	oidc     map[string]func(string) bool
	saml     map[string]samlIdP // idp ID
	tokens   map[string]token
	temps    map[string]tempCred // temporary AK -> credential
	pending  map[string]*pendingAuthn
	sessions map[string]*session
	calls    map[string]int
	faults   []string // SOAP faults received at the consumer
	fault    Fault
}

// New returns an emulator with no users, keys or identity providers.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	s := &Server{
		opts:     opts,
		users:    map[string]user{},
		aksk:     map[string]akskEntry{},
		agencies: map[string]bool{},
		oidc:     map[string]func(string) bool{},
		saml:     map[string]samlIdP{},
		tokens:   map[string]token{},
		temps:    map[string]tempCred{},
		pending:  map[string]*pendingAuthn{},
		sessions: map[string]*session{},
		calls:    map[string]int{},
	}
	m := http.NewServeMux()
	m.HandleFunc("POST /v3/auth/tokens", s.faulted(EPTokens, s.handleTokens))
	m.HandleFunc("POST /v3.0/OS-AUTH/id-token/tokens", s.faulted(EPIDToken, s.handleIDToken))
	m.HandleFunc("POST /v3.0/OS-CREDENTIAL/securitytokens", s.faulted(EPSecurityTokens, s.handleSecurityTokens))
	m.HandleFunc("GET /v3-ext/OS-FEDERATION/identity_providers/{idp}/protocols/{proto}/credential", s.faulted(EPECPCredential, s.handleECPStart(kindCredential)))
	m.HandleFunc("GET /v3/OS-FEDERATION/identity_providers/{idp}/protocols/{proto}/auth", s.faulted(EPECPAuth, s.handleECPStart(kindToken)))
	m.HandleFunc("POST /v3/OS-FEDERATION/identity_providers/{idp}/protocols/{proto}/auth", s.faulted(EPECPAuth, s.handleECPStart(kindToken)))
	m.HandleFunc("POST "+ConsumerPath, s.faulted(EPECPConsume, s.handleConsume))
	m.HandleFunc("GET "+CheckPath, s.count(EPCheck, s.handleCheck))
	s.mux = m
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func key(a, b string) string { return a + "\x00" + b }

// AddUser creates an IAM user in domain (the account name).
func (s *Server) AddUser(domain, name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[key(domain, name)] = user{domain, name, password}
}

// AddAKSK registers a permanent access key of domain.
func (s *Server) AddAKSK(ak, sk, domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aksk[ak] = akskEntry{sk, domain}
}

// AddAgency creates an agency that keys of any domain may assume when they
// name domain and agencyName.
func (s *Server) AddAgency(domain, agencyName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agencies[key(domain, agencyName)] = true
}

// AddOIDC registers an OpenID Connect identity provider; valid decides which
// ID tokens it accepts.
func (s *Server) AddOIDC(idpID string, valid func(jwt string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidc[idpID] = valid
}

// AddSAMLIdP registers a SAML identity provider: its ID in URLs, the
// protocol ID it is reachable through, its entity ID (the assertions'
// Issuer) and the account its federated users belong to.
func (s *Server) AddSAMLIdP(idpID, protocolID, entityID, domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saml[idpID] = samlIdP{entityID: entityID, protocol: protocolID, domain: domain}
}

// ExpireTokens revokes every IAM token issued so far, as a password change
// or token revocation would.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetFault injects f; Fault{} clears it.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Calls returns the number of requests each endpoint received (EP* names).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Faults returns the fault strings of SOAP faults the consumer received.
func (s *Server) Faults() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.faults...)
}

// Temporary reports whether ak is an issued temporary access key, and its
// security token.
func (s *Server) Temporary(ak string) (securityToken string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.temps[ak]
	return c.securityToken, ok
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

func (s *Server) count(ep string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[ep]++
		s.mu.Unlock()
		h(w, r)
	}
}

// faulted counts the call and applies any injected fault before h.
func (s *Server) faulted(ep string, h http.HandlerFunc) http.HandlerFunc {
	return s.count(ep, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f := s.fault
		if f.Kind != FaultNone && f.Count > 0 {
			s.fault.Count--
			if s.fault.Count == 0 {
				s.fault = Fault{}
			}
		}
		s.mu.Unlock()
		switch f.Kind {
		case FaultThrottle:
			gatewayError(w, http.StatusTooManyRequests, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute")
			return
		case FaultServerError:
			iamError(w, http.StatusInternalServerError, "IAM.0006", "An unexpected error prevented the server from fulfilling your request.")
			return
		case FaultMalformed:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"credential":{"access":`)
			return
		case FaultDelay:
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		case FaultOutage:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case FaultAuthFailure:
			gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail")
			return
		case FaultClockSkew:
			gatewayError(w, http.StatusUnauthorized, "APIGW.0303", "Incorrect IAM authentication information: the request has expired, X-Sdk-Date is out of range")
			return
		}
		h(w, r)
	})
}

// iamError writes IAM's {"error_msg","error_code"} shape.
func iamError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error_msg": msg, "error_code": code})
}

// keystoneError writes the Keystone {"error":{"code","message","title"}} shape.
func keystoneError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "title": http.StatusText(status)}})
}

// gatewayError writes the API gateway's shape, which adds a request_id.
func gatewayError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error_msg": msg, "error_code": code, "request_id": randHex(16)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newToken mimics the shape of IAM's PKI tokens: long, base64-ish.
func newToken() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return "MIIE" + base64.RawURLEncoding.EncodeToString(b)
}

// issueTemp records and returns a temporary credential body.
func (s *Server) issueTemp(domain, userName string, d time.Duration) map[string]any {
	ak := "HST" + fmt.Sprintf("%X", randBytes(8))
	c := tempCred{
		sk:            randHex(20),
		securityToken: "gQpjbi1ub3J0aC00" + base64.RawURLEncoding.EncodeToString(randBytes(64)),
		domain:        domain,
		user:          userName,
		expires:       s.now().Add(d),
	}
	s.mu.Lock()
	s.temps[ak] = c
	s.mu.Unlock()
	return map[string]any{"credential": map[string]string{
		"access":        ak,
		"secret":        c.sk,
		"securitytoken": c.securityToken,
		"expires_at":    c.expires.Format(ExpiresFormat),
	}}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

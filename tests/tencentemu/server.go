// Package tencentemu emulates the parts of Tencent Cloud STS that credd uses,
// and says no the way STS does. API 3.0 requests (POST JSON with X-TC-*
// headers) have their TC3-HMAC-SHA256 signature recomputed from the request
// as received; stale timestamps, unknown SecretIds, wrong session tokens and
// bad parameters get Tencent's real error codes in Tencent's error body. The
// legacy v2 endpoint (/v2/index.php) verifies HmacSHA1 and HmacSHA256
// signatures and answers in the v2 shape. Issued temporary credentials are
// remembered, so GetCallerIdentity can prove that a client really holds them.
// Faults (throttling, 5xx, malformed bodies, delays, outages, auth failures,
// clock skew, invalid parameters) can be injected, and calls are counted.
//
// Serve it with httptest.NewServer(tencentemu.New(tencentemu.Options{})).
package tencentemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// APIVersion is the only X-TC-Version the STS API 3.0 accepts.
const APIVersion = "2018-08-13"

// V2Path is where the legacy API is served.
const V2Path = "/v2/index.php"

// Actions the emulator implements.
const (
	ActionGetFederationToken        = "GetFederationToken"
	ActionAssumeRole                = "AssumeRole"
	ActionAssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity"
	ActionGetCallerIdentity         = "GetCallerIdentity"
)

// Options configure a Server. Zero values take Tencent's documented limits.
type Options struct {
	Now func() time.Time // nil means time.Now

	// MaxSkew is how far X-TC-Timestamp (or v2 Timestamp) may be from Now;
	// 0 means 300 s, as Tencent documents.
	MaxSkew time.Duration
	// RootMaxDuration caps GetFederationToken for root keys (0: 7200 s);
	// SubMaxDuration for sub-account keys (0: 129600 s);
	// RoleMaxDuration caps AssumeRole* (0: 43200 s).
	RootMaxDuration time.Duration
	SubMaxDuration  time.Duration
	RoleMaxDuration time.Duration
	// MaxPolicyBytes bounds a decoded policy (0: 4096, the documented
	// ceiling of a token, which grows with the policy).
	MaxPolicyBytes int
	// AccountID is the owner uin of every key (0: 100012345678).
	AccountID string
}

// FaultKind names an injectable failure.
type FaultKind int

// Fault kinds.
const (
	// Throttle answers RequestLimitExceeded (v2: code 4400).
	Throttle FaultKind = iota + 1
	// ServerError answers HTTP 502 and 500, alternately, with an HTML body.
	ServerError
	// Malformed answers a success body truncated in the middle of the token.
	Malformed
	// Delay sleeps Fault.Delay (bounded by the request's context), then
	// answers normally.
	Delay
	// Outage closes the connection without answering.
	Outage
	// AuthFailure answers AuthFailure.SecretIdNotFound (v2: code 4100).
	AuthFailure
	// ClockSkew answers AuthFailure.SignatureExpire (v2: code 4200).
	ClockSkew
	// InvalidParameter answers InvalidParameter.StrategyFormatError about
	// the policy (v2: code 4000).
	InvalidParameter
)

func (k FaultKind) String() string {
	switch k {
	case Throttle:
		return "throttle"
	case ServerError:
		return "server-error"
	case Malformed:
		return "malformed"
	case Delay:
		return "delay"
	case Outage:
		return "outage"
	case AuthFailure:
		return "auth-failure"
	case ClockSkew:
		return "clock-skew"
	case InvalidParameter:
		return "invalid-parameter"
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault is an injected failure.
type Fault struct {
	Kind   FaultKind
	Count  int           // how many requests it hits; 0 means until cleared
	Delay  time.Duration // for Delay
	Action string        // only requests for this action; "" means all
}

// Request is what the emulator saw of an accepted-for-processing call, for
// assertions. Params hold the API parameters as strings, exactly as sent
// (the policy still URL-encoded where the client encoded it).
type Request struct {
	Action     string
	APIVersion int    // 3 or 2
	Region     string // X-TC-Region or v2 Region
	SecretID   string // "" for unsigned calls
	Token      string // X-TC-Token, if any
	Params     map[string]string
	// Policy is the policy after URL-decoding, when one was sent.
	Policy string
}

type key struct {
	secret string
	root   bool
	uin    string
}

// temp is an issued temporary credential.
type temp struct {
	secret  string
	token   string
	expires time.Time
	arn     string
	userID  string
	kind    string
	owner   string
}

type idp struct {
	valid func(string) bool
}

// Server is the emulator. Its methods are safe for concurrent use with
// requests.
type Server struct {
	opts Options

	calls atomic.Int64

	// mu guards everything below.
	mu        sync.Mutex
	callsFor  map[string]int64
	keys      map[string]key
	temps     map[string]temp
	roles     map[string]bool
	idps      map[string]idp
	fault     *Fault
	faultHits int
	tokenFunc func(n int) string
	issued    int
	v2Token   string
	last      map[string]Request
	nextUIN   int
}

// New returns an emulator with no keys.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 300 * time.Second
	}
	if opts.RootMaxDuration == 0 {
		opts.RootMaxDuration = 7200 * time.Second
	}
	if opts.SubMaxDuration == 0 {
		opts.SubMaxDuration = 129600 * time.Second
	}
	if opts.RoleMaxDuration == 0 {
		opts.RoleMaxDuration = 43200 * time.Second
	}
	if opts.MaxPolicyBytes == 0 {
		opts.MaxPolicyBytes = 4096
	}
	if opts.AccountID == "" {
		opts.AccountID = "100012345678"
	}
	return &Server{
		opts:     opts,
		callsFor: map[string]int64{},
		keys:     map[string]key{},
		temps:    map[string]temp{},
		roles:    map[string]bool{},
		idps:     map[string]idp{},
		last:     map[string]Request{},
		v2Token:  "sessionToken",
		nextUIN:  100098765400,
	}
}

// AddKey makes a permanent key known. root keys belong to the account owner
// (GetFederationToken capped at 7200 s); others to a sub-account.
func (s *Server) AddKey(secretID, secretKey string, root bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uin := s.opts.AccountID
	if !root {
		s.nextUIN++
		uin = strconv.Itoa(s.nextUIN)
	}
	s.keys[secretID] = key{secret: secretKey, root: root, uin: uin}
}

// RemoveKey forgets a permanent key, as deleting it in the console would.
func (s *Server) RemoveKey(secretID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, secretID)
}

// AddRole makes a role ARN assumable.
func (s *Server) AddRole(roleArn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleArn] = true
}

// AddWebIdentityProvider registers an OIDC provider; valid decides which
// web identity tokens it accepts.
func (s *Server) AddWebIdentityProvider(providerID string, valid func(token string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idps[providerID] = idp{valid: valid}
}

// Calls returns how many STS calls were received, of every action and both
// API versions, counted before any verification.
func (s *Server) Calls() int64 { return s.calls.Load() }

// CallsFor returns how many calls of one action were received.
func (s *Server) CallsFor(action string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsFor[action]
}

// SetFault injects a failure until cleared or f.Count requests were hit.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = &f
	s.faultHits = 0
}

// ClearFault removes the injected failure.
func (s *Server) ClearFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = nil
}

// SetTokenFunc sets how session tokens are made; n counts issued
// credentials from 1. nil restores the default.
func (s *Server) SetTokenFunc(f func(n int) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFunc = f
}

// SetV2TokenKey chooses the JSON key of the v2 session token: "sessionToken"
// (the default) or "token", the older spelling.
func (s *Server) SetV2TokenKey(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v2Token = k
}

// LastRequest returns the last request of an action that got past the
// protocol checks (whether or not it then succeeded).
func (s *Server) LastRequest(action string) (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.last[action]
	if ok {
		r.Params = maps.Clone(r.Params)
	}
	return r, ok
}

// Expire makes an issued temporary credential expire now.
func (s *Server) Expire(tmpSecretID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.temps[tmpSecretID]; ok {
		t.expires = s.opts.Now().Add(-time.Second)
		s.temps[tmpSecretID] = t
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	w.Header().Set("Date", s.opts.Now().UTC().Format(http.TimeFormat))
	if r.URL.Path == V2Path {
		s.serveV2(w, r)
		return
	}
	s.serveV3(w, r)
}

func (s *Server) count(action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callsFor[action]++
}

// takeFault returns the fault that hits a request for action, if any.
func (s *Server) takeFault(action string) (Fault, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault
	if f == nil || (f.Action != "" && f.Action != action) {
		return Fault{}, 0, false
	}
	s.faultHits++
	n := s.faultHits
	if f.Count > 0 && s.faultHits >= f.Count {
		s.fault = nil
	}
	return *f, n, true
}

// injectCommon plays the faults whose shape does not depend on the API
// version. It reports whether the request was answered.
func (s *Server) injectCommon(w http.ResponseWriter, r *http.Request, f Fault, hit int) bool {
	switch f.Kind {
	case Delay:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
		return false
	case Outage:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case ServerError:
		code := http.StatusBadGateway
		if hit%2 == 0 {
			code = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", code, http.StatusText(code))
		return true
	}
	return false
}

// mint issues a temporary credential and remembers it.
func (s *Server) mint(d time.Duration, arn, userID, kind, owner string) (id string, t temp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued++
	tok := defaultToken(s.issued)
	if s.tokenFunc != nil {
		tok = s.tokenFunc(s.issued)
	}
	id = "AKID" + randAlnum(32)
	t = temp{
		secret:  randAlnum(32),
		token:   tok,
		expires: s.opts.Now().Add(d).Truncate(time.Second),
		arn:     arn,
		userID:  userID,
		kind:    kind,
		owner:   owner,
	}
	s.temps[id] = t
	return id, t
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[r.Action] = r
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randAlnum(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// defaultToken looks like a real token: long and opaque.
func defaultToken(n int) string {
	return fmt.Sprintf("tok%d_%s", n, randAlnum(180))
}

// HostileToken returns a token full of bytes that break careless quoting:
// both quotes, $() and ${}, backticks, backslashes, !, %, spaces, a tab,
// #, ;, &, |, <, >, *, ?, ~, and non-ASCII text. It has no NUL, CR or LF:
// tokens travel in the X-TC-Token header, where those bytes cannot appear,
// so a real token never holds them. n makes each token distinct.
func HostileToken(n int) string {
	return fmt.Sprintf(`tok%d 'sq' "dq" $(id) ${HOME} `+"`uname`"+` back\slash\\ bang! 100%% %%s	tab #hash ;semi &amp |pipe <lt >gt *? ~ é ü 中文 ✓ $'x' end\`, n) + randAlnum(64)
}

// writeJSON writes v with HTTP 200, as Tencent answers errors too.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(v)
	w.Write(b)
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}

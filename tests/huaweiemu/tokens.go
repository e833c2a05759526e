package huaweiemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/credd-dev/credd/providers/huawei/signer"
)

const maxBody = 1 << 20

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		iamError(w, http.StatusBadRequest, "IAM.0007", "The request body is invalid or too large.")
		return nil, false
	}
	return b, true
}

type scope struct {
	Domain *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"domain"`
	Project *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"project"`
}

func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password *struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
						Domain   struct {
							Name string `json:"name"`
						} `json:"domain"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope *scope `json:"scope"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		keystoneError(w, http.StatusBadRequest, "The request body is not valid JSON.")
		return
	}
	id := req.Auth.Identity
	if !slices.Contains(id.Methods, "password") || id.Password == nil {
		keystoneError(w, http.StatusBadRequest, "Invalid input for field 'identity': 'password' method required.")
		return
	}
	u := id.Password.User
	s.mu.Lock()
	known, exists := s.users[key(u.Domain.Name, u.Name)]
	s.mu.Unlock()
	if !exists || known.password != u.Password {
		keystoneError(w, http.StatusUnauthorized, "The username or password is wrong.")
		return
	}
	if sc := req.Auth.Scope; sc != nil && sc.Domain != nil && sc.Domain.Name != "" && sc.Domain.Name != u.Domain.Name {
		keystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	s.writeToken(w, u.Domain.Name, u.Name, "password")
}

func (s *Server) writeToken(w http.ResponseWriter, domain, userName, method string) {
	t := newToken()
	now := s.now()
	exp := now.Add(s.opts.TokenTTL)
	s.mu.Lock()
	s.tokens[t] = token{domain: domain, user: userName, expires: exp}
	s.mu.Unlock()
	w.Header().Set("X-Subject-Token", t)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"expires_at": exp.Format(ExpiresFormat),
		"issued_at":  now.Format(ExpiresFormat),
		"methods":    []string{method},
		"user":       map[string]any{"name": userName, "domain": map[string]string{"name": domain}},
	}})
}

func (s *Server) handleIDToken(w http.ResponseWriter, r *http.Request) {
	idp := r.Header.Get("X-Idp-Id")
	if idp == "" {
		iamError(w, http.StatusBadRequest, "IAM.0007", "Request parameter X-Idp-Id is invalid.")
		return
	}
	s.mu.Lock()
	valid := s.oidc[idp]
	s.mu.Unlock()
	if valid == nil {
		iamError(w, http.StatusNotFound, "IAM.0004", fmt.Sprintf("Could not find identity provider: %s.", idp))
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Auth struct {
			IDToken struct {
				ID string `json:"id"`
			} `json:"id_token"`
			Scope *scope `json:"scope"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Auth.IDToken.ID == "" {
		iamError(w, http.StatusBadRequest, "IAM.0007", "Request parameter id_token is invalid.")
		return
	}
	if !valid(req.Auth.IDToken.ID) {
		iamError(w, http.StatusUnauthorized, "IAM.0001", "The id_token is invalid or has expired.")
		return
	}
	s.writeToken(w, "oidc-"+idp, "oidc-user", "mapped")
}

// duration accepts duration_seconds as a number or a numeric string, as IAM does.
func duration(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 {
		return 900, true
	}
	var n json.Number
	if raw[0] == '"' {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			return 0, false
		}
		n = json.Number(str)
	} else if json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	v, err := strconv.Atoi(n.String())
	return v, err == nil
}

func (s *Server) handleSecurityTokens(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Auth struct {
			Identity struct {
				Methods []string `json:"methods"`
				Token   *struct {
					ID       string          `json:"id"`
					Duration json.RawMessage `json:"duration_seconds"`
				} `json:"token"`
				AssumeRole *struct {
					DomainName  string          `json:"domain_name"`
					DomainID    string          `json:"domain_id"`
					AgencyName  string          `json:"agency_name"`
					Duration    json.RawMessage `json:"duration_seconds"`
					SessionUser *struct {
						Name string `json:"name"`
					} `json:"session_user"`
				} `json:"assume_role"`
				Policy json.RawMessage `json:"policy"`
			} `json:"identity"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		keystoneError(w, http.StatusBadRequest, "The request body is not valid JSON.")
		return
	}
	id := req.Auth.Identity
	if len(id.Policy) > 0 {
		var p struct {
			Version   string            `json:"Version"`
			Statement []json.RawMessage `json:"Statement"`
		}
		if json.Unmarshal(id.Policy, &p) != nil || p.Version == "" || len(p.Statement) == 0 {
			keystoneError(w, http.StatusBadRequest, "Invalid input for field 'policy'.")
			return
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, id.Policy)
		if compact.Len() > 2048 {
			keystoneError(w, http.StatusBadRequest, "Invalid input for field 'policy': the policy exceeds 2048 characters.")
			return
		}
	}
	switch {
	case slices.Equal(id.Methods, []string{"token"}):
		hdr := r.Header.Get("X-Auth-Token")
		if hdr == "" && id.Token != nil {
			hdr = id.Token.ID
		}
		if hdr == "" {
			gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: x-auth-token not found")
			return
		}
		if id.Token != nil && id.Token.ID != "" && id.Token.ID != hdr {
			keystoneError(w, http.StatusBadRequest, "Invalid input for field 'token': the token in the body does not match X-Auth-Token.")
			return
		}
		s.mu.Lock()
		t, ok := s.tokens[hdr]
		s.mu.Unlock()
		if !ok {
			gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail")
			return
		}
		if !s.now().Before(t.expires) {
			gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: token expires, expires_at: "+t.expires.Format(ExpiresFormat))
			return
		}
		var raw json.RawMessage
		if id.Token != nil {
			raw = id.Token.Duration
		}
		d, ok := checkDuration(w, raw)
		if !ok {
			return
		}
		writeJSON(w, http.StatusCreated, s.issueTemp(t.domain, t.user, d))
	case slices.Equal(id.Methods, []string{"assume_role"}) && id.AssumeRole != nil:
		caller, ok := s.verifyPermanent(w, r, body)
		if !ok {
			return
		}
		ar := id.AssumeRole
		domain := ar.DomainName
		if domain == "" {
			domain = ar.DomainID
		}
		if domain == "" || ar.AgencyName == "" {
			keystoneError(w, http.StatusBadRequest, "Invalid input for field 'assume_role': domain_name or domain_id, and agency_name are required.")
			return
		}
		if ar.SessionUser != nil && (len(ar.SessionUser.Name) < 2 || len(ar.SessionUser.Name) > 64) {
			keystoneError(w, http.StatusBadRequest, "Invalid input for field 'session_user.name'.")
			return
		}
		s.mu.Lock()
		exists := s.agencies[key(domain, ar.AgencyName)]
		s.mu.Unlock()
		if !exists {
			iamError(w, http.StatusNotFound, "IAM.0004", fmt.Sprintf("Could not find agency: %s.", ar.AgencyName))
			return
		}
		d, ok := checkDuration(w, ar.Duration)
		if !ok {
			return
		}
		name := caller + "/" + ar.AgencyName
		if ar.SessionUser != nil {
			name = ar.SessionUser.Name
		}
		writeJSON(w, http.StatusCreated, s.issueTemp(domain, name, d))
	default:
		keystoneError(w, http.StatusBadRequest, "Invalid input for field 'methods'.")
	}
}

func checkDuration(w http.ResponseWriter, raw json.RawMessage) (time.Duration, bool) {
	n, ok := duration(raw)
	if !ok || n < 900 || n > 86400 {
		keystoneError(w, http.StatusBadRequest, fmt.Sprintf("Invalid input for field 'duration_seconds'. The value is '%s'; it must be between 900 and 86400.", raw))
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// verifySigned checks an SDK-HMAC-SHA256 signature against the SK that
// lookup returns for the request's AK, and the signing time against the
// emulator's clock.
func (s *Server) verifySigned(w http.ResponseWriter, r *http.Request, body []byte, lookup func(ak string) (string, bool)) (signer.Authorization, bool) {
	a, err := signer.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: "+err.Error())
		return a, false
	}
	sk, ok := lookup(a.Access)
	if !ok {
		gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: ak "+a.Access+" not exist")
		return a, false
	}
	_, t, err := signer.Verify(r, body, []byte(sk))
	if err != nil {
		gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail")
		return a, false
	}
	if skew := s.now().Sub(t); skew > MaxSkew || skew < -MaxSkew {
		gatewayError(w, http.StatusUnauthorized, "APIGW.0303", "Incorrect IAM authentication information: the request has expired, X-Sdk-Date "+r.Header.Get(signer.DateHeader)+" is out of range")
		return a, false
	}
	return a, true
}

func (s *Server) verifyPermanent(w http.ResponseWriter, r *http.Request, body []byte) (string, bool) {
	a, ok := s.verifySigned(w, r, body, func(ak string) (string, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		e, ok := s.aksk[ak]
		return e.sk, ok
	})
	return a.Access, ok
}

func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var c tempCred
	a, ok := s.verifySigned(w, r, body, func(ak string) (string, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var found bool
		c, found = s.temps[ak]
		return c.sk, found
	})
	if !ok {
		return
	}
	if !slices.Contains(a.SignedHeaders, "x-security-token") || r.Header.Get(signer.SecurityTokenHeader) != c.securityToken {
		gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: security token mismatch or unsigned")
		return
	}
	if !s.now().Before(c.expires) {
		gatewayError(w, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: the security token has expired")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access": a.Access, "domain": c.domain, "user": c.user})
}

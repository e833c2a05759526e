package tencentemu

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiError is an API 3.0 error: Tencent answers it with HTTP 200 as
// {"Response":{"Error":{"Code","Message"},"RequestId"}}.
type apiError struct {
	Code    string
	Message string
}

func errf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeV3Error(w http.ResponseWriter, e *apiError) {
	writeJSON(w, map[string]any{"Response": map[string]any{
		"Error":     map[string]string{"Code": e.Code, "Message": e.Message},
		"RequestId": requestID(),
	}})
}

// Messages as the service words them.
const (
	msgSignatureFailure = "The provided credentials could not be validated. Please check your signature is correct."
	msgSecretIDNotFound = "The SecretId is not found, please ensure that your SecretId is correct."
	msgSignatureExpire  = "Signature expired. Timestamp and server time cannot differ by more than five minutes. Please ensure your current local time matches the standard time."
	msgRequestLimit     = "Your current request times equals to `601` in a second, which exceeds the frequency limit `600` for a second. Please reduce the frequency of calls."
)

// caller is who signed a request.
type caller struct {
	secretID string
	perm     *key  // a permanent key
	tmp      *temp // an issued temporary key
}

func (s *Server) serveV3(w http.ResponseWriter, r *http.Request) {
	action := r.Header.Get("X-TC-Action")
	s.count(action)
	body, err := readBody(r)
	if err != nil {
		writeV3Error(w, errf("InternalError", "read request body: %v", err))
		return
	}
	if f, hit, ok := s.takeFault(action); ok {
		if s.injectCommon(w, r, f, hit) {
			return
		}
		if e, done := s.v3Fault(w, f); done {
			if e != nil {
				writeV3Error(w, e)
			}
			return
		}
	}
	res, e := s.handleV3(r, action, body)
	if e != nil {
		writeV3Error(w, e)
		return
	}
	res["RequestId"] = requestID()
	writeJSON(w, map[string]any{"Response": res})
}

// v3Fault answers with a fault's error, or writes its own answer
// (Malformed); done is false when the fault lets the request through.
func (s *Server) v3Fault(w http.ResponseWriter, f Fault) (e *apiError, done bool) {
	switch f.Kind {
	case Throttle:
		return errf("RequestLimitExceeded", msgRequestLimit), true
	case AuthFailure:
		return errf("AuthFailure.SecretIdNotFound", msgSecretIDNotFound), true
	case ClockSkew:
		return errf("AuthFailure.SignatureExpire", msgSignatureExpire), true
	case InvalidParameter:
		return errf("InvalidParameter.StrategyFormatError", "The Policy syntax is invalid."), true
	case Malformed:
		// A real token is minted and the body cut off after it, so a client
		// that echoes the body it failed to parse leaks the token.
		_, t := s.mint(time.Hour, "", "", "", "")
		body := `{"Response":{"Credentials":{"Token":"` + jsonInner(t.token) + `","TmpSecretKey":"` + t.secret
		writeTruncated(w, body[:len(body)-5])
		return nil, true
	}
	return nil, false
}

// writeTruncated answers 200 with a complete HTTP response whose JSON body
// is cut short.
func writeTruncated(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write([]byte(body))
}

func jsonInner(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func (s *Server) handleV3(r *http.Request, action string, body []byte) (map[string]any, *apiError) {
	if r.Method != http.MethodPost {
		return nil, errf("UnsupportedProtocol", "The request method %s is not supported; use POST.", r.Method)
	}
	if action == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `Action`.")
	}
	if v := r.Header.Get("X-TC-Version"); v == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `Version`.")
	} else if v != APIVersion {
		return nil, errf("NoSuchVersion", "The requested version `%s` of API `%s` does not exist.", v, action)
	}
	region := r.Header.Get("X-TC-Region")
	if region == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `Region`.")
	}
	switch action {
	case ActionGetFederationToken, ActionAssumeRole, ActionAssumeRoleWithWebIdentity, ActionGetCallerIdentity:
	default:
		return nil, errf("InvalidAction", "The requested action `%s` does not exist.", action)
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return nil, errf("MissingParameter", "The request is missing a required parameter `Timestamp`.")
	}

	var c caller
	unsigned := action == ActionAssumeRoleWithWebIdentity && r.Header.Get("Authorization") == "SKIP"
	if !unsigned {
		var e *apiError
		if c, e = s.verifyTC3(r, body, ts); e != nil {
			return nil, e
		}
	} else if d := s.opts.Now().Sub(time.Unix(ts, 0)); d > s.opts.MaxSkew || -d > s.opts.MaxSkew {
		return nil, errf("AuthFailure.SignatureExpire", msgSignatureExpire)
	}

	params := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&params); err != nil {
			return nil, errf("InvalidParameter", "The request body is not valid JSON.")
		}
	}
	req := Request{Action: action, APIVersion: 3, Region: region, SecretID: c.secretID,
		Token: r.Header.Get("X-TC-Token"), Params: map[string]string{}}
	for k, v := range params {
		switch v := v.(type) {
		case string:
			req.Params[k] = v
		case json.Number:
			req.Params[k] = v.String()
		default:
			b, _ := json.Marshal(v)
			req.Params[k] = string(b)
		}
	}
	if p, ok := req.Params["Policy"]; ok {
		req.Policy = decodePolicy(p)
	}
	s.record(req)

	switch action {
	case ActionGetFederationToken:
		return s.getFederationToken(c, params)
	case ActionAssumeRole:
		return s.assumeRole(c, params)
	case ActionAssumeRoleWithWebIdentity:
		return s.assumeRoleWithWebIdentity(params)
	default:
		return s.getCallerIdentity(c)
	}
}

// verifyTC3 checks the request's TC3-HMAC-SHA256 signature the way the
// gateway does: the header's shape, the clock, the SecretId (and the
// session token of temporary keys), then the signature recomputed from
// the request as received.
func (s *Server) verifyTC3(r *http.Request, body []byte, ts int64) (caller, *apiError) {
	var c caller
	a, err := ParseTC3Authorization(r.Header.Get("Authorization"))
	if err != nil {
		return c, errf("AuthFailure.InvalidAuthorization", "The Authorization header is invalid: %v.", err)
	}
	now := s.opts.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > s.opts.MaxSkew || -d > s.opts.MaxSkew {
		return c, errf("AuthFailure.SignatureExpire", msgSignatureExpire)
	}
	c.secretID = a.SecretID
	var secretKey string
	s.mu.Lock()
	if k, ok := s.keys[a.SecretID]; ok {
		c.perm, secretKey = &k, k.secret
	} else if t, ok := s.temps[a.SecretID]; ok {
		c.tmp, secretKey = &t, t.secret
	}
	s.mu.Unlock()
	switch {
	case c.perm == nil && c.tmp == nil:
		return c, errf("AuthFailure.SecretIdNotFound", msgSecretIDNotFound)
	case c.tmp != nil && r.Header.Get("X-TC-Token") != c.tmp.token:
		return c, errf("AuthFailure.TokenFailure", "The token is invalid or does not match the SecretId.")
	case c.tmp != nil && !now.Before(c.tmp.expires):
		return c, errf("AuthFailure.TokenFailure", "The token has expired.")
	}
	if !slices.Contains(a.SignedHeaders, "content-type") || !slices.Contains(a.SignedHeaders, "host") {
		return c, errf("AuthFailure.SignatureFailure", msgSignatureFailure)
	}
	if a.Date != time.Unix(ts, 0).UTC().Format("2006-01-02") || a.Service != "sts" {
		return c, errf("AuthFailure.SignatureFailure", msgSignatureFailure)
	}
	want := TC3Signature(secretKey, a.Service, ts, TC3CanonicalRequest(r, body, a.SignedHeaders))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature))) {
		return c, errf("AuthFailure.SignatureFailure", msgSignatureFailure)
	}
	return c, nil
}

var (
	nameRE        = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)
	roleArnRE     = regexp.MustCompile(`^qcs::cam::uin/[0-9]+:(roleName|role)/[\w+=,.@-]{1,128}$`)
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,128}$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]{2,128}$`)
)

func str(params map[string]any, k string) (string, bool, *apiError) {
	v, ok := params[k]
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, errf("InvalidParameter", "The parameter `%s` must be a String.", k)
	}
	return s, true, nil
}

// duration reads DurationSeconds: def when absent, an error when it is not
// an integer in [1, max].
func duration(params map[string]any, def, max time.Duration) (time.Duration, *apiError) {
	v, ok := params["DurationSeconds"]
	if !ok {
		return def, nil
	}
	n, isNum := v.(json.Number)
	i, err := n.Int64()
	if !isNum || err != nil {
		return 0, errf("InvalidParameter", "The parameter `DurationSeconds` must be an Integer.")
	}
	if i < 1 {
		return 0, errf("InvalidParameter.ParamError", "DurationSeconds must be positive.")
	}
	if time.Duration(i)*time.Second > max {
		return 0, errf("InvalidParameter.OverTimeError", "DurationSeconds %d exceeds the limit of %d seconds.", i, int64(max/time.Second))
	}
	return time.Duration(i) * time.Second, nil
}

// policyChars are bytes URL-encoding always escapes; a policy holding one
// was sent raw.
const policyChars = "{}[]\":, \n"

func decodePolicy(p string) string {
	d, err := url.QueryUnescape(p)
	if err != nil {
		return ""
	}
	return d
}

// checkPolicy enforces what STS says about Policy: URL-encoded, valid CAM
// JSON with a statement list, no principal element, bounded in size.
func (s *Server) checkPolicy(raw string) *apiError {
	if strings.ContainsAny(raw, policyChars) {
		return errf("InvalidParameter.StrategyFormatError", "The Policy must be URL-encoded.")
	}
	dec, err := url.QueryUnescape(raw)
	if err != nil {
		return errf("InvalidParameter.StrategyFormatError", "The Policy cannot be URL-decoded.")
	}
	if len(dec) > s.opts.MaxPolicyBytes {
		return errf("InvalidParameter.PolicyTooLong", "The Policy is longer than %d bytes.", s.opts.MaxPolicyBytes)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(dec), &doc); err != nil {
		return errf("InvalidParameter.StrategyFormatError", "The Policy is not valid JSON.")
	}
	st, ok := doc["statement"].([]any)
	if !ok || len(st) == 0 {
		return errf("InvalidParameter.StrategyFormatError", "The Policy has no statement.")
	}
	for _, x := range st {
		m, ok := x.(map[string]any)
		if !ok {
			return errf("InvalidParameter.StrategyFormatError", "A Policy statement is not an object.")
		}
		for k := range m {
			if strings.EqualFold(k, "principal") {
				return errf("InvalidParameter.StrategyInvalid", "The Policy must not contain the principal element.")
			}
		}
	}
	return nil
}

func (s *Server) getFederationToken(c caller, params map[string]any) (map[string]any, *apiError) {
	if c.tmp != nil {
		return nil, errf("FailedOperation.TempKeyNotAllowed", "GetFederationToken does not accept temporary credentials.")
	}
	name, ok, e := str(params, "Name")
	if e != nil {
		return nil, e
	}
	if !ok || name == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `Name`.")
	}
	if !nameRE.MatchString(name) {
		return nil, errf("InvalidParameter.ParamError", "The parameter `Name` is invalid.")
	}
	policy, ok, e := str(params, "Policy")
	if e != nil {
		return nil, e
	}
	if !ok || policy == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `Policy`.")
	}
	if e := s.checkPolicy(policy); e != nil {
		return nil, e
	}
	max := s.opts.SubMaxDuration
	if c.perm.root {
		max = s.opts.RootMaxDuration
	}
	d, e := duration(params, 1800*time.Second, max)
	if e != nil {
		return nil, e
	}
	acct := s.opts.AccountID
	id, t := s.mint(d, "qcs::sts:"+acct+":federated-user/"+c.perm.uin+":"+name, c.perm.uin+":"+name, "FederatedUser", c.perm.uin)
	return credentialsBody(id, t), nil
}

func (s *Server) checkRole(params map[string]any) (string, string, *apiError) {
	arn, ok, e := str(params, "RoleArn")
	if e != nil {
		return "", "", e
	}
	if !ok || arn == "" {
		return "", "", errf("MissingParameter", "The request is missing a required parameter `RoleArn`.")
	}
	if !roleArnRE.MatchString(arn) {
		return "", "", errf("InvalidParameter.ParamError", "The parameter `RoleArn` is invalid.")
	}
	sess, ok, e := str(params, "RoleSessionName")
	if e != nil {
		return "", "", e
	}
	if !ok || sess == "" {
		return "", "", errf("MissingParameter", "The request is missing a required parameter `RoleSessionName`.")
	}
	if !sessionNameRE.MatchString(sess) {
		return "", "", errf("InvalidParameter.ParamError", "The parameter `RoleSessionName` is invalid.")
	}
	s.mu.Lock()
	known := s.roles[arn]
	s.mu.Unlock()
	if !known {
		return "", "", errf("ResourceNotFound.RoleNotFound", "The role does not exist.")
	}
	return arn, sess, nil
}

func roleName(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

func (s *Server) assumeRole(_ caller, params map[string]any) (map[string]any, *apiError) {
	arn, sess, e := s.checkRole(params)
	if e != nil {
		return nil, e
	}
	if p, ok, e := str(params, "Policy"); e != nil {
		return nil, e
	} else if ok {
		if e := s.checkPolicy(p); e != nil {
			return nil, e
		}
	}
	if x, ok, e := str(params, "ExternalId"); e != nil {
		return nil, e
	} else if ok && !externalIDRE.MatchString(x) {
		return nil, errf("InvalidParameter.ParamError", "The parameter `ExternalId` is invalid.")
	}
	d, e := duration(params, 7200*time.Second, s.opts.RoleMaxDuration)
	if e != nil {
		return nil, e
	}
	return s.roleCredentials(arn, sess, d), nil
}

func (s *Server) roleCredentials(arn, sess string, d time.Duration) map[string]any {
	// arn is qcs::cam::uin/OWNER:roleName/NAME.
	owner := strings.TrimPrefix(strings.Split(arn, ":")[4], "uin/")
	id, t := s.mint(d, "qcs::sts:"+owner+":assumed-role/"+roleName(arn)+"/"+sess, roleName(arn)+":"+sess, "AssumedRole", owner)
	return credentialsBody(id, t)
}

func (s *Server) assumeRoleWithWebIdentity(params map[string]any) (map[string]any, *apiError) {
	pid, ok, e := str(params, "ProviderId")
	if e != nil {
		return nil, e
	}
	if !ok || pid == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `ProviderId`.")
	}
	tok, ok, e := str(params, "WebIdentityToken")
	if e != nil {
		return nil, e
	}
	if !ok || tok == "" {
		return nil, errf("MissingParameter", "The request is missing a required parameter `WebIdentityToken`.")
	}
	s.mu.Lock()
	p, known := s.idps[pid]
	s.mu.Unlock()
	if !known {
		return nil, errf("InvalidParameter.ParamError", "The identity provider in `ProviderId` does not exist.")
	}
	if p.valid == nil || !p.valid(tok) {
		return nil, errf("InvalidParameter.WebIdentityTokenError", "The WebIdentityToken is invalid or expired.")
	}
	arn, sess, e := s.checkRole(params)
	if e != nil {
		return nil, e
	}
	d, e := duration(params, 7200*time.Second, s.opts.RoleMaxDuration)
	if e != nil {
		return nil, e
	}
	return s.roleCredentials(arn, sess, d), nil
}

func (s *Server) getCallerIdentity(c caller) (map[string]any, *apiError) {
	acct := s.opts.AccountID
	if c.tmp != nil {
		return map[string]any{"Arn": c.tmp.arn, "AccountId": acct, "UserId": c.tmp.userID,
			"PrincipalId": c.tmp.owner, "Type": c.tmp.kind}, nil
	}
	typ := "CAMUser"
	if c.perm.root {
		typ = "RootAccount"
	}
	return map[string]any{"Arn": "qcs::cam::uin/" + acct + ":uin/" + c.perm.uin, "AccountId": acct,
		"UserId": c.perm.uin, "PrincipalId": c.perm.uin, "Type": typ}, nil
}

func credentialsBody(id string, t temp) map[string]any {
	return map[string]any{
		"Credentials": map[string]string{"Token": t.token, "TmpSecretId": id, "TmpSecretKey": t.secret},
		"ExpiredTime": t.expires.Unix(),
		"Expiration":  t.expires.UTC().Format(time.RFC3339),
	}
}

package tencentemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// v2Error is a legacy API error: HTTP 200 with
// {"code":N,"message":"...","codeDesc":"..."}.
type v2Error struct {
	code     int
	codeDesc string
	message  string
}

func writeV2Error(w http.ResponseWriter, e *v2Error) {
	writeJSON(w, map[string]any{"code": e.code, "message": e.message, "codeDesc": e.codeDesc})
}

// V2StringToSign is the legacy string to sign: method + host + path + "?" +
// the parameters (Signature excluded) sorted by name, raw k=v joined by &.
func V2StringToSign(method, host, path string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(method + host + path + "?")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + params[k])
	}
	return b.String()
}

// V2Signature is base64(HMAC(secretKey, stringToSign)) with SHA-256 for
// "HmacSHA256" and SHA-1 otherwise, as the service assumes HmacSHA1 when
// SignatureMethod is absent.
func V2Signature(secretKey, signatureMethod, stringToSign string) string {
	h := sha1.New
	if signatureMethod == "HmacSHA256" {
		h = sha256.New
	}
	return base64.StdEncoding.EncodeToString(v2MAC(h, secretKey, stringToSign))
}

func v2MAC(h func() hash.Hash, k, msg string) []byte {
	m := hmac.New(h, []byte(k))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (s *Server) serveV2(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	action := q.Get("Action")
	s.count(action)
	if f, hit, ok := s.takeFault(action); ok {
		if s.injectCommon(w, r, f, hit) {
			return
		}
		switch f.Kind {
		case Throttle:
			writeV2Error(w, &v2Error{4400, "RequestLimitExceeded", "request limit exceeded"})
			return
		case AuthFailure:
			writeV2Error(w, &v2Error{4100, "AuthFailure.SecretIdNotFound", "secretId not found"})
			return
		case ClockSkew:
			writeV2Error(w, &v2Error{4200, "RequestExpired", "request expired; timestamp differs from server time by more than 300 seconds"})
			return
		case InvalidParameter:
			writeV2Error(w, &v2Error{4000, "InvalidParameter", "policy syntax is invalid"})
			return
		case Malformed:
			_, t := s.mint(time.Hour, "", "", "", "")
			body := `{"code":0,"message":"","codeDesc":"Success","data":{"credentials":{"sessionToken":"` + jsonInner(t.token) + `","tmpSecretKey":"` + t.secret
			writeTruncated(w, body[:len(body)-5])
			return
		}
	}
	res, e := s.handleV2(r, q)
	if e != nil {
		writeV2Error(w, e)
		return
	}
	writeJSON(w, map[string]any{"code": 0, "message": "", "codeDesc": "Success", "data": res})
}

func (s *Server) handleV2(r *http.Request, q url.Values) (map[string]any, *v2Error) {
	if r.Method != http.MethodGet {
		return nil, &v2Error{4600, "UnsupportedProtocol", "only GET is supported"}
	}
	params := map[string]string{}
	for k, v := range q {
		if len(v) != 1 {
			return nil, &v2Error{4000, "InvalidParameter", "parameter " + k + " given more than once"}
		}
		params[k] = v[0]
	}
	for _, k := range []string{"Action", "Region", "Timestamp", "Nonce", "SecretId", "Signature"} {
		if params[k] == "" {
			return nil, &v2Error{4000, "MissingParameter", "missing required parameter " + k}
		}
	}
	method := params["SignatureMethod"]
	if method != "" && method != "HmacSHA1" && method != "HmacSHA256" {
		return nil, &v2Error{4000, "InvalidParameter", "unsupported SignatureMethod"}
	}
	ts, err := strconv.ParseInt(params["Timestamp"], 10, 64)
	if err != nil {
		return nil, &v2Error{4000, "InvalidParameter", "Timestamp must be an integer"}
	}
	if d := s.opts.Now().Sub(time.Unix(ts, 0)); d > s.opts.MaxSkew || -d > s.opts.MaxSkew {
		return nil, &v2Error{4200, "RequestExpired", "request expired; timestamp differs from server time by more than 300 seconds"}
	}
	s.mu.Lock()
	k, ok := s.keys[params["SecretId"]]
	s.mu.Unlock()
	if !ok {
		return nil, &v2Error{4100, "AuthFailure.SecretIdNotFound", "secretId not found"}
	}
	want := V2Signature(k.secret, method, V2StringToSign(r.Method, r.Host, r.URL.Path, params))
	if !hmac.Equal([]byte(want), []byte(params["Signature"])) {
		return nil, &v2Error{4100, "AuthFailure.SignatureFailure", "signature verification failed"}
	}
	req := Request{Action: params["Action"], APIVersion: 2, Region: params["Region"], SecretID: params["SecretId"], Params: params}
	delete(req.Params, "Signature")
	req.Policy = params["policy"]
	s.record(req)
	if params["Action"] != ActionGetFederationToken {
		return nil, &v2Error{4000, "InvalidAction", "action " + params["Action"] + " does not exist"}
	}

	if params["name"] == "" {
		return nil, &v2Error{4000, "InvalidParameter", "missing required parameter name"}
	}
	if !nameRE.MatchString(params["name"]) {
		return nil, &v2Error{4000, "InvalidParameter", "parameter name is invalid"}
	}
	// The policy is an ordinary query parameter here: it was URL-decoded
	// with the query, so it is the JSON itself; re-encode it to reuse the
	// API 3.0 checks.
	if params["policy"] == "" {
		return nil, &v2Error{4000, "InvalidParameter", "missing required parameter policy"}
	}
	if e := s.checkPolicy(url.QueryEscape(params["policy"])); e != nil {
		return nil, &v2Error{4000, "InvalidParameter", e.Message}
	}
	max := s.opts.SubMaxDuration
	if k.root {
		max = s.opts.RootMaxDuration
	}
	d := 1800 * time.Second
	if v, ok := params["durationSeconds"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, &v2Error{4000, "InvalidParameter", "durationSeconds must be a positive integer"}
		}
		if time.Duration(n)*time.Second > max {
			return nil, &v2Error{4000, "InvalidParameter", "durationSeconds exceeds the limit of " + strconv.FormatInt(int64(max/time.Second), 10) + " seconds"}
		}
		d = time.Duration(n) * time.Second
	}
	name := params["name"]
	id, t := s.mint(d, "qcs::sts:"+s.opts.AccountID+":federated-user/"+k.uin+":"+name, k.uin+":"+name, "FederatedUser", k.uin)
	s.mu.Lock()
	tokKey := s.v2Token
	s.mu.Unlock()
	return map[string]any{
		"credentials": map[string]string{tokKey: t.token, "tmpSecretId": id, "tmpSecretKey": t.secret},
		"expiredTime": t.expires.Unix(),
		"expiration":  t.expires.UTC().Format(time.RFC3339),
	}, nil
}

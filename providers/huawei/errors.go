package huawei

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/credd-dev/credd/providers"
)

// apiError turns a non-success IAM response into a classified
// *providers.Error. IAM answers in three shapes: its own
// {"error_msg","error_code"}, Keystone's {"error":{"code","message","title"}}
// and the API gateway's {"error_msg","error_code":"APIGW.xxxx","request_id"}.
// The raw body never reaches the error: it may echo the request.
func apiError(op string, status int, body []byte, paramKey string) *providers.Error {
	code, msg := parseErrorBody(body)
	if msg == "" {
		msg = "HTTP " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	e := &providers.Error{Provider: "huawei", Op: op, Code: code, Message: msg, Status: status}
	e.Class = classify(status, code, msg)
	if e.Class == providers.InvalidParameter {
		e.Key = keyFor(msg, paramKey)
	}
	return e
}

// parseErrorBody extracts the code and message of any of IAM's error shapes.
// Keystone's code is a number, the others' a string.
func parseErrorBody(body []byte) (code, msg string) {
	var v struct {
		ErrorMsg  string          `json:"error_msg"`
		ErrorCode string          `json:"error_code"`
		Error     json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", ""
	}
	if v.ErrorCode != "" || v.ErrorMsg != "" {
		return v.ErrorCode, clean(v.ErrorMsg)
	}
	var ks struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
		Title   string          `json:"title"`
	}
	if len(v.Error) == 0 || json.Unmarshal(v.Error, &ks) != nil {
		return "", ""
	}
	code = strings.Trim(string(ks.Code), `"`)
	if ks.Title != "" && code != "" {
		code += " " + ks.Title
	} else if ks.Title != "" {
		code = ks.Title
	}
	return clean(code), clean(ks.Message)
}

// clean bounds an upstream string and strips control characters so it can
// sit in a log line or a terminal.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return strings.TrimSpace(s)
}

func classify(status int, code, msg string) providers.Class {
	m := strings.ToLower(msg)
	skew := strings.Contains(m, "x-sdk-date") || strings.Contains(m, "request has expired") ||
		strings.Contains(m, "request expired") || strings.Contains(m, "signature expired") ||
		strings.Contains(m, "clock")
	switch {
	case code == "APIGW.0308" || status == http.StatusTooManyRequests:
		return providers.Throttled
	case skew && (status == http.StatusUnauthorized || status == http.StatusForbidden || strings.HasPrefix(code, "APIGW.")):
		return providers.ClockSkew
	case code == "APIGW.0303" && (strings.Contains(m, "expire") || strings.Contains(m, "time")):
		return providers.ClockSkew
	case code == "APIGW.0301" || code == "APIGW.0101" || code == "APIGW.0303" || code == "IAM.0001" || status == http.StatusUnauthorized:
		return providers.BadCredentials
	case status == http.StatusForbidden:
		return providers.Denied
	case status == http.StatusBadRequest || status == http.StatusNotFound:
		return providers.InvalidParameter
	}
	return providers.Transient
}

// keyFor names the profile key a parameter complaint is about, from the
// message when it says, else the caller's guess.
func keyFor(msg, fallback string) string {
	m := strings.ToLower(msg)
	for _, k := range []struct{ needle, key string }{
		{"duration", "duration"},
		{"policy", "policy"},
		{"agency", "agency_name"},
		{"session_user", "session_user"},
		{"domain", "domain_name"},
		{"project", "project"},
		{"protocol", "protocol_id"},
		{"identity provider", "idp_id"},
		{"x-idp-id", "idp_id"},
		{"id_token", "id_token_file"},
	} {
		if strings.Contains(m, k.needle) {
			return k.key
		}
	}
	return fallback
}

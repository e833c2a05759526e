package huawei

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/providers"
)

func TestAPIErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		class     providers.Class
		code, msg string
		key       string
	}{
		{"iam shape", 401, `{"error_msg":"The request you have made requires authentication.","error_code":"IAM.0001"}`,
			providers.BadCredentials, "IAM.0001", "The request you have made requires authentication.", ""},
		{"keystone shape", 401, `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`,
			providers.BadCredentials, "401 Unauthorized", "The username or password is wrong.", ""},
		{"keystone string code", 400, `{"error":{"code":"400","message":"Invalid input for field 'duration_seconds'.","title":"Bad Request"}}`,
			providers.InvalidParameter, "400 Bad Request", "Invalid input for field 'duration_seconds'.", "duration"},
		{"gateway shape", 401, `{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"abc"}`,
			providers.BadCredentials, "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail", ""},
		{"gateway 0101", 404, `{"error_msg":"The API does not exist or has not been published in the environment.","error_code":"APIGW.0101","request_id":"abc"}`,
			providers.BadCredentials, "APIGW.0101", "The API does not exist or has not been published in the environment.", ""},
		{"throttled", 429, `{"error_msg":"The throttling threshold has been reached","error_code":"APIGW.0308","request_id":"r"}`,
			providers.Throttled, "APIGW.0308", "The throttling threshold has been reached", ""},
		{"plain 429", 429, ``, providers.Throttled, "", "HTTP 429 Too Many Requests", ""},
		{"skew 0303", 401, `{"error_msg":"Incorrect app authentication information: the request has expired","error_code":"APIGW.0303","request_id":"r"}`,
			providers.ClockSkew, "APIGW.0303", "Incorrect app authentication information: the request has expired", ""},
		{"skew iam message", 401, `{"error_msg":"Incorrect IAM authentication information: calc ak sk signature fail:signature expired","error_code":"APIGW.0301","request_id":"r"}`,
			providers.ClockSkew, "APIGW.0301", "Incorrect IAM authentication information: calc ak sk signature fail:signature expired", ""},
		{"expired token is not skew", 401, `{"error_msg":"Incorrect IAM authentication information: token expires, expires_at: 2026","error_code":"APIGW.0301","request_id":"r"}`,
			providers.BadCredentials, "APIGW.0301", "Incorrect IAM authentication information: token expires, expires_at: 2026", ""},
		{"denied", 403, `{"error_msg":"Policy doesn't allow iam:agencies:assume to be performed.","error_code":"IAM.0003"}`,
			providers.Denied, "IAM.0003", "Policy doesn't allow iam:agencies:assume to be performed.", ""},
		{"agency missing", 404, `{"error_msg":"Could not find agency: x.","error_code":"IAM.0004"}`,
			providers.InvalidParameter, "IAM.0004", "Could not find agency: x.", "agency_name"},
		{"bad param fallback", 400, `{"error_msg":"Request parameter foo is invalid.","error_code":"IAM.0007"}`,
			providers.InvalidParameter, "IAM.0007", "Request parameter foo is invalid.", "fallback"},
		{"5xx html", 502, `<html>bad gateway</html>`, providers.Transient, "", "HTTP 502 Bad Gateway", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apiError("op", tc.status, []byte(tc.body), "fallback")
			if e.Class != tc.class || e.Code != tc.code || e.Message != tc.msg || e.Key != tc.key || e.Status != tc.status {
				t.Errorf("got class %s code %q msg %q key %q status %d", e.Class, e.Code, e.Message, e.Key, e.Status)
			}
			if !strings.Contains(e.Error(), tc.msg) {
				t.Errorf("Error() = %q lacks the message", e.Error())
			}
		})
	}
}

func TestAPIErrorNeverEchoesBody(t *testing.T) {
	body := `{"unexpected":"` + canaryPassword + `"}`
	e := apiError("op", 500, []byte(body), "")
	noCanary(t, "error", e.Error())
}

func TestParseCredential(t *testing.T) {
	body := []byte(`{"credential":{"access":"HSTAK","secret":"` + canarySK + `","expires_at":"2026-11-23T12:34:56.123456Z","securitytoken":"tok"}}`)
	c, err := parseCredential("op", body)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 23, 12, 34, 56, 123456000, time.UTC)
	if c.AccessKeyID != "HSTAK" || c.Secret.Reveal() != canarySK || c.SessionToken.Reveal() != "tok" || !c.Expiration.Equal(want) {
		t.Errorf("got %+v exp %v", c, c.Expiration)
	}
	if strings.Contains(string(body), canarySK) {
		t.Error("response body not wiped")
	}
	for _, bad := range []string{``, `{}`, `{"credential":{"access":"a","secret":"` + canarySK + `","securitytoken":"t","expires_at":"soon"}}`,
		`{"credential":{"access":"a","secret":"","securitytoken":"t","expires_at":"2026-11-23T12:34:56Z"}}`} {
		_, err := parseCredential("op", []byte(bad))
		if err == nil || providers.ClassOf(err) != providers.Transient {
			t.Errorf("parseCredential(%q) = %v", bad, err)
			continue
		}
		noCanary(t, "error", err.Error())
	}
}

func TestReadToken(t *testing.T) {
	h := http.Header{}
	h.Set("X-Subject-Token", "MIIEtok")
	tok, err := readToken("op", &response{status: 201, header: h, body: []byte(`{"token":{"expires_at":"2026-11-23T12:34:56.000000Z"}}`)})
	if err != nil || tok.value.Reveal() != "MIIEtok" || tok.expires.Year() != 2026 {
		t.Fatalf("readToken = %v, %v", tok, err)
	}
	if _, err := readToken("op", &response{status: 201, header: http.Header{}, body: []byte(`{"token":{}}`)}); err == nil {
		t.Error("accepted a response without X-Subject-Token")
	}
}

// FuzzIAMResponse feeds arbitrary bodies to every IAM response parser: none
// may panic, and a parsed credential must be complete.
func FuzzIAMResponse(f *testing.F) {
	f.Add(201, []byte(`{"credential":{"access":"A","secret":"S","expires_at":"2026-11-23T12:34:56.123456Z","securitytoken":"T"}}`))
	f.Add(401, []byte(`{"error_msg":"x","error_code":"IAM.0001"}`))
	f.Add(400, []byte(`{"error":{"code":400,"message":"Invalid input for field 'duration_seconds'","title":"Bad Request"}}`))
	f.Add(429, []byte(`{"error_msg":"throttled","error_code":"APIGW.0308","request_id":"r"}`))
	f.Add(201, []byte(`{"token":{"expires_at":"2026-11-23T12:34:56.123456Z"}}`))
	f.Add(500, []byte(`{"error":"flat"}`))
	f.Add(201, []byte(`{"credential":null}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := apiError("op", status, append([]byte(nil), body...), "k")
		if e.Class == "" || e.Message == "" {
			t.Fatalf("unclassified or empty error for %d %q", status, body)
		}
		c, err := parseCredential("op", append([]byte(nil), body...))
		if err == nil && (c.AccessKeyID == "" || c.Secret.IsEmpty() || c.SessionToken.IsEmpty() || c.Expiration.IsZero()) {
			t.Fatalf("incomplete credential accepted: %q", body)
		}
		h := http.Header{}
		h.Set("X-Subject-Token", "t")
		_, _ = readToken("op", &response{status: status, header: h, body: body})
	})
}

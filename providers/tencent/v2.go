package tencent

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
)

// V2Path is the legacy API's path, appended to the endpoint.
const V2Path = "/v2/index.php"

// maxV2Body bounds a v2 response: a credential is a few kilobytes.
const maxV2Body = 1 << 20

// V2StringToSign returns the legacy signature's string to sign: method +
// host + path + "?" + the parameters sorted by name as raw (not
// URL-encoded) k=v pairs joined by "&". Signature itself is left out.
func V2StringToSign(method, host, path string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(method)
	b.WriteString(host)
	b.WriteString(path)
	b.WriteByte('?')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// SignV2 returns base64(HMAC(secretKey, stringToSign)) with SHA-256 for
// method "HmacSHA256" or SHA-1 for "HmacSHA1".
func SignV2(secretKey secret.Value, method, stringToSign string) (string, error) {
	var h func() hash.Hash
	switch method {
	case "HmacSHA256":
		h = sha256.New
	case "HmacSHA1":
		h = sha1.New
	default:
		return "", fmt.Errorf("sign v2: unknown signature method %q", method)
	}
	m := hmac.New(h, secretKey.Bytes())
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// v2Response is the legacy answer. Both spellings of the token exist in the
// wild: sessionToken (current) and token (older deployments).
type v2Response struct {
	Code     *int   `json:"code"`
	Message  string `json:"message"`
	CodeDesc string `json:"codeDesc"`
	Data     *struct {
		Credentials struct {
			SessionToken string `json:"sessionToken"`
			Token        string `json:"token"`
			TmpSecretID  string `json:"tmpSecretId"`
			TmpSecretKey string `json:"tmpSecretKey"`
		} `json:"credentials"`
		ExpiredTime int64  `json:"expiredTime"`
		Expiration  string `json:"expiration"`
	} `json:"data"`
}

func nonce() string {
	var b [4]byte
	rand.Read(b[:])
	return strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])>>1)+1, 10)
}

func (p *Provider) fetchV2(ctx context.Context) (providers.Credential, error) {
	k, err := p.readKey(ctx)
	if err != nil {
		return providers.Credential{}, err
	}
	method := p.prof.SignatureMethod
	if method == "" {
		method = "HmacSHA256"
	}
	params := map[string]string{
		"Action":          "GetFederationToken",
		"name":            p.prof.FederationName,
		"Region":          p.prof.Region,
		"Timestamp":       strconv.FormatInt(p.now().Unix(), 10),
		"Nonce":           nonce(),
		"SecretId":        k.id,
		"SignatureMethod": method, // the service assumes HmacSHA1 when absent
	}
	if p.prof.Policy != "" {
		params["policy"] = p.prof.Policy
	}
	if d := p.prof.Duration / time.Second; d > 0 {
		params["durationSeconds"] = strconv.FormatInt(int64(d), 10)
	}
	path := strings.TrimSuffix(p.v2Base.Path, "/") + V2Path
	sig, err := SignV2(k.key, method, V2StringToSign(http.MethodGet, p.v2Base.Host, path, params))
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.InvalidParameter,
			Key: "signature_method", Message: err.Error()}
	}
	params["Signature"] = sig
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	u := *p.v2Base
	u.Path = path
	u.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.Transient, Message: "build request", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return providers.Credential{}, p.v2NetError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxV2Body))
	if err != nil {
		return providers.Credential{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.Transient,
			Status: resp.StatusCode, Message: "read response: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return providers.Credential{}, &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.Transient,
			Status: resp.StatusCode, Message: fmt.Sprintf("HTTP %d %s from the service", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	var r v2Response
	if err := json.Unmarshal(body, &r); err != nil || r.Code == nil {
		// The body is not quoted: a truncated answer can hold a token.
		return providers.Credential{}, p.malformed("not a v2 STS answer")
	}
	if *r.Code != 0 {
		return providers.Credential{}, p.v2Error(*r.Code, providers.Scrub(r.CodeDesc, k.key), providers.Scrub(r.Message, k.key), resp)
	}
	if r.Data == nil {
		return providers.Credential{}, p.malformed("the response lacks data")
	}
	c := r.Data.Credentials
	tok := c.SessionToken
	if tok == "" {
		tok = c.Token
	}
	if c.TmpSecretID == "" || c.TmpSecretKey == "" || tok == "" {
		return providers.Credential{}, p.malformed("the response lacks credentials")
	}
	exp, ok := expiry(r.Data.ExpiredTime, r.Data.Expiration)
	if !ok {
		return providers.Credential{}, p.malformed("the response lacks expiredTime and expiration")
	}
	return providers.Credential{
		AccessKeyID:  c.TmpSecretID,
		Secret:       secret.New(c.TmpSecretKey),
		SessionToken: secret.New(tok),
		Expiration:   exp,
	}, nil
}

func (p *Provider) v2NetError(ctx context.Context, err error) error {
	e := &providers.Error{Provider: "tencent", Op: p.prof.API, Class: providers.Transient, Err: err}
	if ctx.Err() != nil {
		e.Message = "request abandoned: " + ctx.Err().Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL carries the signed query; the signature is not a secret,
		// but nothing is gained by repeating it.
		e.Err = ue.Err
		if e.Message == "" {
			e.Message = "network error: " + ue.Err.Error()
		}
	}
	return e
}

// v2Error classifies a legacy error by its numeric code.
func (p *Provider) v2Error(code int, codeDesc, msg string, resp *http.Response) error {
	e := &providers.Error{Provider: "tencent", Op: p.prof.API, Code: codeDesc, Status: resp.StatusCode,
		Message: fmt.Sprintf("%s (code %d)", msg, code)}
	switch code {
	case 4000, 4600:
		e.Class = providers.InvalidParameter
		e.Key = inferKey(codeDesc + " " + msg)
	case 4100:
		e.Class = providers.BadCredentials
	case 4200, 4500:
		e.Class = providers.ClockSkew
		e.Skew = serverSkew(resp.Header.Get("Date"), p.now())
	case 4300:
		e.Class = providers.Denied
	case 4400:
		e.Class = providers.Throttled
	default:
		e.Class = providers.Transient
	}
	if e.Code == "" {
		e.Code = strconv.Itoa(code)
	}
	return e
}

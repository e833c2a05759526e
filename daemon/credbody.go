package daemon

import (
	"time"

	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
)

// credentialsBody renders the body of GET /v1/profiles/{name}/credentials
// (apitype.Credentials) straight from the secret bytes, so that the secrets
// never become Go strings, which cannot be wiped. The caller clears the
// returned buffer once it is written. Output is byte for byte what
// encoding/json produces for apitype.Credentials.
func credentialsBody(name, provider, region string, c providers.Credential) []byte {
	b := make([]byte, 0, 192+len(name)+len(region)+len(c.AccessKeyID)+2*(c.Secret.Len()+c.SessionToken.Len()))
	b = append(b, `{"profile":`...)
	b = secret.AppendJSONString(b, []byte(name))
	b = append(b, `,"provider":`...)
	b = secret.AppendJSONString(b, []byte(provider))
	if region != "" {
		b = append(b, `,"region":`...)
		b = secret.AppendJSONString(b, []byte(region))
	}
	b = append(b, `,"access_key_id":`...)
	b = secret.AppendJSONString(b, []byte(c.AccessKeyID))
	b = append(b, `,"secret_access_key":`...)
	b = c.Secret.AppendJSON(b)
	b = append(b, `,"session_token":`...)
	b = c.SessionToken.AppendJSON(b)
	b = append(b, `,"expiration":"`...)
	b = c.Expiration.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

package daemon

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
)

// The hand-written body must be exactly what encoding/json writes for
// apitype.Credentials (string escaping itself is proven in package secret).
func TestCredentialsBodyMatchesEncodingJSON(t *testing.T) {
	inputs := []string{"", "plain", `q"uote\back`, "<>&", "\x00\x01\x1f\x7f", "line\nbreak\r\t\b\f",
		"é中文", "\u2028\u2029", "\xff\xfe bad utf8 \xc3", "$(rm -rf /) `x` !%"}
	exp := time.Date(2026, 11, 23, 10, 30, 0, 123456789, time.FixedZone("x", 3600))
	for i, s := range inputs {
		region := ""
		if i%2 == 0 {
			region = "ap-" + s
		}
		c := providers.Credential{AccessKeyID: "AKID" + s, Secret: secret.New("sk" + s), SessionToken: secret.New(s), Expiration: exp}
		got := credentialsBody("p"+s, "tencent", region, c)
		want, err := json.Marshal(apitype.Credentials{Profile: "p" + s, Provider: "tencent", Region: region, AccessKeyID: "AKID" + s,
			SecretAccessKey: "sk" + s, SessionToken: s, Expiration: exp.UTC()})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append(want, '\n')) {
			t.Fatalf("input %q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func BenchmarkCredentialsBody(b *testing.B) {
	c := providers.Credential{AccessKeyID: "AKIDexample", Secret: secret.New("secretsecretsecret"),
		SessionToken: secret.New(string(bytes.Repeat([]byte("tok"), 400))), Expiration: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		clear(credentialsBody("demo", "tencent", "ap-guangzhou", c))
	}
}

package secret

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := []string{"", "plain", `q"uote\back`, "<>&", "\x00\x01\x1f\x7f", "line\nbreak\r\t\b\f",
		"é中文", "\u2028\u2029", "\xff\xfe bad utf8 \xc3", "$(rm -rf /) `x` !%"}
	for range 5000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		want, _ := json.Marshal(s)
		if got := New(s).AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

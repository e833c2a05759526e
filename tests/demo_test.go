package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemo keeps the README's first quick-start command true: `make demo`
// (tests/demo.sh) runs end to end on this machine and shows what it says.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole demo")
	}
	out, err := exec.Command("bash", "demo.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"stored key demo (tencent)",
		"demo  tencent/GetFederationToken  idle",
		"TENCENTCLOUD_SECRET_ID=AKID",
		"child process got AKID",
		"demo  tencent/GetFederationToken  fresh",
		"demo done",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "demo-secret-key-not-real") {
		t.Errorf("the demo printed the long-lived secret key:\n%s", out)
	}
}

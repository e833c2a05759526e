package e2e

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/credd-dev/credd/tests/huaweiemu"
	"github.com/credd-dev/credd/tests/samlidp"
)

const (
	hwIdPEntity   = "https://idp.e2e.example/idp"
	hwIdPPassword = "CANARY-IDP-PASSWORD-31c4"
	hwAK          = "HWE2EAK0000000000001"
	hwSK          = "CANARY-HW-SK-77aa1e"
)

// TestHuaweiExportInBash: SAML2 ECP federation through the real binaries,
// then a request signed with the exported HUAWEICLOUD_SDK_* variables is
// accepted by the IAM emulator's check endpoint.
func TestHuaweiExportInBash(t *testing.T) {
	bash := need(t, "bash")
	emu := huaweiemu.New(huaweiemu.Options{})
	emu.AddSAMLIdP("corp", "saml", hwIdPEntity, "acme")
	emu.AddAKSK(hwAK, hwSK, "acme")
	emu.AddAgency("partner", "ops-agency")
	iam := httptest.NewServer(emu)
	defer iam.Close()
	idp := samlidp.New(hwIdPEntity)
	idp.AddUser("bob", hwIdPPassword)
	idpSrv := httptest.NewServer(idp)
	defer idpSrv.Close()

	secretsMu.Lock()
	extraSecrets = append(extraSecrets, hwIdPPassword, hwSK)
	secretsMu.Unlock()

	e := newEnv(t, fmt.Sprintf(`[profiles.hw-sso]
provider = "huawei"
method = "federation"
key = "corp-idp"
iam_endpoint = %q
idp_id = "corp"
protocol_id = "saml"
idp_url = %q
region = "cn-north-4"
duration = "1h"

[profiles.hw-role]
provider = "huawei"
method = "assume_role"
key = "hw-aksk"
iam_endpoint = %q
agency_name = "ops-agency"
domain_name = "partner"
`, iam.URL, idpSrv.URL, iam.URL))
	e.start()
	e.must(e.credctl("username=bob\npassword="+hwIdPPassword+"\n", "key", "set", "corp-idp", "--kind", "password"))
	e.must(e.credctl("access_key="+hwAK+"\nsecret_key="+hwSK+"\n", "key", "set", "hw-aksk", "--kind", "huawei-aksk"))

	for _, prof := range []string{"hw-sso", "hw-role"} {
		t.Run(prof, func(t *testing.T) {
			cmd := exec.Command(bash, "-c", `eval "$(credctl export `+prof+` --shell bash)" && hwcheck -endpoint "$IAM" && env`)
			cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"), "IAM="+iam.URL)
			r := e.run(cmd, "")
			if r.code != 0 {
				t.Fatalf("hwcheck with exported credentials: exit %d\n%s%s\ncredd log:\n%s", r.code, r.stdout, r.stderr, e.logs)
			}
			for _, v := range []string{"HUAWEICLOUD_SDK_AK=", "HUAWEICLOUD_SDK_SK=", "HUAWEICLOUD_SDK_SECURITY_TOKEN=",
				"HW_ACCESS_KEY=", "HW_SECRET_KEY=", "HW_SECURITY_TOKEN=", "CREDD_PROFILE=" + prof} {
				if !strings.Contains(r.stdout, v) {
					t.Errorf("export lacks %s", v)
				}
			}
			if prof == "hw-sso" && !strings.Contains(r.stdout, "HW_REGION_NAME=cn-north-4") {
				t.Error("export lacks HW_REGION_NAME")
			}
			// A tampered token is refused: the check can fail.
			cmd = exec.Command(bash, "-c", `eval "$(credctl export `+prof+` --shell bash)" && HUAWEICLOUD_SDK_SECURITY_TOKEN=x hwcheck -endpoint "$IAM"`)
			cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"), "IAM="+iam.URL)
			if r := e.run(cmd, ""); r.code == 0 {
				t.Fatal("the check endpoint accepted a wrong security token")
			}
		})
	}

	// The IdP password is wrong: exit 5, and the hint names credctl key set.
	e.must(e.credctl("username=bob\npassword=wrong\n", "key", "set", "corp-idp", "--kind", "password"))
	r := e.credctl("", "refresh", "hw-sso")
	if r.code != 5 || !strings.Contains(r.stderr, "credctl key set") {
		t.Fatalf("wrong IdP password: exit %d\n%s", r.code, r.stderr)
	}
	e.assertNoSecrets("credctl refresh", r.stdout+r.stderr)
}

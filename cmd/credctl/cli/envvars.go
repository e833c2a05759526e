package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/credd-dev/credd/client"
)

// envVar is one environment variable that export and exec set.
type envVar struct{ name, value string }

// envVars returns the variables for c in a fixed order (SPEC §7): the
// provider's SDK variables, then CREDD_PROFILE and CREDD_EXPIRATION.
func envVars(c *client.Credentials) ([]envVar, error) {
	id, key, tok := c.AccessKeyID, c.SecretAccessKey.Reveal(), c.SessionToken.Reveal()
	var vs []envVar
	switch c.Provider {
	case "tencent":
		vs = []envVar{
			{"TENCENTCLOUD_SECRET_ID", id},
			{"TENCENTCLOUD_SECRET_KEY", key},
			{"TENCENTCLOUD_SESSION_TOKEN", tok},
			// Tencent's SDKs and tools read one name or the other.
			{"TENCENTCLOUD_SECURITY_TOKEN", tok},
		}
		if c.Region != "" {
			vs = append(vs, envVar{"TENCENTCLOUD_REGION", c.Region})
		}
	case "huawei":
		vs = []envVar{
			{"HUAWEICLOUD_SDK_AK", id},
			{"HUAWEICLOUD_SDK_SK", key},
			{"HUAWEICLOUD_SDK_SECURITY_TOKEN", tok},
			// Huawei's Terraform provider and tools read the HW_ names.
			{"HW_ACCESS_KEY", id},
			{"HW_SECRET_KEY", key},
			{"HW_SECURITY_TOKEN", tok},
		}
		if c.Region != "" {
			vs = append(vs, envVar{"HW_REGION_NAME", c.Region})
		}
	default:
		return nil, fmt.Errorf("profile %q: no environment variables are defined for provider %q", c.Profile, c.Provider)
	}
	vs = append(vs,
		envVar{"CREDD_PROFILE", c.Profile},
		envVar{"CREDD_EXPIRATION", c.Expiration.UTC().Format(time.RFC3339)},
	)
	for _, v := range vs {
		// NUL ends a C string: no shell and no execve can carry it.
		if strings.IndexByte(v.value, 0) >= 0 {
			return nil, fmt.Errorf("profile %q: %s contains a NUL byte", c.Profile, v.name)
		}
	}
	return vs, nil
}

// credentialVars are every provider's key and token variables. exec drops
// all of them from the inherited environment, so a child run for one profile
// never also holds another's (credctl exec nested in credctl exec).
var credentialVars = []string{
	"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SESSION_TOKEN", "TENCENTCLOUD_SECURITY_TOKEN",
	"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
	"HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_SECURITY_TOKEN",
}

// mergeEnv returns environ with vs set, replacing any earlier values of the
// same names so that the child sees exactly one of each, and without any
// other profile's credentials.
func mergeEnv(environ []string, vs []envVar) []string {
	set := make(map[string]bool, len(vs)+len(credentialVars))
	for _, n := range credentialVars {
		set[n] = true
	}
	for _, v := range vs {
		set[v.name] = true
	}
	out := make([]string, 0, len(environ)+len(vs))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !set[name] {
			out = append(out, kv)
		}
	}
	for _, v := range vs {
		out = append(out, v.name+"="+v.value)
	}
	return out
}

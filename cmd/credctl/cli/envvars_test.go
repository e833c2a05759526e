package cli

import (
	"slices"
	"strings"
	"testing"
)

func TestMergeEnvDropsOtherProfilesCredentials(t *testing.T) {
	outer := []string{
		"PATH=/bin",
		"TENCENTCLOUD_SECRET_KEY=outer-secret",
		"TENCENTCLOUD_SESSION_TOKEN=outer-token",
		"TENCENTCLOUD_REGION=ap-shanghai",
		"CREDD_PROFILE=outer",
	}
	got := mergeEnv(outer, []envVar{
		{"HUAWEICLOUD_SDK_AK", "AK"}, {"HUAWEICLOUD_SDK_SK", "SK"}, {"CREDD_PROFILE", "inner"},
	})
	for _, kv := range got {
		if strings.Contains(kv, "outer-") {
			t.Errorf("the outer profile's %s reached the inner child", kv)
		}
	}
	for _, want := range []string{"PATH=/bin", "TENCENTCLOUD_REGION=ap-shanghai", "HUAWEICLOUD_SDK_SK=SK", "CREDD_PROFILE=inner"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	n := 0
	for _, kv := range got {
		if strings.HasPrefix(kv, "CREDD_PROFILE=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("CREDD_PROFILE set %d times", n)
	}
}

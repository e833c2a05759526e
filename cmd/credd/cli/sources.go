package cli

import (
	"fmt"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/providers/huawei"
	"github.com/credd-dev/credd/providers/tencent"
	"github.com/credd-dev/credd/refresh"
)

// newSource builds the provider a profile names.
func newSource(p *config.Profile, d providers.Deps) (refresh.Source, error) {
	switch p.Provider {
	case "tencent":
		return tencent.New(p, d)
	case "huawei":
		return huawei.New(p, d)
	}
	return nil, fmt.Errorf("unknown provider %q", p.Provider)
}

// Package refresh keeps one profile's temporary credential fresh: it fetches
// on demand or at start, schedules the next refresh at 60–75 % of the
// lifetime, backs off with full jitter on failure, serves the last good
// credential while it is valid, and collapses concurrent requests into one
// upstream call.
package refresh

import (
	"context"

	"github.com/credd-dev/credd/providers"
)

// Source fetches a fresh temporary credential from upstream.
// Providers implement it; errors should be *providers.Error where the cause
// is known, so the engine can pick the right backoff.
type Source interface {
	Fetch(ctx context.Context) (providers.Credential, error)
}

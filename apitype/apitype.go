// Package apitype defines the JSON types of credd's socket API (version 1).
// It is a leaf package shared by the daemon and credctl, so it imports
// nothing of credd's own.
package apitype

import "time"

// APIVersion prefixes every path of the socket API.
const APIVersion = "/v1"

// Status is the body of GET /v1/status.
type Status struct {
	Version         string    `json:"version"`
	PID             int       `json:"pid"`
	StartedAt       time.Time `json:"started_at"`
	UptimeSeconds   float64   `json:"uptime_seconds"`
	ConfigPath      string    `json:"config_path"`
	Generation      int64     `json:"generation"`
	LoadedAt        time.Time `json:"loaded_at"`
	LastReloadError string    `json:"last_reload_error,omitempty"`
	LastReloadAt    time.Time `json:"last_reload_at,omitzero"`
	Keystore        string    `json:"keystore"`
	ProfileCount    int       `json:"profile_count"`
	Socket          string    `json:"socket"`
	SocketActivated bool      `json:"socket_activated"`
}

// Profile states, as reported by GET /v1/profiles.
const (
	StateIdle       = "idle"       // never fetched (on-demand, not yet requested)
	StateFetching   = "fetching"   // first fetch in flight
	StateFresh      = "fresh"      // valid credential, before its refresh time
	StateRefreshing = "refreshing" // valid credential, refresh in flight
	StateStale      = "stale"      // valid credential, refresh failing
	StateExpired    = "expired"    // credential expired and not requested since
	StateError      = "error"      // no valid credential, last fetch failed
)

// Profile is one entry of GET /v1/profiles. It carries no secrets.
type Profile struct {
	Name          string    `json:"name"`
	Provider      string    `json:"provider"`
	Method        string    `json:"method"`
	Region        string    `json:"region,omitempty"`
	Refresh       string    `json:"refresh"`
	State         string    `json:"state"`
	AccessKeyID   string    `json:"access_key_id,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	NextRefreshAt time.Time `json:"next_refresh_at,omitzero"`
	LastRefreshAt time.Time `json:"last_refresh_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	ErrorClass    string    `json:"error_class,omitempty"`
	ErrorCode     string    `json:"error_code,omitempty"`
	UpstreamCalls int64     `json:"upstream_calls"`
	Failures      int       `json:"consecutive_failures,omitempty"`
}

// Profiles is the body of GET /v1/profiles.
type Profiles struct {
	Profiles []Profile `json:"profiles"`
}

// Credentials is the body of GET /v1/profiles/{name}/credentials.
type Credentials struct {
	Profile         string    `json:"profile"`
	Provider        string    `json:"provider"`
	Region          string    `json:"region,omitempty"`
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Expiration      time.Time `json:"expiration"`
}

// Key is one entry of GET /v1/keys.
type Key struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Keys is the body of GET /v1/keys.
type Keys struct {
	Backend  string `json:"backend"`
	ReadOnly bool   `json:"read_only"`
	Keys     []Key  `json:"keys"`
}

// PutKey is the body of PUT /v1/keys/{name}.
type PutKey struct {
	Kind   string            `json:"kind"`
	Fields map[string]string `json:"fields"`
}

// Reload is the body of a successful POST /v1/reload.
type Reload struct {
	Generation int64 `json:"generation"`
	Changed    bool  `json:"changed"`
}

// Error codes carried in ErrorBody.
const (
	CodeBadRequest   = "bad_request"
	CodeDenied       = "access_denied"
	CodeNotFound     = "not_found"
	CodeReadOnly     = "read_only"
	CodeUnavailable  = "credentials_unavailable"
	CodeReloadFailed = "reload_failed"
	CodeInternal     = "internal"
)

// ErrorBody is the one error shape on the wire:
// {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Known lists the known names when a profile or key is not found.
	Known []string `json:"known,omitempty"`
	// Upstream is the upstream error code, for credentials_unavailable.
	Upstream string `json:"upstream_code,omitempty"`
}

package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Refresh modes.
const (
	RefreshOnDemand = "on-demand" // first fetch on first request (default)
	RefreshAlways   = "always"    // fetched at start, kept fresh forever
)

// Tencent APIs (profile key `api`).
const (
	APIFederationToken = "GetFederationToken"
	APIAssumeRole      = "AssumeRole"
	APIWebIdentity     = "AssumeRoleWithWebIdentity"
)

// Huawei methods (profile key `method`) and logins (profile key `login`).
const (
	MethodFederation = "federation"
	MethodToken      = "token"
	MethodAssumeRole = "assume_role"

	LoginPassword   = "password"
	LoginFederation = "federation"
	LoginOIDC       = "oidc"
)

// Profile is one validated [profiles.NAME] table. Values are resolved:
// defaults applied, durations parsed, policy_file read.
type Profile struct {
	Name     string // the table name, e.g. "tc-dev"
	Provider string // "tencent" or "huawei"
	Key      string // keystore entry name; empty only for keyless methods
	Region   string // tencent default "ap-guangzhou"
	// Duration is the requested credential lifetime. Defaults: tencent
	// GetFederationToken 1800 s, AssumeRole* 7200 s, huawei 900 s.
	Duration time.Duration
	Refresh  string // RefreshOnDemand (default) or RefreshAlways

	AllowUIDs  []uint32 // who may read the profile; empty means the daemon's own uid
	AllowGIDs  []uint32
	AllowUnits []string // systemd units of the calling process

	// Policy is the policy document, from `policy` or the file named by
	// `policy_file` (read at load time, relative to the config file).
	Policy string

	// Tencent.
	API                  string // APIFederationToken (default), APIAssumeRole, APIWebIdentity
	APIVersion           int    // 3 (default) or 2 (legacy sts.api.qcloud.com)
	SignatureMethod      string // v2 only: "HmacSHA256" (default) or "HmacSHA1"
	Endpoint             string // base URL override; http:// only for loopback
	FederationName       string // `name`: GetFederationToken's Name
	RoleARN              string
	RoleSessionName      string
	ExternalID           string
	ProviderID           string
	WebIdentityTokenFile string

	// Huawei.
	Method      string // MethodFederation (default), MethodToken, MethodAssumeRole
	Login       string // for MethodToken: LoginPassword (default), LoginFederation, LoginOIDC
	IAMEndpoint string // e.g. https://iam.myhuaweicloud.com; http:// only for loopback
	IdpID       string
	ProtocolID  string
	IdpURL      string
	DomainName  string
	DomainID    string
	AgencyName  string
	SessionUser string
	IDTokenFile string
	ProjectName string // `project`: scope for login = "password" tokens (optional)

	// Source is where the table was defined ("credd.toml:12:1").
	Source string
}

// MethodLabel names the API or method the profile uses, for status output.
func (p *Profile) MethodLabel() string {
	switch p.Provider {
	case "tencent":
		if p.APIVersion == 2 {
			return p.API + " (v2)"
		}
		return p.API
	case "huawei":
		if p.Method == MethodToken {
			return MethodToken + "/" + p.Login
		}
		return p.Method
	}
	return ""
}

// Fingerprint is a hash of everything that affects how credentials are
// fetched or who may read them. Profiles with equal fingerprints are the same
// profile across a reload and keep their cached credentials.
func (p *Profile) Fingerprint() string {
	q := *p
	q.Source = "" // moving a table within the file changes nothing
	b, _ := json.Marshal(q)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

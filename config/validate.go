package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rawProfile is the TOML shape of a [profiles.NAME] table.
type rawProfile struct {
	Provider   string   `toml:"provider"`
	Key        string   `toml:"key"`
	Region     string   `toml:"region"`
	Duration   any      `toml:"duration"` // "30m" or 1800
	Refresh    string   `toml:"refresh"`
	AllowUIDs  []int64  `toml:"allow_uids"`
	AllowGIDs  []int64  `toml:"allow_gids"`
	AllowUnits []string `toml:"allow_units"`
	Policy     string   `toml:"policy"`
	PolicyFile string   `toml:"policy_file"`

	API                  string `toml:"api"`
	APIVersion           int64  `toml:"api_version"`
	SignatureMethod      string `toml:"signature_method"`
	Endpoint             string `toml:"endpoint"`
	Name                 string `toml:"name"`
	RoleARN              string `toml:"role_arn"`
	RoleSessionName      string `toml:"role_session_name"`
	ExternalID           string `toml:"external_id"`
	ProviderID           string `toml:"provider_id"`
	WebIdentityTokenFile string `toml:"web_identity_token_file"`

	Method      string `toml:"method"`
	Login       string `toml:"login"`
	IAMEndpoint string `toml:"iam_endpoint"`
	IdpID       string `toml:"idp_id"`
	ProtocolID  string `toml:"protocol_id"`
	IdpURL      string `toml:"idp_url"`
	DomainName  string `toml:"domain_name"`
	DomainID    string `toml:"domain_id"`
	AgencyName  string `toml:"agency_name"`
	SessionUser string `toml:"session_user"`
	IDTokenFile string `toml:"id_token_file"`
	Project     string `toml:"project"`
}

// Keys every provider accepts.
var commonKeys = []string{"provider", "key", "region", "duration", "refresh",
	"allow_uids", "allow_gids", "allow_units", "policy", "policy_file"}

// Keys only one provider accepts.
var providerKeys = map[string][]string{
	"tencent": {"api", "api_version", "signature_method", "endpoint", "name", "role_arn",
		"role_session_name", "external_id", "provider_id", "web_identity_token_file"},
	"huawei": {"method", "login", "iam_endpoint", "idp_id", "protocol_id", "idp_url",
		"domain_name", "domain_id", "agency_name", "session_user", "id_token_file", "project"},
}

var (
	profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	keyNameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// Tencent: Name is letters, digits and +=,.@_- (max 32); role session
	// names the same, 2–128.
	federationNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)
	sessionNameRE    = regexp.MustCompile(`^[\w+=,.@-]{2,128}$`)
	roleARNRE        = regexp.MustCompile(`^qcs::cam::uin/[0-9]{1,20}:role(Name)?/[\w+=,.@-]{1,128}$`)
	regionRE         = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+){1,4}$`)
	unitRE           = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|scope|slice|socket|timer|mount)$`)
	huaweiNameRE     = regexp.MustCompile(`^[^\x00-\x1f]{1,64}$`)
)

// validator checks one profile table.
type validator struct {
	l      *loader
	idx    positions
	prefix string // "profiles.NAME."
	at     pos    // the table header
	dir    string // the config file's directory, for relative paths
	bad    bool
}

func (v *validator) has(key string) bool { _, ok := v.idx[v.prefix+key]; return ok }

func (v *validator) pos(key string) pos {
	if at, ok := v.idx[v.prefix+key]; ok {
		return at
	}
	return v.at
}

func (v *validator) fail(key, format string, args ...any) {
	v.bad = true
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	v.l.problem(v.pos(key), "profile %q: %s", strings.TrimSuffix(strings.TrimPrefix(v.prefix, "profiles."), "."), msg)
}

func (v *validator) require(key, val, why string) {
	if val == "" {
		v.fail("", "%s is required %s", key, why)
	}
}

// oneOf checks val against choices; "" means the default, which is choices[0].
func (v *validator) oneOf(key, val string, choices ...string) string {
	if val == "" && !v.has(key) {
		return choices[0]
	}
	if !slices.Contains(choices, val) {
		v.fail(key, "%q is not one of %s", val, strings.Join(choices, ", "))
		return choices[0]
	}
	return val
}

// only rejects keys that do not apply to this kind of profile.
func (v *validator) only(allowed []string, what string) {
	for _, k := range slices.Concat(commonKeys, providerKeys["tencent"], providerKeys["huawei"]) {
		if v.has(k) && !slices.Contains(allowed, k) {
			v.fail(k, "does not apply to %s", what)
		}
	}
}

func (v *validator) profile(name string, r rawProfile) *Profile {
	if !profileNameRE.MatchString(name) {
		v.fail("", "profile names are 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	p := &Profile{
		Name:       name,
		Provider:   r.Provider,
		Key:        r.Key,
		Region:     r.Region,
		AllowUnits: r.AllowUnits,
		Source:     v.at.String(),
	}
	p.Refresh = v.oneOf("refresh", r.Refresh, RefreshOnDemand, RefreshAlways)
	p.AllowUIDs = v.ids("allow_uids", r.AllowUIDs)
	p.AllowGIDs = v.ids("allow_gids", r.AllowGIDs)
	for _, u := range r.AllowUnits {
		if !unitRE.MatchString(u) {
			v.fail("allow_units", "%q is not a systemd unit name (like \"backup.service\")", u)
		}
	}
	if r.Key != "" && !keyNameRE.MatchString(r.Key) {
		v.fail("key", "%q is not a valid key name (letters, digits, '.', '_', '-')", r.Key)
	}
	if r.Region != "" && !regionRE.MatchString(r.Region) {
		v.fail("region", "%q does not look like a region (e.g. ap-guangzhou, cn-north-4)", r.Region)
	}
	p.Policy = v.policy(r)

	switch r.Provider {
	case "tencent":
		v.tencent(p, r)
	case "huawei":
		v.huawei(p, r)
	case "":
		v.fail("", "provider is required (\"tencent\" or \"huawei\")")
	default:
		v.fail("provider", "unknown provider %q (want \"tencent\" or \"huawei\")", r.Provider)
	}
	if v.bad {
		return nil
	}
	return p
}

func (v *validator) ids(key string, in []int64) []uint32 {
	var out []uint32
	for _, id := range in {
		if id < 0 || id > math.MaxUint32-1 {
			v.fail(key, "%d is not a valid id", id)
			continue
		}
		out = append(out, uint32(id))
	}
	return out
}

func (v *validator) policy(r rawProfile) string {
	text := r.Policy
	key := "policy"
	if r.PolicyFile != "" {
		if r.Policy != "" {
			v.fail("policy_file", "set policy or policy_file, not both")
			return ""
		}
		key = "policy_file"
		v.l.cfg.PolicyFiles = append(v.l.cfg.PolicyFiles, v.path(r.PolicyFile))
		b, err := os.ReadFile(v.path(r.PolicyFile))
		if err != nil {
			v.fail(key, "%v", err)
			return ""
		}
		text = string(b)
	}
	if text == "" {
		return ""
	}
	if !json.Valid([]byte(text)) {
		v.fail(key, "the policy is not valid JSON")
		return ""
	}
	return strings.TrimSpace(text)
}

// path resolves a path relative to the config file's directory.
func (v *validator) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

// duration parses `duration` and checks its range; def applies when unset.
func (v *validator) duration(raw any, def, lo, hi time.Duration) time.Duration {
	var d time.Duration
	switch x := raw.(type) {
	case nil:
		return def
	case int64:
		if x < int64(lo/time.Second) || x > int64(hi/time.Second) {
			v.fail("duration", "%d seconds is out of range (%s–%s, i.e. %d–%d seconds)", x, fmtDur(lo), fmtDur(hi), int64(lo/time.Second), int64(hi/time.Second))
			return def
		}
		d = time.Duration(x) * time.Second
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			if n, err2 := strconv.ParseInt(x, 10, 64); err2 == nil {
				d = time.Duration(n) * time.Second
			} else {
				v.fail("duration", "%q is not a duration (like \"30m\" or 1800 seconds)", x)
				return def
			}
		}
	default:
		v.fail("duration", "want a duration string (\"30m\") or integer seconds, got %T", raw)
		return def
	}
	if d%time.Second != 0 {
		v.fail("duration", "%s is not a whole number of seconds", d)
		return def
	}
	if d < lo || d > hi {
		v.fail("duration", "%s is out of range (%s–%s, i.e. %d–%d seconds)", fmtDur(d), fmtDur(lo), fmtDur(hi), int64(lo/time.Second), int64(hi/time.Second))
		return def
	}
	return d
}

func fmtDur(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// endpoint checks a base URL: https, or http only for loopback hosts.
func (v *validator) endpoint(key, raw string, allowPath bool) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.fail(key, "%q is not an http(s) URL", raw)
		return ""
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		v.fail(key, "http:// is allowed only for loopback addresses; use https://")
		return ""
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		v.fail(key, "%q must not carry user info, a query or a fragment", raw)
		return ""
	}
	if !allowPath && u.Path != "" && u.Path != "/" {
		v.fail(key, "%q must be a base URL (scheme, host, port) without a path", raw)
		return ""
	}
	return strings.TrimSuffix(raw, "/")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) tencent(p *Profile, r rawProfile) {
	p.API = v.oneOf("api", r.API, APIFederationToken, APIAssumeRole, APIWebIdentity)
	p.APIVersion = 3
	if v.has("api_version") {
		switch r.APIVersion {
		case 2, 3:
			p.APIVersion = int(r.APIVersion)
		default:
			v.fail("api_version", "%d is not 2 (legacy sts.api.qcloud.com) or 3 (API 3.0, the default)", r.APIVersion)
		}
	}
	if p.Region == "" {
		p.Region = "ap-guangzhou"
	}
	p.Endpoint = v.endpoint("endpoint", r.Endpoint, false)

	allowed := append(append([]string{}, commonKeys...), "api", "endpoint")
	switch p.API {
	case APIFederationToken:
		allowed = append(allowed, "api_version", "name")
		if p.APIVersion == 2 {
			allowed = append(allowed, "signature_method")
			p.SignatureMethod = v.oneOf("signature_method", r.SignatureMethod, "HmacSHA256", "HmacSHA1")
		}
		p.Duration = v.duration(r.Duration, 1800*time.Second, time.Second, 129600*time.Second)
		p.FederationName = r.Name
		if p.FederationName == "" {
			p.FederationName = p.Name
		}
		if !federationNameRE.MatchString(p.FederationName) {
			v.fail("name", "%q: GetFederationToken's name is 1–32 letters, digits or +=,.@_-", p.FederationName)
		}
		if !v.has("policy") && !v.has("policy_file") {
			v.require("policy", "", "for GetFederationToken (set policy or policy_file)")
		}
		v.require("key", r.Key, "(the keystore entry holding the SecretId/SecretKey)")
	case APIAssumeRole, APIWebIdentity:
		allowed = append(allowed, "role_arn", "role_session_name")
		p.Duration = v.duration(r.Duration, 7200*time.Second, time.Second, 43200*time.Second)
		p.RoleARN, p.RoleSessionName = r.RoleARN, r.RoleSessionName
		v.require("role_arn", r.RoleARN, "for "+p.API)
		if r.RoleARN != "" && !roleARNRE.MatchString(r.RoleARN) {
			v.fail("role_arn", "%q is not a role ARN like qcs::cam::uin/100000000001:roleName/my-role", r.RoleARN)
		}
		if p.RoleSessionName == "" {
			p.RoleSessionName = "credd-" + p.Name
		}
		if !sessionNameRE.MatchString(p.RoleSessionName) {
			v.fail("role_session_name", "%q: role session names are 2–128 letters, digits or +=,.@_-", p.RoleSessionName)
		}
		if p.API == APIAssumeRole {
			allowed = append(allowed, "external_id")
			p.ExternalID = r.ExternalID
			v.require("key", r.Key, "(the keystore entry holding the SecretId/SecretKey)")
		} else {
			// Keyless, and the API takes no policy: the role's own applies.
			allowed = slices.DeleteFunc(allowed, func(k string) bool { return k == "key" || k == "policy" || k == "policy_file" })
			allowed = append(allowed, "provider_id", "web_identity_token_file")
			p.ProviderID = r.ProviderID
			v.require("provider_id", r.ProviderID, "for AssumeRoleWithWebIdentity")
			v.require("web_identity_token_file", r.WebIdentityTokenFile, "for AssumeRoleWithWebIdentity")
			if r.WebIdentityTokenFile != "" {
				p.WebIdentityTokenFile = v.path(r.WebIdentityTokenFile)
			}
		}
	}
	if strings.Contains(strings.ToLower(p.Policy), "principal") {
		v.fail(policyKey(r), "Tencent policies for temporary credentials must not contain \"principal\"")
	}
	v.only(allowed, fmt.Sprintf("tencent %s", p.API))
}

func policyKey(r rawProfile) string {
	if r.PolicyFile != "" {
		return "policy_file"
	}
	return "policy"
}

func (v *validator) huawei(p *Profile, r rawProfile) {
	p.Method = v.oneOf("method", r.Method, MethodFederation, MethodToken, MethodAssumeRole)
	p.IAMEndpoint = v.endpoint("iam_endpoint", r.IAMEndpoint, false)
	if p.IAMEndpoint == "" && !v.has("iam_endpoint") {
		p.IAMEndpoint = "https://iam.myhuaweicloud.com"
	}
	p.Duration = v.duration(r.Duration, 900*time.Second, 900*time.Second, 86400*time.Second)
	if p.Policy != "" {
		var b bytes.Buffer
		if json.Compact(&b, []byte(p.Policy)) == nil && b.Len() > 2048 {
			v.fail(policyKey(r), "the policy is %d characters compacted; Huawei allows at most 2048", b.Len())
		}
	}
	allowed := append(append([]string{}, commonKeys...), "method", "iam_endpoint")
	ecp := func() {
		allowed = append(allowed, "idp_id", "protocol_id", "idp_url")
		p.IdpID, p.ProtocolID = r.IdpID, r.ProtocolID
		p.IdpURL = v.endpoint("idp_url", r.IdpURL, true)
		v.require("idp_id", r.IdpID, "for SAML federation")
		v.require("protocol_id", r.ProtocolID, "for SAML federation")
		v.require("idp_url", r.IdpURL, "for SAML federation (the IdP's ECP endpoint)")
		v.require("key", r.Key, "(the keystore entry of kind password for the IdP)")
	}
	switch p.Method {
	case MethodFederation:
		// The federation credential API takes no policy: the IdP's mapping decides.
		allowed = slices.DeleteFunc(allowed, func(k string) bool { return k == "policy" || k == "policy_file" })
		ecp()
	case MethodToken:
		allowed = append(allowed, "login")
		p.Login = v.oneOf("login", r.Login, LoginPassword, LoginFederation, LoginOIDC)
		switch p.Login {
		case LoginPassword:
			allowed = append(allowed, "domain_name", "project")
			p.DomainName, p.ProjectName = r.DomainName, r.Project
			v.require("domain_name", r.DomainName, "for login = \"password\" (the account name)")
			v.require("key", r.Key, "(the keystore entry of kind password for the IAM user)")
		case LoginFederation:
			ecp()
		case LoginOIDC:
			allowed = slices.DeleteFunc(allowed, func(k string) bool { return k == "key" })
			allowed = append(allowed, "idp_id", "id_token_file")
			p.IdpID = r.IdpID
			v.require("idp_id", r.IdpID, "for login = \"oidc\"")
			v.require("id_token_file", r.IDTokenFile, "for login = \"oidc\"")
			if r.IDTokenFile != "" {
				p.IDTokenFile = v.path(r.IDTokenFile)
			}
		}
	case MethodAssumeRole:
		allowed = append(allowed, "agency_name", "domain_name", "domain_id", "session_user")
		p.AgencyName, p.DomainName, p.DomainID, p.SessionUser = r.AgencyName, r.DomainName, r.DomainID, r.SessionUser
		v.require("agency_name", r.AgencyName, "for method = \"assume_role\"")
		if r.DomainName == "" && r.DomainID == "" {
			v.fail("", "domain_name or domain_id is required for method = \"assume_role\"")
		}
		v.require("key", r.Key, "(the keystore entry of kind huawei-aksk)")
		for k, val := range map[string]string{"agency_name": r.AgencyName, "session_user": r.SessionUser} {
			if val != "" && !huaweiNameRE.MatchString(val) {
				v.fail(k, "%q must be 1–64 printable characters", val)
			}
		}
	}
	label := p.Method
	if p.Method == MethodToken {
		label += " login " + p.Login
	}
	v.only(allowed, "huawei method "+label)
}

// mergeDaemon folds one file's [daemon] table in; later files win per key.
func (l *loader) mergeDaemon(d *rawDaemon, idx positions) {
	if l.daemonAt == nil {
		l.daemonAt = map[string]pos{}
	}
	set := func(dst **string, src *string, key string) {
		if src != nil {
			*dst = src
			l.daemonAt[key] = idx["daemon."+key]
		}
	}
	set(&l.daemon.Keystore, d.Keystore, "keystore")
	if d.KeystoreDir != nil && *d.KeystoreDir != "" && !filepath.IsAbs(*d.KeystoreDir) {
		// Relative to the file that names it, like every path in the config.
		abs := filepath.Join(filepath.Dir(idx["daemon.keystore_dir"].file), *d.KeystoreDir)
		d.KeystoreDir = &abs
	}
	set(&l.daemon.KeystoreDir, d.KeystoreDir, "keystore_dir")
	set(&l.daemon.LogLevel, d.LogLevel, "log_level")
	set(&l.daemon.SocketMode, d.SocketMode, "socket_mode")
	set(&l.daemon.SocketGroup, d.SocketGroup, "socket_group")
}

func (l *loader) finishDaemon() {
	d := &l.cfg.Daemon
	d.Keystore, d.LogLevel, d.SocketMode = "keyring", "info", 0o600
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if s := str(l.daemon.Keystore); s != "" {
		if !slices.Contains([]string{"keyring", "file", "systemd"}, s) {
			l.problem(l.daemonAt["keystore"], "daemon: keystore: %q is not one of keyring, file, systemd", s)
		}
		d.Keystore = s
	}
	d.KeystoreDir = str(l.daemon.KeystoreDir)
	if s := str(l.daemon.LogLevel); s != "" {
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, s) {
			l.problem(l.daemonAt["log_level"], "daemon: log_level: %q is not one of debug, info, warn, error", s)
		}
		d.LogLevel = s
	}
	if s := str(l.daemon.SocketMode); s != "" {
		m, err := strconv.ParseUint(s, 8, 32)
		if err != nil || m > 0o777 || m&0o600 != 0o600 {
			l.problem(l.daemonAt["socket_mode"], "daemon: socket_mode: %q is not an octal mode like \"0660\" that lets the owner read and write", s)
		} else {
			d.SocketMode = os.FileMode(m)
		}
	}
	d.SocketGroup = str(l.daemon.SocketGroup)
}

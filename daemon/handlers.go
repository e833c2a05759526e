package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
)

// maxBody bounds request bodies; the largest legitimate one is a key.
const maxBody = 64 << 10

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	v := apitype.APIVersion
	routes := []struct {
		method, path string
		h            handlerFunc
	}{
		{"GET", v + "/status", d.getStatus},
		{"GET", v + "/profiles", d.getProfiles},
		{"GET", v + "/profiles/{name}/credentials", d.getCredentials},
		{"POST", v + "/profiles/{name}/refresh", d.postRefresh},
		{"POST", v + "/reload", d.postReload},
		{"GET", v + "/keys", d.getKeys},
		{"PUT", v + "/keys/{name}", d.putKey},
		{"DELETE", v + "/keys/{name}", d.deleteKey},
	}
	allowed := map[string][]string{}
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, d.handle(rt.h))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// net/http would answer a wrong method or an unknown path in plain
	// text; every answer here has the one error shape.
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, d.handle(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allow)
			return errorf(http.StatusMethodNotAllowed, apitype.CodeBadRequest, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, allow))
		}))
	}
	mux.HandleFunc("/", d.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, apitype.CodeNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The mux would redirect a path with "..", "//" or "." elements.
		if p := r.URL.Path; p == "" || path.Clean(p) != p {
			d.writeError(w, r, errorf(http.StatusBadRequest, apitype.CodeBadRequest, fmt.Sprintf("malformed path %q", p)))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		mux.ServeHTTP(w, r)
	})
}

func (d *Daemon) getStatus(w http.ResponseWriter, r *http.Request) error {
	d.mu.RLock()
	s := apitype.Status{
		Version:         d.opts.Version,
		PID:             os.Getpid(),
		StartedAt:       d.started,
		UptimeSeconds:   time.Since(d.started).Seconds(),
		ConfigPath:      d.cfg.Path,
		Generation:      d.gen,
		LoadedAt:        d.loadedAt,
		Keystore:        d.store.Backend(),
		ProfileCount:    len(d.profiles),
		Socket:          d.opts.SocketPath,
		SocketActivated: d.opts.Activated,
	}
	if d.reloadErr != nil {
		s.LastReloadError = d.reloadErr.Error()
		s.LastReloadAt = d.reloadedAt
	}
	d.mu.RUnlock()
	return writeJSON(w, http.StatusOK, s)
}

// visible returns the profiles the peer may read, sorted by name.
func (d *Daemon) visible(r *http.Request) []*profile {
	peer := peerFrom(r)
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*profile
	for _, p := range d.profiles {
		if ok, _ := d.mayRead(peer, p.cfg); ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *profile) int {
		if a.cfg.Name < b.cfg.Name {
			return -1
		}
		return 1
	})
	return out
}

func (d *Daemon) getProfiles(w http.ResponseWriter, r *http.Request) error {
	ps := d.visible(r)
	out := apitype.Profiles{Profiles: make([]apitype.Profile, 0, len(ps))}
	for _, p := range ps {
		st := p.r.Status()
		ap := apitype.Profile{
			Name:          p.cfg.Name,
			Provider:      p.cfg.Provider,
			Method:        p.cfg.MethodLabel(),
			Region:        p.cfg.Region,
			Refresh:       p.cfg.Refresh,
			State:         st.State,
			AccessKeyID:   st.AccessKeyID,
			ExpiresAt:     st.ExpiresAt,
			NextRefreshAt: st.NextRefreshAt,
			LastRefreshAt: st.LastRefreshAt,
			UpstreamCalls: st.Calls,
			Failures:      st.Failures,
		}
		if st.LastError != nil {
			ap.LastError = st.LastError.Error()
			ap.ErrorClass = string(providers.ClassOf(st.LastError))
			ap.ErrorCode = providers.CodeOf(st.LastError)
		}
		out.Profiles = append(out.Profiles, ap)
	}
	return writeJSON(w, http.StatusOK, out)
}

// lookup finds a profile the peer may read. An unknown profile is a 404
// that lists the names the peer may see; a known but forbidden one a 403.
func (d *Daemon) lookup(r *http.Request, op string) (*profile, error) {
	name := r.PathValue("name")
	d.mu.RLock()
	p := d.profiles[name]
	d.mu.RUnlock()
	if p == nil {
		var known []string
		for _, v := range d.visible(r) {
			known = append(known, v.cfg.Name)
		}
		e := errorf(http.StatusNotFound, apitype.CodeNotFound, fmt.Sprintf("unknown profile %q", name))
		e.detail.Known = known
		return nil, e
	}
	if ok, rule := d.mayRead(peerFrom(r), p.cfg); !ok {
		return nil, d.deny(r, op, rule)
	}
	return p, nil
}

func (d *Daemon) getCredentials(w http.ResponseWriter, r *http.Request) error {
	p, err := d.lookup(r, "credentials")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), refresh.FetchTimeout+5*time.Second)
	defer cancel()
	c, err := p.r.Get(ctx)
	if err != nil {
		return d.unavailable(p, err)
	}
	body := credentialsBody(p.cfg.Name, p.cfg.Provider, p.cfg.Region, c)
	c.Zero()
	defer clear(body)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	_, err = w.Write(body)
	return err
}

// unavailable is the 503 for a profile whose credentials cannot be had.
func (d *Daemon) unavailable(p *profile, err error) error {
	name := p.cfg.Name
	e := errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable, fmt.Sprintf("fetch profile %q: %v", name, err))
	var pe *providers.Error
	if errors.As(err, &pe) {
		e.detail.Upstream = pe.Code
		e.detail.Hint = pe.Hint()
		// Providers say what went wrong with a key; how to store one
		// depends on the keystore, which only the daemon knows. A key the
		// keystore could not read at all (a locked keyring) keeps the
		// provider's hint.
		unreadable := pe.Class == providers.MissingKey && pe.Err != nil && !errors.Is(err, keystore.ErrNotFound)
		if (pe.Class == providers.BadCredentials || pe.Class == providers.MissingKey) && !unreadable {
			e.detail.Hint = d.keyHint(p.cfg)
		}
	}
	if errors.Is(err, refresh.ErrStopped) {
		e = errorf(http.StatusNotFound, apitype.CodeNotFound, fmt.Sprintf("profile %q was removed by a reload", name))
	}
	return e
}

func (d *Daemon) postRefresh(w http.ResponseWriter, r *http.Request) error {
	p, err := d.lookup(r, "refresh")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), refresh.FetchTimeout+5*time.Second)
	defer cancel()
	c, err := p.r.Refresh(ctx)
	if err != nil {
		return d.unavailable(p, err)
	}
	c.Zero()
	st := p.r.Status()
	return writeJSON(w, http.StatusOK, apitype.Profile{
		Name: p.cfg.Name, Provider: p.cfg.Provider, Method: p.cfg.MethodLabel(), State: st.State,
		AccessKeyID: st.AccessKeyID, ExpiresAt: st.ExpiresAt, NextRefreshAt: st.NextRefreshAt,
		LastRefreshAt: st.LastRefreshAt, UpstreamCalls: st.Calls, Refresh: p.cfg.Refresh,
	})
}

func (d *Daemon) postReload(w http.ResponseWriter, r *http.Request) error {
	if err := d.requirePrivileged(r, "reload"); err != nil {
		return err
	}
	changed, err := d.Reload()
	if err != nil {
		return errorf(http.StatusBadRequest, apitype.CodeReloadFailed, "config rejected; the previous config keeps serving:\n"+err.Error())
	}
	d.mu.RLock()
	gen := d.gen
	d.mu.RUnlock()
	return writeJSON(w, http.StatusOK, apitype.Reload{Generation: gen, Changed: changed})
}

// keyHint says how to store a profile's key in the keystore credd uses.
func (d *Daemon) keyHint(pc *config.Profile) string {
	kind := "password"
	switch {
	case pc.Provider == "tencent":
		kind = "tencent"
	case pc.Method == config.MethodAssumeRole:
		kind = "huawei-aksk"
	}
	if readOnly(d.keystore()) {
		return fmt.Sprintf("encrypt the %s entry for key %q with `systemd-creds encrypt --name=%s entry.json %s.cred`, pass it with LoadCredentialEncrypted=%s:/etc/credd/creds/%s.cred in credd.service, and restart credd",
			kind, pc.Key, pc.Key, pc.Key, pc.Key, pc.Key)
	}
	return fmt.Sprintf("store a valid key with `credctl key set %s --kind %s`", pc.Key, kind)
}

func (d *Daemon) keystore() keystore.Store {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.store
}

func readOnly(s keystore.Store) bool {
	ro, ok := s.(interface{ ReadOnly() bool })
	return ok && ro.ReadOnly()
}

func (d *Daemon) getKeys(w http.ResponseWriter, r *http.Request) error {
	if err := d.requirePrivileged(r, "key list"); err != nil {
		return err
	}
	s := d.keystore()
	infos, err := s.List(r.Context())
	if err != nil {
		return keyError(err)
	}
	out := apitype.Keys{Backend: s.Backend(), ReadOnly: readOnly(s), Keys: []apitype.Key{}}
	for _, i := range infos {
		out.Keys = append(out.Keys, apitype.Key{Name: i.Name, Kind: i.Kind})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (d *Daemon) putKey(w http.ResponseWriter, r *http.Request) error {
	if err := d.requirePrivileged(r, "key set"); err != nil {
		return err
	}
	// Decoded by hand from one buffer wiped afterwards: encoding/json would
	// leave the key in strings and in its decoder's buffer, and a growing
	// buffer leaves copies behind.
	body, err := readBody(r)
	defer clear(body)
	if err != nil {
		return errorf(http.StatusBadRequest, apitype.CodeBadRequest, "read key: "+jsonErr(err))
	}
	e, err := keystore.DecodeEntry(r.PathValue("name"), body)
	if err != nil {
		return errorf(http.StatusBadRequest, apitype.CodeBadRequest, err.Error())
	}
	defer e.Zero()
	if err := keystore.Validate(e); err != nil {
		return errorf(http.StatusBadRequest, apitype.CodeBadRequest, err.Error())
	}
	if err := d.keystore().Set(r.Context(), e); err != nil {
		return keyError(err)
	}
	d.log.Info("key stored", "key", e.Name, "kind", e.Kind)
	// Profiles waiting out a backoff on this key try again at once.
	d.mu.RLock()
	for _, p := range d.profiles {
		if p.cfg.Key == e.Name {
			p.r.Kick()
		}
	}
	d.mu.RUnlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readBody reads a request body into a buffer sized once from
// Content-Length (MaxBytesReader bounds it), or grown when the length is
// not announced.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= maxBody {
		b := make([]byte, n)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	return io.ReadAll(r.Body)
}

func (d *Daemon) deleteKey(w http.ResponseWriter, r *http.Request) error {
	if err := d.requirePrivileged(r, "key rm"); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := keystore.ValidateName(name); err != nil {
		return errorf(http.StatusBadRequest, apitype.CodeBadRequest, err.Error())
	}
	if err := d.keystore().Delete(r.Context(), name); err != nil {
		return keyError(err)
	}
	d.log.Info("key removed", "key", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func keyError(err error) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return errorf(http.StatusNotFound, apitype.CodeNotFound, err.Error())
	case errors.Is(err, keystore.ErrReadOnly):
		return errorf(http.StatusConflict, apitype.CodeReadOnly, err.Error()).
			withHint("encrypt the key with `systemd-creds encrypt` and load it with LoadCredentialEncrypted= in the unit")
	}
	return errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable, "keystore: "+err.Error())
}

// jsonErr describes a JSON decoding error without echoing the input, which
// may hold a secret.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Sprintf("body larger than %d bytes", mbe.Limit)
	}
	return "malformed JSON"
}

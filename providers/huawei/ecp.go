package huawei

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"

	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/providers/huawei/ecp"
)

// maxRedirects bounds the SP's post-assertion redirect chain.
const maxRedirects = 5

// fetchFederation is method "federation": ECP against the credential endpoint.
func (p *Provider) fetchFederation(ctx context.Context) (providers.Credential, error) {
	const op = "federation credential"
	sp := p.url(fmt.Sprintf("/v3-ext/OS-FEDERATION/identity_providers/%s/protocols/%s/credential?duration_seconds=%d",
		url.PathEscape(p.prof.IdpID), url.PathEscape(p.prof.ProtocolID), p.durationSeconds()))
	r, err := p.ecpLogin(ctx, op, sp)
	if err != nil {
		return providers.Credential{}, err
	}
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		return providers.Credential{}, apiError(op, r.status, r.body, "idp_id")
	}
	return parseCredential(op, r.body)
}

// ecpLogin runs the SAML2 ECP exchange for the protected resource spURL and
// returns the SP's final answer. It follows keystoneauth1's saml2 Password
// plugin, with one addition: the SP's responseConsumerURL and any redirect
// must be https (or loopback http).
func (p *Provider) ecpLogin(ctx context.Context, op, spURL string) (*response, error) {
	entry, err := p.key(ctx, KindPassword)
	if err != nil {
		return nil, err
	}
	defer entry.Zero()

	// One cookie jar per fetch: the SP's session must not outlive it.
	jar, _ := cookiejar.New(nil)
	c := *p.client
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// 1. Ask the SP for the resource, announcing ECP support.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, spURL, nil)
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "iam_endpoint", Err: err}
	}
	req.Header.Set("Accept", "text/html, "+ecp.ContentType)
	req.Header.Set("PAOS", ecp.PAOSHeader)
	r, err := do(&c, req, op)
	if err != nil {
		return nil, err
	}
	switch {
	case r.status == http.StatusFound || r.status == http.StatusSeeOther || r.status == http.StatusMovedPermanently || r.status == http.StatusTemporaryRedirect:
		loc := r.header.Get("Location")
		if u, err := url.Parse(loc); err == nil {
			u.RawQuery = ""
			loc = u.String()
		}
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "protocol_id", Status: r.status,
			Message: fmt.Sprintf("the SP redirected to %q (a WebSSO login) instead of starting ECP: protocol %q of identity provider %q is not ECP-enabled, or a proxy dropped the Accept/PAOS headers",
				loc, p.prof.ProtocolID, p.prof.IdpID)}
	case r.status >= 300:
		return nil, apiError(op, r.status, r.body, "idp_id")
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != ecp.ContentType {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "iam_endpoint", Status: r.status,
			Message: fmt.Sprintf("the SP answered %d with Content-Type %q instead of an ECP (PAOS) request; is iam_endpoint right?", r.status, r.header.Get("Content-Type"))}
	}
	authn, err := ecp.ParseSPRequest(r.body)
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: err}
	}
	consumer, err := checkURL(authn.ResponseConsumerURL)
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "iam_endpoint",
			Message: fmt.Sprintf("refusing the SP's responseConsumerURL: %v", err)}
	}

	// 2. Hand the AuthnRequest, without the SP's header, to the IdP.
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.prof.IdpURL, bytes.NewReader(authn.IdPRequest))
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "idp_url", Err: err}
	}
	req.Header.Set("Content-Type", "text/xml")
	req.SetBasicAuth(entry.Field("username").Reveal(), entry.Field("password").Reveal())
	r, err = do(&c, req, op+" (IdP)")
	if err != nil {
		return nil, err
	}
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return nil, &providers.Error{Provider: "huawei", Op: op + " (IdP)", Class: providers.BadCredentials, Status: r.status,
			Message: fmt.Sprintf("the IdP rejected the username or password of key %q", p.prof.Key)}
	case r.status >= 500:
		return nil, &providers.Error{Provider: "huawei", Op: op + " (IdP)", Class: providers.Transient, Status: r.status,
			Message: fmt.Sprintf("the IdP answered HTTP %d", r.status)}
	case r.status != http.StatusOK:
		return nil, &providers.Error{Provider: "huawei", Op: op + " (IdP)", Class: providers.InvalidParameter, Key: "idp_url", Status: r.status,
			Message: fmt.Sprintf("the IdP answered HTTP %d; is idp_url its ECP (SOAP) endpoint?", r.status)}
	}
	idpResp, err := ecp.ParseIdPResponse(r.body)
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op + " (IdP)", Class: providers.Transient, Err: err}
	}

	// 3. The IdP must mean the assertion for the consumer the SP named.
	// Otherwise tell the SP we gave up, and never send the assertion.
	if idpResp.AssertionConsumerServiceURL != authn.ResponseConsumerURL {
		p.sendFault(ctx, &c, consumer.String())
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.InvalidParameter, Key: "idp_url",
			Message: fmt.Sprintf("the IdP's AssertionConsumerServiceURL %q differs from the SP's responseConsumerURL %q; the assertion was not sent",
				idpResp.AssertionConsumerServiceURL, authn.ResponseConsumerURL)}
	}

	// 4. Relay the assertion with the SP's RelayState, then follow the SP
	// back to the resource with the session cookie it set.
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, consumer.String(), bytes.NewReader(idpResp.ForSP(authn.RelayState)))
	if err != nil {
		return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: err}
	}
	req.Header.Set("Content-Type", ecp.ContentType)
	r, err = do(&c, req, op+" (SP consumer)")
	if err != nil {
		return nil, err
	}
	for hops := 0; r.status == http.StatusFound || r.status == http.StatusSeeOther; hops++ {
		if hops == maxRedirects {
			return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Message: "too many redirects after the assertion"}
		}
		next, err := r.url.Parse(r.header.Get("Location"))
		if err == nil {
			_, err = checkURL(next.String())
		}
		if err != nil {
			return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Message: "bad redirect after the assertion", Err: err}
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		if err != nil {
			return nil, &providers.Error{Provider: "huawei", Op: op, Class: providers.Transient, Err: err}
		}
		req.Header.Set("Content-Type", ecp.ContentType)
		if r, err = do(&c, req, op); err != nil {
			return nil, err
		}
	}
	p.log.DebugContext(ctx, "ecp exchange done", "status", r.status, "method", p.prof.MethodLabel())
	return r, nil
}

// sendFault tells the SP the exchange was abandoned. Its outcome does not
// matter: the fetch fails either way.
func (p *Provider) sendFault(ctx context.Context, c *http.Client, consumer string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, consumer,
		bytes.NewReader(ecp.Fault("responseConsumerURL from SP and assertionConsumerServiceURL from IdP do not match")))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", ecp.ContentType)
	if _, err := do(c, req, "ecp fault"); err != nil {
		p.log.WarnContext(ctx, "could not send SOAP fault to the SP", "err", err)
	}
}

// ecpTokenURL is the federated login endpoint of login = "federation".
func (p *Provider) ecpTokenURL() string {
	return p.url(fmt.Sprintf("/v3/OS-FEDERATION/identity_providers/%s/protocols/%s/auth",
		url.PathEscape(p.prof.IdpID), url.PathEscape(p.prof.ProtocolID)))
}

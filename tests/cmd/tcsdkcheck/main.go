// Package main is tcsdkcheck, which proves that credentials exported by
// credctl work in an ordinary tencentcloud-sdk-go program: it reads them
// from the environment the way a user's program would, calls STS
// GetCallerIdentity with the real SDK, and prints who the caller is. It
// exits 0 on success and 1 with the error otherwise.
//
// The SDK's env provider reads TENCENTCLOUD_SECRET_ID and
// TENCENTCLOUD_SECRET_KEY but no token, so the session token is taken from
// TENCENTCLOUD_SESSION_TOKEN (or TENCENTCLOUD_SECURITY_TOKEN) as tccli and
// the other SDKs do.
//
//	tcsdkcheck -endpoint http://127.0.0.1:PORT [-expect-token-file F]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sts "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sts/v20180813"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tcsdkcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tcsdkcheck", flag.ContinueOnError)
	endpoint := fs.String("endpoint", os.Getenv("TCSDKCHECK_ENDPOINT"), "STS base URL, e.g. http://127.0.0.1:PORT (default: $TCSDKCHECK_ENDPOINT, else sts.tencentcloudapi.com)")
	region := fs.String("region", "", "region (default: $TENCENTCLOUD_REGION, else ap-guangzhou)")
	expectTokenFile := fs.String("expect-token-file", "", "fail unless TENCENTCLOUD_SESSION_TOKEN equals this file's bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}

	base, err := common.DefaultEnvProvider().GetCredential()
	if err != nil {
		return fmt.Errorf("credentials from the environment: %v", err)
	}
	token, ok := os.LookupEnv("TENCENTCLOUD_SESSION_TOKEN")
	if !ok {
		token = os.Getenv("TENCENTCLOUD_SECURITY_TOKEN")
	}
	if *expectTokenFile != "" {
		want, err := os.ReadFile(*expectTokenFile)
		if err != nil {
			return err
		}
		if !bytes.Equal(want, []byte(token)) {
			return fmt.Errorf("TENCENTCLOUD_SESSION_TOKEN differs from %s (%d bytes, want %d)", *expectTokenFile, len(token), len(want))
		}
	}
	cred := common.NewTokenCredential(base.GetSecretId(), base.GetSecretKey(), token)

	cpf := profile.NewClientProfile()
	if *endpoint != "" {
		u, err := url.Parse(*endpoint)
		if err != nil || u.Host == "" {
			return fmt.Errorf("endpoint %q is not a URL", *endpoint)
		}
		cpf.HttpProfile.Endpoint = u.Host
		cpf.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	}
	if *region == "" {
		*region = os.Getenv("TENCENTCLOUD_REGION")
	}
	if *region == "" {
		*region = "ap-guangzhou"
	}
	client, err := sts.NewClient(cred, *region, cpf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := client.GetCallerIdentityWithContext(ctx, sts.NewGetCallerIdentityRequest())
	if err != nil {
		return fmt.Errorf("GetCallerIdentity: %v", err)
	}
	r := resp.Response
	fmt.Fprintf(stdout, "secret_id=%s\narn=%s\naccount_id=%s\nuser_id=%s\ntype=%s\n",
		cred.GetSecretId(), deref(r.Arn), deref(r.AccountId), deref(r.UserId), deref(r.Type))
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

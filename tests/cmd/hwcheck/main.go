// Package main is hwcheck, which proves that a temporary Huawei credential
// handed out by credd works: it signs a request to the emulator's check
// endpoint with HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and
// HUAWEICLOUD_SDK_SECURITY_TOKEN from the environment and exits 0 when the
// emulator accepts it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/credd-dev/credd/providers/huawei/signer"
	"github.com/credd-dev/credd/secret"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hwcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hwcheck", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "emulator base URL, e.g. http://127.0.0.1:8080")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" {
		return errors.New("-endpoint is required")
	}
	ak := os.Getenv("HUAWEICLOUD_SDK_AK")
	sk := secret.New(os.Getenv("HUAWEICLOUD_SDK_SK"))
	tok := secret.New(os.Getenv("HUAWEICLOUD_SDK_SECURITY_TOKEN"))
	if ak == "" || sk.IsEmpty() || tok.IsEmpty() {
		return errors.New("HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and HUAWEICLOUD_SDK_SECURITY_TOKEN must be set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*endpoint, "/")+"/v3/check", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := (signer.Signer{AccessKey: ak, SecretKey: sk, SecurityToken: tok}).Sign(req, nil); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("check rejected: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	_, err = fmt.Fprintf(stdout, "%s\n", strings.TrimSpace(string(body)))
	return err
}

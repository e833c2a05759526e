// Package main is credd, the credential daemon: it keeps long-lived keys in
// a keystore, fetches temporary cloud credentials, keeps them fresh and
// serves them to credctl over a Unix socket.
package main

import (
	"os"

	"github.com/credd-dev/credd/cmd/credd/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }

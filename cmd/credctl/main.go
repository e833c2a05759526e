// Package main is credctl, the thin client of credd: it asks the daemon for
// temporary credentials and hands them to shells, programs and SDKs.
package main

import (
	"os"

	"github.com/credd-dev/credd/cmd/credctl/cli"
)

func main() { os.Exit(cli.Main()) }

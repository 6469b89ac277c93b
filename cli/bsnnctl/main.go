// Command bsnnctl is the bsnnctl toolkit's command line; everything lives in
// package cli (see cli.Main).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bsnnctl/bsnnctl/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command bbssh is a babashka pod that gives babashka scripts SSH:
// sessions, remote commands, file copy and port forwarding.
//
// Load it from babashka with
//
//	(pods/load-pod "bbssh" {:transport :socket})
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"bbssh/api"
	"bbssh/pod"
	"bbssh/resources"
)

const usage = `bbssh %s: SSH for babashka, as a pod.

Load it from a babashka script:

    (require '[babashka.pods :as pods])
    (pods/load-pod "bbssh" {:transport :socket})
    (require '[pod.epiccastle.bbssh.core :as bbssh])

Flags:
  -v, --version   print the version and exit
Environment:
  BBSSH_DEBUG=1   log protocol diagnostics to stderr
  BBSSH_CPUPROFILE=FILE   write a pprof CPU profile of the pod's life
  BBSSH_MEMPROFILE=FILE   write a pprof allocation profile at exit
  GOMAXPROCS=N            run Go code on N threads at once (default: half
                          the CPUs, at least 1; docs/performance.md)
`

func main() {
	setPodProcs()
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("bbssh", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var version bool
	flags.BoolVar(&version, "v", false, "print the version and exit")
	flags.BoolVar(&version, "version", false, "print the version and exit")
	flags.Usage = func() { fmt.Fprintf(stderr, usage, resources.Version) }
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if version {
		fmt.Printf("bbssh version %s\n", resources.Version)
		return 0
	}
	if os.Getenv("BABASHKA_POD") == "" {
		fmt.Fprintln(stderr, "Error: bbssh needs to be run as a babashka pod.")
		flags.Usage()
		return 1
	}
	return servePod(stderr)
}

// servePod runs the pod until the client shuts it down or goes away, then
// closes every session and exits promptly.
func servePod(stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	// A client that dies closes our stdout: without this, the next reply
	// written there would kill the pod with SIGPIPE before it closes its
	// sessions and ProxyCommand process groups. Caught (not ignored), so
	// the write fails with EPIPE and children still get the default.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	if path := os.Getenv("BBSSH_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	if path := os.Getenv("BBSSH_MEMPROFILE"); path != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	var logf func(string, ...any)
	if os.Getenv("BBSSH_DEBUG") != "" {
		logger := log.New(stderr, "bbssh: ", log.Lmicroseconds)
		logf = logger.Printf
	}
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "bbssh: %v\n", err)
		return 1
	}
	acceptCtx, cancelAccept := context.WithTimeout(ctx, pod.AcceptTimeout)
	transport, err := pod.TransportFromEnv(acceptCtx, cwd)
	cancelAccept()
	if err != nil {
		fmt.Fprintf(stderr, "bbssh: %v\n", err)
		return 1
	}
	defer transport.Close()

	engine := api.New()
	srv := pod.NewServer(pod.Options{ID: "pod.epiccastle.bbssh", ErrorType: api.ErrorNS + "/error", Logf: logf})
	engine.Register(srv)
	for _, ns := range resources.ClientNamespaces() {
		srv.Namespace(ns.Name).SetCode(ns.Code)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, transport, transport) }()
	code := 0
	select {
	case err := <-served:
		if err != nil {
			fmt.Fprintf(stderr, "bbssh: %v\n", err)
			code = 1
		}
	case <-ctx.Done():
	}
	// Close every session (and so every forward and command), but never
	// let a stuck peer keep the process alive.
	closed := make(chan struct{})
	go func() { engine.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(800 * time.Millisecond):
	}
	return code
}

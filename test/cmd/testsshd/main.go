// Command testsshd runs the bbssh test bed (a real OpenSSH sshd on
// 127.0.0.1, see package bbssh/test/testbed) for demos, benchmarks and
// manual testing.
//
//	go run ./test/cmd/testsshd [-env-file PATH] [-v] [-dropbear] [-- command args...]
//
// It prints the server's BBSSH_TEST_* variables to stderr and, with
// -env-file, writes them as `export K='V'` lines for a shell to source. With
// a command, it runs the command with those variables added to its
// environment (stdio inherited, same working directory) and exits with the
// command's status. Without one, it serves until SIGINT, SIGTERM or EOF on
// stdin (so with stdin at /dev/null it stops at once; keep stdin open, e.g.
// `sleep infinity | testsshd`). sshd is stopped on every path.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"bbssh/test/testbed"
)

// childGrace is how long a command may take to exit after a forwarded
// signal before it is killed.
const childGrace = 10 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its inputs explicit, for testing. It returns the process
// exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testsshd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "also write the variables as `export K='V'` lines to this file")
	verbose := fs.Bool("v", false, "log test bed progress to stderr")
	dropbear := fs.Bool("dropbear", false, "run dropbear instead of OpenSSH's sshd (needs root)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: testsshd [-env-file PATH] [-v] [-dropbear] [-- command args...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}

	// Catch signals before starting sshd so none can skip Stop.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	opts := testbed.Options{}
	if *verbose {
		opts.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	}
	var srv *testbed.Server
	var err error
	if *dropbear {
		srv, err = testbed.StartDropbear(testbed.DropbearOptions{Logf: opts.Logf})
	} else {
		srv, err = testbed.Start(opts)
	}
	if err != nil {
		fmt.Fprintln(stderr, "testsshd:", err)
		return 1
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(stderr, "testsshd:", err)
		}
	}()

	env := srv.Env()
	fmt.Fprintln(stderr, strings.Join(env, "\n"))
	if *envFile != "" {
		if err := writeEnvFile(*envFile, env); err != nil {
			fmt.Fprintln(stderr, "testsshd:", err)
			return 1
		}
	}
	if fs.NArg() == 0 {
		waitForEnd(stdin, sigs)
		return 0
	}
	return runCommand(fs.Args(), env, stdin, stdout, stderr, sigs)
}

// waitForEnd blocks until a signal arrives or stdin reaches EOF (or fails).
func waitForEnd(stdin io.Reader, sigs <-chan os.Signal) {
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(eof) }()
	select {
	case <-sigs:
	case <-eof:
	}
}

// runCommand runs argv with env appended to ours and returns its exit
// status, 128+signal if it was killed by a signal, or 127 if it could not be
// started. Signals we receive are forwarded; if the command has not exited
// childGrace later it is killed.
func runCommand(argv, env []string, stdin io.Reader, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testsshd:", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var kill <-chan time.Time
	for {
		select {
		case err := <-done:
			return exitStatus(err, stderr)
		case sig := <-sigs:
			_ = cmd.Process.Signal(sig)
			if kill == nil {
				kill = time.After(childGrace)
			}
		case <-kill:
			_ = cmd.Process.Kill()
		}
	}
}

// exitStatus converts cmd.Wait's error into a shell-style exit status.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintln(stderr, "testsshd:", err)
	return 1
}

// writeEnvFile writes env as shell export lines, single-quoting values.
// The file holds the test password, so it is private to the user.
func writeEnvFile(path string, env []string) error {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("testbed: write env file: %w", err)
	}
	return nil
}

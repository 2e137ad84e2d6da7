package bbssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// OutputMode says what happens to a remote command's stdout or stderr.
type OutputMode int

const (
	// Stream keeps the output in the channel's flow-controlled buffer
	// until the caller reads it with Process.Stdout / Stderr; a reader
	// that does not keep up slows the remote command, never the memory.
	Stream OutputMode = iota
	// Capture collects the whole output in memory, returned by Wait.
	Capture
	// Discard drops the output.
	Discard
)

// ExecOptions describe one remote command.
type ExecOptions struct {
	// Command is the command line, run by the remote user's shell.
	Command string
	// Stdin, when true, leaves stdin open for Process.Stdin; otherwise
	// StdinData (possibly empty) is sent and stdin is closed.
	Stdin     bool
	StdinData []byte
	// Stdout and Stderr say where the output goes.
	Stdout, Stderr OutputMode
	// Pty requests a pseudo-terminal of type Term (default "xterm") and
	// size Cols x Rows (default 80 x 24).
	Pty        bool
	Term       string
	Cols, Rows int
	// Env is sent as environment requests; the server's AcceptEnv decides
	// which it honours.
	Env map[string]string
	// AgentForwarding forwards the local ssh-agent to the command.
	AgentForwarding bool
}

// Result is how a remote command ended.
type Result struct {
	// ExitCode is the exit status, or -1 when the command was killed by
	// a signal or the connection ended first.
	ExitCode int
	// Signal names the signal that killed the command ("TERM"), if any.
	Signal string
	// Stdout and Stderr hold captured output (Capture mode only).
	Stdout, Stderr []byte
	// Err is set when no exit status arrived (connection lost).
	Err error
}

// Process is a remote command started by Session.Exec.
type Process struct {
	session *Session
	ssh     *ssh.Session
	release func() // gives back the channel's place under the server's limit
	stdin   io.WriteCloser
	stdout  io.Reader
	stderr  io.Reader
	outBuf  bytes.Buffer
	errBuf  bytes.Buffer
	done    chan struct{}
	result  Result

	closeOnce sync.Once
}

// startFailed describes a command that did not start: as the lost
// connection when the connection whose end closes dead ended meanwhile (a
// server that died with the request in flight leaves x/crypto/ssh saying
// only "EOF"), else as the server's refusal.
func (s *Session) startFailed(dead <-chan struct{}, err error, command string) error {
	if lost := s.lostDuring(dead, err); lost != nil {
		return errorf(KindClosed, lost, "cannot start %q", command)
	}
	return errorf(KindExec, err, "cannot start %q", command)
}

// Exec starts a command on the session.
func (s *Session) Exec(ctx context.Context, o ExecOptions) (*Process, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	client, err := s.Client()
	if err != nil {
		return nil, err
	}
	dead := s.Done()
	sess, release, err := s.openSession(ctx)
	if err != nil {
		if KindOf(err) != "" {
			return nil, err
		}
		return nil, errorf(KindExec, err, "cannot open a channel for %q", o.Command)
	}
	p := &Process{session: s, ssh: sess, release: release, done: make(chan struct{})}
	if err := p.setup(client, o); err != nil {
		sess.Close()
		release()
		return nil, err
	}
	if err := sess.Start(o.Command); err != nil {
		sess.Close()
		release()
		return nil, s.startFailed(dead, err, o.Command)
	}
	if !s.track(p) {
		release()
		return nil, errorf(KindNotConnected, nil, "session ended while starting %q", o.Command)
	}
	go p.wait()
	return p, nil
}

// validate refuses strings too long for one request (see MaxCommandLen).
func (o ExecOptions) validate() error {
	if err := checkLen("command", o.Command, MaxCommandLen); err != nil {
		return err
	}
	for k, v := range o.Env {
		if err := checkLen("environment variable "+truncate(k, 64), k+"="+v, MaxCommandLen); err != nil {
			return err
		}
	}
	return checkLen("terminal type", o.Term, MaxHostLen)
}

// sendEnv asks the server to set name to value for the session's command,
// without asking for a reply, as OpenSSH's ssh sends it: sshd accepts
// only the names its AcceptEnv lists and ignores the others, which ssh
// never learns either. Session.Setenv waits a round trip for the answer.
func sendEnv(sess *ssh.Session, name, value string) error {
	_, err := sess.SendRequest("env", false, ssh.Marshal(&struct{ Name, Value string }{name, value}))
	return err
}

func (p *Process) setup(client *ssh.Client, o ExecOptions) error {
	sess := p.ssh
	for k, v := range o.Env {
		// A refused variable is ignored, as ssh does; so, as ssh, the
		// request asks for no reply and costs no round trip.
		if err := sendEnv(sess, k, v); err != nil {
			return errorf(KindExec, err, "environment variable %s", truncate(k, 64))
		}
	}
	if o.Pty {
		term, cols, rows := o.Term, o.Cols, o.Rows
		if term == "" {
			term = "xterm"
		}
		if cols <= 0 {
			cols = 80
		}
		if rows <= 0 {
			rows = 24
		}
		if err := sess.RequestPty(term, rows, cols, ssh.TerminalModes{}); err != nil {
			return errorf(KindExec, err, ptyRefused)
		}
	}
	if o.AgentForwarding {
		if err := forwardAgent(client, sess, p.session); err != nil {
			return err
		}
	}
	var err error
	if o.Stdin {
		if p.stdin, err = sess.StdinPipe(); err != nil {
			return errorf(KindExec, err, "stdin")
		}
	} else {
		sess.Stdin = bytes.NewReader(o.StdinData)
	}
	switch o.Stdout {
	case Capture:
		sess.Stdout = &p.outBuf
	case Stream:
		if p.stdout, err = sess.StdoutPipe(); err != nil {
			return errorf(KindExec, err, "stdout")
		}
		p.stdout = cutReader{p.stdout, p.session.connectionCut()}
	}
	switch o.Stderr {
	case Capture:
		sess.Stderr = &p.errBuf
	case Stream:
		if p.stderr, err = sess.StderrPipe(); err != nil {
			return errorf(KindExec, err, "stderr")
		}
		p.stderr = cutReader{p.stderr, p.session.connectionCut()}
	}
	return nil
}

// wait collects the exit status; it runs once per process.
func (p *Process) wait() {
	err := p.ssh.Wait()
	p.release()
	r := Result{ExitCode: 0}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.ExitCode = exitErr.ExitStatus()
		r.Signal = exitErr.Signal()
		if r.Signal != "" {
			r.ExitCode = -1
		}
	case errors.As(err, &missing):
		r.ExitCode = -1
		r.Err = errorf(KindClosed, nil, "the connection ended before the command reported its exit status")
	default:
		r.ExitCode = -1
		r.Err = errorf(KindExec, err, "command failed")
	}
	r.Stdout = p.outBuf.Bytes()
	r.Stderr = p.errBuf.Bytes()
	p.result = r
	close(p.done)
	p.session.untrack(p)
}

// Wait blocks until the command has ended (and captured output is
// complete) or ctx ends.
func (p *Process) Wait(ctx context.Context) (Result, error) {
	select {
	case <-p.done:
		return p.result, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Exited reports whether the command has ended, and its result if so.
func (p *Process) Exited() (Result, bool) {
	select {
	case <-p.done:
		return p.result, true
	default:
		return Result{}, false
	}
}

// Done is closed once the command has ended (and captured output is
// complete).
func (p *Process) Done() <-chan struct{} { return p.done }

// Stdin returns the command's stdin, or nil unless ExecOptions.Stdin.
// Closing it sends EOF.
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Stdout returns the command's stdout in Stream mode, else nil.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr returns the command's stderr in Stream mode, else nil.
func (p *Process) Stderr() io.Reader { return p.stderr }

// Signal sends a signal such as "TERM" or "KILL" to the command.
func (p *Process) Signal(name string) error {
	if err := p.ssh.Signal(ssh.Signal(name)); err != nil {
		return errorf(KindExec, err, "signal %s", name)
	}
	return nil
}

// Close closes the command's channel; a running command gets SIGHUP from
// the server. It is idempotent.
func (p *Process) Close() error {
	p.closeOnce.Do(func() { p.ssh.Close() })
	return nil
}

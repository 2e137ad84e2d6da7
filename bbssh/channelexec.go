package bbssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
)

// ExecChannel is a low-level exec channel, as JSch's ChannelExec: it is
// created on a connected session, configured with setters (command, pty,
// environment, streams), then connected, which runs the command. Its
// streams are plain readers and writers supplied by the caller; the
// channel copies between them and the SSH channel until the command ends.
//
// Unlike Process (Session.Exec), nothing is buffered in memory: stdout
// and stderr go straight to the writers given, and a writer that does not
// keep up slows the remote command.
type ExecChannel struct {
	session *Session
	id      int

	mu        sync.Mutex
	cmd       string
	env       [][2]string
	pty       bool
	pt        PtyOptions
	modes     []byte // encoded terminal modes, nil for none
	agent     bool
	stdin     io.Reader
	stdinKeep bool // do not close stdin when the channel ends
	stdout    io.Writer
	outKeep   bool
	stderr    io.Writer
	errKeep   bool

	ssh        *ssh.Session
	connected  bool
	closed     bool // the SSH channel is closed (remote close or Disconnect)
	eof        atomic.Bool
	exit       int
	signal     string
	lost       error // the channel ended without an exit status
	kill       context.CancelFunc
	finishOnce sync.Once
	done       chan struct{} // closed when closed and every output copy ended
}

// PtyOptions are the pseudo-terminal's type and size; JSch's defaults
// are vt100, 80x24 characters, 640x480 pixels.
type PtyOptions struct {
	Term                      string
	Cols, Rows, Width, Height int
}

// channelIDs numbers exec channels in the order they are made, as JSch
// numbers its channels; x/crypto/ssh does not expose the wire channel id.
var channelIDs atomic.Int64

// ContextReader is a reader whose blocking reads end when ctx ends. The
// channel reads its stdin through it when the reader has it, so that a
// stdin that never ends does not outlive the command.
type ContextReader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
}

// ContextWriter is a writer whose blocking writes end when ctx ends; a
// Disconnect stops output copies blocked on it.
type ContextWriter interface {
	WriteContext(ctx context.Context, p []byte) (int, error)
}

// NewExecChannel makes an unconnected exec channel on the session, which
// must be connected.
func (s *Session) NewExecChannel() (*ExecChannel, error) {
	if _, err := s.Client(); err != nil {
		return nil, err
	}
	return &ExecChannel{
		session: s,
		id:      int(channelIDs.Add(1) - 1),
		pt:      PtyOptions{Term: "vt100", Cols: 80, Rows: 24, Width: 640, Height: 480},
		exit:    -1,
		done:    make(chan struct{}),
	}, nil
}

// ID is the channel's number.
func (c *ExecChannel) ID() int { return c.id }

// configure runs set under the lock unless the channel is connected.
func (c *ExecChannel) configure(what string, set func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connected || c.closed {
		return errorf(KindBadOption, nil, "cannot set the %s of channel %d: it is already connected (set it before connect)", what, c.id)
	}
	set()
	return nil
}

// SetCommand sets the command line run by connect.
func (c *ExecChannel) SetCommand(cmd string) error {
	if err := checkLen("command", cmd, MaxCommandLen); err != nil {
		return err
	}
	return c.configure("command", func() { c.cmd = cmd })
}

// SetEnv adds an environment variable, sent before the command; the
// server's AcceptEnv decides which it honours, as with ssh's SendEnv.
func (c *ExecChannel) SetEnv(name, value string) error {
	if name == "" {
		return errorf(KindBadOption, nil, "an environment variable needs a name")
	}
	if err := checkLen("environment variable "+truncate(name, 64), name+"="+value, MaxCommandLen); err != nil {
		return err
	}
	return c.configure("environment", func() {
		for i, kv := range c.env {
			if kv[0] == name {
				c.env[i][1] = value
				return
			}
		}
		c.env = append(c.env, [2]string{name, value})
	})
}

// SetPty asks for a pseudo-terminal or not.
func (c *ExecChannel) SetPty(on bool) error {
	return c.configure("pty", func() { c.pty = on })
}

// SetPtyType sets the terminal type, and the size unless size is nil.
func (c *ExecChannel) SetPtyType(term string, size *PtyOptions) error {
	if err := checkLen("terminal type", term, MaxHostLen); err != nil {
		return err
	}
	if size != nil {
		if err := checkSize(*size); err != nil {
			return err
		}
	}
	return c.configure("pty type", func() {
		c.pt.Term = term
		if size != nil {
			c.pt.Cols, c.pt.Rows, c.pt.Width, c.pt.Height = size.Cols, size.Rows, size.Width, size.Height
		}
	})
}

func checkSize(p PtyOptions) error {
	for _, v := range []int{p.Cols, p.Rows, p.Width, p.Height} {
		if v < 0 || v > 1<<24 {
			return errorf(KindBadOption, nil, "terminal size %dx%d (%dx%d pixels) out of range", p.Cols, p.Rows, p.Width, p.Height)
		}
	}
	return nil
}

// SetPtySize sets the terminal's size; on a connected channel with a pty
// it tells the server the window changed, as JSch does.
func (c *ExecChannel) SetPtySize(cols, rows, width, height int) error {
	size := PtyOptions{Cols: cols, Rows: rows, Width: width, Height: height}
	if err := checkSize(size); err != nil {
		return err
	}
	c.mu.Lock()
	c.pt.Cols, c.pt.Rows, c.pt.Width, c.pt.Height = cols, rows, width, height
	sess, live := c.ssh, c.connected && !c.closed && c.pty
	c.mu.Unlock()
	if !live {
		return nil
	}
	req := struct{ Cols, Rows, Width, Height uint32 }{uint32(cols), uint32(rows), uint32(width), uint32(height)}
	if _, err := sess.SendRequest("window-change", false, ssh.Marshal(&req)); err != nil {
		return errorf(KindClosed, err, "window change on channel %d", c.id)
	}
	return nil
}

// SetTerminalModes sets the pty's encoded terminal modes (RFC 4254 8:
// opcode byte, uint32 value, ..., ended by opcode 0).
func (c *ExecChannel) SetTerminalModes(modes []byte) error {
	if err := checkModes(modes); err != nil {
		return err
	}
	return c.configure("terminal modes", func() { c.modes = append([]byte(nil), modes...) })
}

// checkModes validates encoded terminal modes: opcodes 1 to 159 each take
// a uint32, 0 ends the list.
func checkModes(b []byte) error {
	for i := 0; i < len(b); {
		op := b[i]
		switch {
		case op == 0:
			return nil
		case op >= 160:
			return errorf(KindBadOption, nil, "terminal modes: opcode %d at byte %d is not defined (1 to 159 take a value, 0 ends the list)", op, i)
		case i+5 > len(b):
			return errorf(KindBadOption, nil, "terminal modes: opcode %d at byte %d lacks its 4-byte value", op, i)
		}
		i += 5
	}
	return nil
}

// SetAgentForwarding asks for the local ssh-agent to be forwarded.
func (c *ExecChannel) SetAgentForwarding(on bool) error {
	return c.configure("agent forwarding", func() { c.agent = on })
}

// SetStdin sets where the command's stdin comes from: r is copied to the
// channel and its end sends end of file. nil means no input: end of file
// at once, as ssh -n. Unless keepOpen, r is closed (when it is an
// io.Closer) once the channel ends.
func (c *ExecChannel) SetStdin(r io.Reader, keepOpen bool) error {
	return c.configure("input stream", func() { c.stdin, c.stdinKeep = r, keepOpen })
}

// SetStdout sets where the command's stdout goes; unless keepOpen, w is
// closed (when it is an io.Closer) at the end of the output. nil drops it.
func (c *ExecChannel) SetStdout(w io.Writer, keepOpen bool) error {
	return c.configure("output stream", func() { c.stdout, c.outKeep = w, keepOpen })
}

// SetStderr is SetStdout for stderr.
func (c *ExecChannel) SetStderr(w io.Writer, keepOpen bool) error {
	return c.configure("error stream", func() { c.stderr, c.errKeep = w, keepOpen })
}

// Connect opens the channel, sends the requests (agent, environment,
// pty) and runs the command. A channel connects once.
func (c *ExecChannel) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.connected || c.closed {
		c.mu.Unlock()
		return errorf(KindBadOption, nil, "channel %d is already connected; make a new one with open-channel", c.id)
	}
	c.connected = true // no setter from here on
	cmd := c.cmd
	c.mu.Unlock()
	if cmd == "" {
		c.fail()
		return errorf(KindBadOption, nil, "channel %d has no command: call set-command before connect", c.id)
	}
	client, err := c.session.Client()
	if err != nil {
		c.fail()
		return err
	}
	dead := c.session.Done()
	sess, release, err := c.session.openSession(ctx)
	if err != nil {
		c.fail()
		if KindOf(err) != "" {
			return err
		}
		return errorf(KindExec, err, "cannot open a channel for %q", cmd)
	}
	stdin, err := c.setup(ctx, client, sess)
	var outs []output
	if err == nil {
		outs, err = c.outputs(sess)
	}
	if err == nil {
		if err = sess.Start(cmd); err != nil {
			err = c.session.startFailed(dead, err, cmd)
		}
	}
	if err != nil {
		sess.Close()
		release()
		c.fail()
		return err
	}
	if !c.session.track(c) {
		release()
		c.fail()
		return errorf(KindNotConnected, nil, "session ended while starting %q", cmd)
	}
	killCtx, kill := context.WithCancel(context.Background())
	c.mu.Lock()
	c.ssh, c.kill = sess, kill
	disconnected := c.closed // Disconnect came while connecting
	c.mu.Unlock()
	copies := c.startOutputs(killCtx, outs)
	go c.pumpStdin(killCtx, stdin)
	go c.wait(killCtx, sess, copies, release)
	if disconnected {
		kill()
		sess.Close()
	}
	return nil
}

// fail leaves a channel that did not connect closed and done.
func (c *ExecChannel) fail() {
	c.finish(-1, "", errorf(KindExec, nil, "channel %d did not connect", c.id))
}

// finish records how the channel ended, once: the first of the command's
// end and Disconnect wins.
func (c *ExecChannel) finish(exit int, sig string, lost error) {
	c.finishOnce.Do(func() {
		c.mu.Lock()
		if !c.closed { // else wait recorded the end already
			c.exit, c.signal, c.lost = exit, sig, lost
		}
		c.closed = true
		c.mu.Unlock()
		c.eof.Store(true)
		c.session.untrack(c)
		close(c.done)
	})
}

// setup sends the requests before the command and returns stdin's pipe.
func (c *ExecChannel) setup(ctx context.Context, client *ssh.Client, sess *ssh.Session) (io.WriteCloser, error) {
	c.mu.Lock()
	env, pty, pt, modes, agent := c.env, c.pty, c.pt, c.modes, c.agent
	c.mu.Unlock()
	if agent {
		if err := forwardAgent(client, sess, c.session); err != nil {
			return nil, err
		}
	}
	for _, kv := range env {
		// A refused variable is ignored, as ssh does.
		if err := sendEnv(sess, kv[0], kv[1]); err != nil {
			return nil, errorf(KindExec, err, "environment variable %s", truncate(kv[0], 64))
		}
	}
	if pty {
		if len(modes) == 0 {
			modes = []byte{0}
		}
		req := struct {
			Term                      string
			Cols, Rows, Width, Height uint32
			Modes                     string
		}{pt.Term, uint32(pt.Cols), uint32(pt.Rows), uint32(pt.Width), uint32(pt.Height), string(modes)}
		ok, err := sess.SendRequest("pty-req", true, ssh.Marshal(&req))
		if err == nil && !ok {
			return nil, errorf(KindExec, nil, "%s", ptyRefused)
		}
		if err != nil {
			return nil, errorf(KindExec, err, "pty request")
		}
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return nil, errorf(KindExec, err, "stdin")
	}
	return stdin, ctx.Err()
}

// output is one of the command's output streams being copied.
type output struct {
	src  io.Reader
	dst  io.Writer
	keep bool
	eof  bool // stdout: its end is the channel's end of file
}

// outputs takes the channel's stdout and stderr pipes, which must be
// taken before the command starts.
func (c *ExecChannel) outputs(sess *ssh.Session) ([]output, error) {
	c.mu.Lock()
	outs := []output{{dst: c.stdout, keep: c.outKeep, eof: true}, {dst: c.stderr, keep: c.errKeep}}
	c.mu.Unlock()
	var err error
	if outs[0].src, err = sess.StdoutPipe(); err != nil {
		return nil, errorf(KindExec, err, "stdout")
	}
	if outs[1].src, err = sess.StderrPipe(); err != nil {
		return nil, errorf(KindExec, err, "stderr")
	}
	return outs, nil
}

// startOutputs copies the outputs to their writers until they end.
func (c *ExecChannel) startOutputs(ctx context.Context, outs []output) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, o := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.copyOut(ctx, o)
		}()
	}
	return &wg
}

// copyOut copies one output stream to its writer. When the writer fails
// (a closed pipe), the rest is read and dropped, so that the command is
// never stalled by a window that does not open again.
func (c *ExecChannel) copyOut(ctx context.Context, o output) {
	buf := make([]byte, 32<<10)
	dst := o.dst
	for {
		n, err := o.src.Read(buf)
		if n > 0 && dst != nil {
			var werr error
			if cw, ok := dst.(ContextWriter); ok {
				_, werr = cw.WriteContext(ctx, buf[:n])
			} else {
				_, werr = dst.Write(buf[:n])
			}
			if werr != nil {
				dst = nil
			}
		}
		if err != nil {
			break
		}
	}
	if o.eof {
		c.eof.Store(true)
	}
	if closer, ok := o.dst.(io.Closer); ok && !o.keep {
		closer.Close()
	}
}

// pumpStdin copies stdin to the channel; its end (or none) sends end of
// file. It stops when the channel is killed or the command has ended.
func (c *ExecChannel) pumpStdin(kill context.Context, w io.WriteCloser) {
	c.mu.Lock()
	r, keep := c.stdin, c.stdinKeep
	c.mu.Unlock()
	if r == nil {
		w.Close()
		return
	}
	ctx, cancel := context.WithCancel(kill)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		var n int
		var err error
		if cr, ok := r.(ContextReader); ok {
			n, err = cr.ReadContext(ctx, buf)
		} else {
			n, err = r.Read(buf)
		}
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	w.Close()
	if closer, ok := r.(io.Closer); ok && !keep {
		<-c.done
		closer.Close()
	}
}

// wait records how the command ended, once the channel is closed and the
// output copies are over (or the channel was killed).
func (c *ExecChannel) wait(kill context.Context, sess *ssh.Session, outs *sync.WaitGroup, release func()) {
	err := sess.Wait()
	release()
	exit, sig := 0, ""
	var lost error
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		exit, sig = exitErr.ExitStatus(), exitErr.Signal()
		if sig != "" {
			exit = -1 // as JSch: no exit status for a killed command
		}
	case errors.As(err, &missing):
		exit = -1
		lost = errorf(KindClosed, nil, "channel %d closed before the command reported its exit status", c.id)
	default:
		exit = -1
		lost = errorf(KindClosed, err, "channel %d ended", c.id)
	}
	c.mu.Lock()
	if !c.closed {
		// Closed by the server: the status is known now, the output may
		// still be on its way.
		c.closed = true
		c.exit, c.signal, c.lost = exit, sig, lost
	}
	c.mu.Unlock()
	copied := make(chan struct{})
	go func() { outs.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-kill.Done():
	}
	c.finish(exit, sig, lost)
}

// Disconnect closes the channel at once, as JSch does: what the command
// still sends is dropped, and waiting ends with :closed unless it had
// already ended. (sshd hangs up a command only when it has a pty; without
// one it runs to its end, writing nowhere.)
func (c *ExecChannel) Disconnect() error {
	c.mu.Lock()
	sess, kill := c.ssh, c.kill
	started := c.connected
	c.connected = true // never connects afterwards
	c.mu.Unlock()
	if kill != nil {
		kill()
	}
	if sess != nil {
		sess.Close()
	}
	what := "disconnected"
	if !started {
		what = "disconnected before it connected"
	}
	c.finish(-1, "", errorf(KindClosed, nil, "channel %d was %s before the command reported its exit status", c.id, what))
	return nil
}

// Close is Disconnect; the session calls it when its connection ends.
func (c *ExecChannel) Close() error { return c.Disconnect() }

// State is a snapshot of the channel.
type ExecState struct {
	Connected bool // connected and not yet closed
	Closed    bool
	EOF       bool // the remote end sent all of its stdout
	Exit      int  // -1 until the exit status is known
	Signal    string
}

// State returns the channel's state.
func (c *ExecChannel) State() ExecState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ExecState{
		Connected: c.connected && !c.closed && c.ssh != nil,
		Closed:    c.closed,
		EOF:       c.eof.Load() || (c.closed && c.ssh != nil),
		Exit:      c.exit,
		Signal:    c.signal,
	}
}

// Done is closed once the command has ended and its output is copied.
func (c *ExecChannel) Done() <-chan struct{} { return c.done }

// Busy reports whether the channel is connected and still running.
func (c *ExecChannel) Busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected && c.ssh != nil && !isClosed(c.done)
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Wait blocks until the command has ended and its output is copied, or
// ctx ends. It returns the exit status (-1 for a command killed by a
// signal), or an error when the channel was never connected or ended
// without an exit status (connection lost, disconnected).
func (c *ExecChannel) Wait(ctx context.Context) (int, error) {
	c.mu.Lock()
	started := c.connected
	c.mu.Unlock()
	if !started {
		return -1, errorf(KindNotConnected, nil, "channel %d is not connected: call connect before wait", c.id)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost != nil && c.exit == -1 && c.signal == "" {
		return -1, c.lost
	}
	return c.exit, nil
}

// Signal sends a signal ("TERM", "KILL", "INT"...) to the command.
func (c *ExecChannel) Signal(name string) error {
	c.mu.Lock()
	sess := c.ssh
	c.mu.Unlock()
	if sess == nil {
		return errorf(KindNotConnected, nil, "channel %d is not connected: no command to signal", c.id)
	}
	if err := sess.Signal(ssh.Signal(name)); err != nil {
		return errorf(KindClosed, err, "signal %s to channel %d", name, c.id)
	}
	return nil
}

// String names the channel for messages.
func (c *ExecChannel) String() string { return fmt.Sprintf("exec channel %d", c.id) }

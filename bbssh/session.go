package bbssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Session is one SSH connection and everything that lives on it: running
// commands and forwards. It is created unconnected by NewSession, connected
// by Connect, and ends with Close or when the connection dies; either way
// everything on it is closed.
type Session struct {
	opts Options

	mu         sync.Mutex
	client     *ssh.Client
	wire       *hangupConn   // the network connection under client
	resolved   Options       // the options the current connection used, config applied
	hostConfig HostConfig    // what the config file said for it
	lost       string        // why the connection was closed from this side, if it was
	dead       chan struct{} // closed when the current connection ends
	children   map[io.Closer]struct{}
	closed     bool
	sftp       *SftpClient  // started on first use, closed with the connection
	gate       *sessionGate // the current connection's session channels (sessionlimit.go)
	// untrusted is the changed host key the connection went on with
	// (hostkeychanged.go), nil when its key was trusted.
	untrusted *HostKeyError
}

// NewSession returns an unconnected session for opts.
func NewSession(opts Options) *Session {
	return &Session{opts: opts, children: map[io.Closer]struct{}{}}
}

// Update changes the session's options; the change applies from the next
// Connect.
func (s *Session) Update(change func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.opts)
}

// ConfigForwards returns the forwards the OpenSSH config file asks for
// (LocalForward, RemoteForward, DynamicForward) for the current
// connection; the caller starts them.
func (s *Session) ConfigForwards() []ForwardSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	hc := s.hostConfig
	return slices.Concat(hc.LocalForwards, hc.RemoteForwards, hc.DynamicForwards)
}

// Options returns a copy of the session's options.
func (s *Session) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Connect opens the connection: TCP, handshake, host key check and auth.
// Connecting a connected session is an error.
func (s *Session) Connect(ctx context.Context) error {
	s.mu.Lock()
	if s.client != nil {
		s.mu.Unlock()
		return errorf(KindBadOption, nil, "session to %s is already connected", s.opts.Addr())
	}
	opts := s.opts
	s.mu.Unlock()

	asked := opts.Host
	if err := checkLen("host name", asked, MaxHostLen); err != nil {
		return err
	}
	opts, hostConfig, err := opts.resolve()
	if err != nil {
		return err
	}
	if opts.Host != asked {
		opts.logf(LogDebug, "the ssh config names %s as %s", asked, opts.Host)
	}
	opts.Algorithms = opts.Algorithms.expand()
	if err := opts.validate(); err != nil {
		return err
	}
	opts.logf(LogInfo, "connecting to %s as %s%s", opts.Addr(), opts.User, opts.route())
	if opts.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.ConnectTimeout)
		defer cancel()
	}
	// Prompts end when the server hangs up on the login (hangup.go).
	ctx, hangUp := context.WithCancelCause(ctx)
	defer hangUp(nil)
	if a, ok := opts.Prompter.(availability); ok && !a.Available() {
		opts.Prompter = nil
	}
	checker, err := newHostKeyChecker(ctx, &opts)
	if err != nil {
		return err
	}
	plan, err := newAuthPlan(ctx, &opts)
	if err != nil {
		return err
	}
	defer plan.close()
	plan.untrusted = checker.untrustedKey
	for _, note := range plan.notes {
		opts.logf(LogWarn, "%s", note)
	}
	opts.logf(LogDebug, "auth methods to try: %s", strings.Join(plan.tried, ", "))
	config := &ssh.ClientConfig{
		Config: ssh.Config{
			KeyExchanges: opts.Algorithms.KeyExchanges,
			Ciphers:      opts.Algorithms.Ciphers,
			MACs:         opts.Algorithms.MACs,
			// Windows that grow with the path (window.go).
			ReceiveWindow: opts.ReceiveWindow,
		},
		User:              opts.User,
		Auth:              plan.methods,
		HostKeyCallback:   opts.loggedHostKeyCallback(checker.callback),
		HostKeyAlgorithms: hostKeyAlgorithms(opts.Algorithms.HostKeys, checker.algorithms(opts.Addr())),
		BannerCallback: func(message string) error {
			if opts.Messages != nil {
				io.WriteString(opts.Messages, message)
			}
			return nil
		},
	}
	addr := opts.Addr()
	est, interrupted, err := dialAndHandshake(ctx, &opts, config, hangUp)
	if err != nil {
		var hs *handshakeFailure
		if !errors.As(err, &hs) {
			opts.logf(LogError, "%v", err)
			return err
		}
		err = hs.err
		if hungUp(ctx) {
			interrupted = false // the server ended it, not a timeout
		}
		if hungUp(ctx) && plan.promptErr != nil && errors.Is(plan.promptErr, context.Canceled) {
			err = errorf(KindAuth, nil, "authentication for %s@%s stopped: the server closed the connection while a prompt waited for its answer (its LoginGraceTime ran out)", opts.User, addr)
		} else {
			err = handshakeError(err, &opts, plan, interrupted, ctx)
		}
		opts.logf(LogError, "%v", err)
		return err
	}
	opts.logf(LogInfo, "connected to %s (%s), authenticated as %s", addr, est.conn.ServerVersion(), opts.User)
	client := ssh.NewClient(est.conn, est.chans, est.reqs)
	wire, closeHops := est.wire, est.closeHops

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		client.Close()
		closeHops()
		return errorf(KindClosed, nil, "session closed while connecting")
	}
	s.client = client
	s.wire = wire
	s.resolved = opts
	s.hostConfig = hostConfig
	s.untrusted = checker.untrustedKey()
	s.lost = ""
	s.gate = newSessionGate(string(est.conn.ServerVersion()))
	if s.gate.why != "" {
		opts.logf(LogInfo, "%s", s.gate.why)
	}
	dead := make(chan struct{})
	s.dead = dead
	go func() {
		err := client.Wait()
		close(dead)
		closeHops()
		s.connectionEnded(client, err)
	}()
	if opts.KeepaliveInterval > 0 {
		go keepalive(client, opts.KeepaliveInterval, opts.KeepaliveCountMax, func(reason string) {
			opts.logf(LogWarn, "keepalive: %s", reason)
			s.mu.Lock()
			if s.client == client {
				s.lost = reason
			}
			s.mu.Unlock()
		})
	}
	return nil
}

func unwrapNetErr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// handshakeError turns a failed handshake into an engine error with a kind.
func handshakeError(err error, o *Options, plan *authPlan, interrupted bool, ctx context.Context) error {
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return hk
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	// The connect's deadline may stop a prompt before the dialer notices
	// it (interrupted): either way the connect timed out.
	if interrupted || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errorf(KindConnect, ctx.Err(), "connecting to %s timed out", o.Addr())
	}
	pe := plan.promptErr
	if pe != nil || errors.As(err, &pe) {
		return errorf(KindAuth, pe.err, "authentication for %s@%s stopped: asking for a password failed", o.User, o.Addr())
	}
	if strings.Contains(err.Error(), "Too many authentication failures") {
		msg := fmt.Sprintf("authentication failed for %s@%s: the server disconnected after too many failed attempts (sshd's MaxAuthTries, 6 by default)", o.User, o.Addr())
		if len(plan.tried) > 0 {
			msg += "; tried " + strings.Join(plan.tried, ", ") + "; offer fewer keys (:identities-only, IdentitiesOnly) or the right one first"
		}
		return &Error{Kind: KindAuth, Msg: msg, Err: err}
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		msg := fmt.Sprintf("authentication failed for %s@%s", o.User, o.Addr())
		if len(plan.tried) > 0 {
			msg += "; tried " + strings.Join(plan.tried, ", ")
		} else {
			msg += "; no identity, agent key or password to try, and no terminal or :user-info to ask for a password"
		}
		if len(plan.notes) > 0 {
			msg += "; " + strings.Join(plan.notes, "; ")
		}
		return &Error{Kind: KindAuth, Msg: msg}
	}
	return errorf(KindConnect, err, "ssh handshake with %s failed", o.Addr())
}

// hostKeyAlgorithms returns the host key algorithms to offer: the ones
// asked for, those known_hosts has keys of first, else known_hosts' order.
func hostKeyAlgorithms(asked, known []string) []string {
	if len(asked) == 0 {
		return known
	}
	var first, rest []string
	for _, a := range asked {
		if slices.Contains(known, a) {
			first = append(first, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(first, rest...)
}

// connectionEnded closes everything that lived on a connection that ended
// without being asked to, telling the children that care why.
func (s *Session) connectionEnded(client *ssh.Client, err error) {
	s.mu.Lock()
	if s.client != client {
		s.mu.Unlock()
		return
	}
	s.client = nil
	children := s.takeChildren()
	reason := fmt.Sprintf("the connection to %s was lost", s.resolved.Addr())
	if s.lost != "" {
		reason += ": " + s.lost
	} else if err != nil && !errors.Is(err, io.EOF) {
		reason += ": " + err.Error()
	}
	s.resolved.logf(LogWarn, "%s", reason)
	s.mu.Unlock()
	for _, c := range children {
		if l, ok := c.(interface{ connectionLost(reason string) }); ok {
			l.connectionLost(reason)
		}
	}
	closeAll(children)
}

func (s *Session) takeChildren() []io.Closer {
	children := make([]io.Closer, 0, len(s.children))
	for c := range s.children {
		children = append(children, c)
	}
	s.children = map[io.Closer]struct{}{}
	return children
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}

// Connected reports whether the session has a live connection.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client != nil
}

// Client returns the live SSH client, or an error naming the session when
// it is not connected.
func (s *Session) Client() (*ssh.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, errorf(KindNotConnected, nil, "session to %s is not connected", s.opts.Addr())
	}
	return s.client, nil
}

// track registers c to be closed with the connection; it reports false
// (and closes c) when the session is not connected.
func (s *Session) track(c io.Closer) bool {
	s.mu.Lock()
	if s.client == nil {
		s.mu.Unlock()
		c.Close()
		return false
	}
	s.children[c] = struct{}{}
	s.mu.Unlock()
	return true
}

// untrack forgets c, which closed by itself.
func (s *Session) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.children, c)
	s.mu.Unlock()
}

// Disconnect closes the connection and everything on it. The session can
// be connected again. Disconnecting an unconnected session does nothing.
func (s *Session) Disconnect() error {
	s.mu.Lock()
	client := s.client
	dead := s.dead
	s.client = nil
	children := s.takeChildren()
	s.mu.Unlock()
	// The connection goes first: the server drops everything on it by
	// itself, while closing a child first could wait for a server that
	// may never answer again (a remote forward's cancel request wants a
	// reply), holding up the close of everything after it.
	var err error
	if client != nil {
		err = client.Close()
	}
	closeAll(children)
	if client == nil {
		return nil
	}
	<-dead
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Close disconnects and marks the session closed for good. It is
// idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.Disconnect()
}

// Done returns a channel closed when the current connection ends, or nil
// when there is none.
func (s *Session) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

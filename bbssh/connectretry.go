package bbssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// A server that is busy accepting connections drops new ones before key
// exchange: OpenSSH's MaxStartups (10:30:100 by default) closes at random
// a growing share of the connections beyond 10 unauthenticated ones, and
// dropbear resets connections beyond its limit of unauthenticated
// connections per address. A burst of connections from one script should
// not fail for that: a connection the server drops before the host key
// was checked is tried again after a jittered, growing pause, within the
// connect timeout and ConnectionAttempts. Nothing that happened after the
// host key was checked (authentication, a host key mismatch) and no
// failure to reach the server at all (a refused port) is retried.

// DefaultConnectionAttempts is how often Connect tries a connection the
// server drops before key exchange when neither Options.ConnectionAttempts
// nor the ssh config's ConnectionAttempts says otherwise. Its pauses (100
// ms doubling to 2 s, jittered) add up to about 10 s at most.
const DefaultConnectionAttempts = 10

// connectionAttempts is how many times to try a dropped connection.
func (o *Options) connectionAttempts() int {
	if o.ConnectionAttempts > 0 {
		return o.ConnectionAttempts
	}
	return DefaultConnectionAttempts
}

// retryPause is the pause before attempt n+1 (n >= 1): 100 ms doubling to
// at most 2 s, of which a random half is taken off so that a burst of
// clients does not come back all at once.
func retryPause(n int) time.Duration {
	d := min(100*time.Millisecond<<min(n-1, 5), 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// droppedEarly reports whether a failed handshake is the server closing
// the connection before the host key was checked.
func droppedEarly(err error, wire *hangupConn) bool {
	if wire.kex.Load() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "connection reset by peer")
}

// pauseBeforeRetry waits before attempt n+1, or reports false when ctx
// ends (or its deadline comes) first.
func pauseBeforeRetry(ctx context.Context, n int) bool {
	d := retryPause(n)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// droppedError explains a connection the server kept dropping before key
// exchange.
func droppedError(err error, addr string, attempts int) error {
	return errorf(KindConnect, err, "%s closed the connection before key exchange on %s: it is refusing new connections, most likely because too many are being opened at once (OpenSSH's MaxStartups, 10:30:100 by default, or dropbear's limit on unauthenticated connections per address); open fewer at once, or raise ConnectionAttempts or the connect timeout",
		addr, plural(attempts, "attempt"))
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("the only %s", what)
	}
	return fmt.Sprintf("each of %d %ss", n, what)
}

// established is a connection whose handshake succeeded.
type established struct {
	conn  ssh.Conn
	chans <-chan ssh.NewChannel
	reqs  <-chan *ssh.Request
	wire  *hangupConn
	hops  []*Session // jump host sessions, closed with the connection
}

// closeHops closes the jump host sessions, the last first.
func (e *established) closeHops() {
	for i := len(e.hops) - 1; i >= 0; i-- {
		e.hops[i].Close()
	}
}

// handshakeFailure carries the error of a handshake that failed other
// than by an early drop, for Connect to explain.
type handshakeFailure struct{ err error }

func (h *handshakeFailure) Error() string { return h.err.Error() }
func (h *handshakeFailure) Unwrap() error { return h.err }

// dialAndHandshake connects and runs the SSH handshake with config,
// trying again while the server drops the connection before key exchange
// (see above). A failed handshake comes back as a *handshakeFailure, with
// whether ctx ended it; other errors (dialing, the server dropping every
// attempt) are final. hangUp is armed on each attempt's connection once
// the host key has arrived (hangup.go).
func dialAndHandshake(ctx context.Context, opts *Options, config *ssh.ClientConfig, hangUp context.CancelCauseFunc) (*established, bool, error) {
	addr := opts.Addr()
	attempts := opts.connectionAttempts()
	if opts.ProxyCommand != "" {
		attempts = 1 // a command that ends at once is no busy server
	}
	for attempt := 1; ; attempt++ {
		conn, hops, err := dial(ctx, opts)
		if err != nil && errors.Is(err, syscall.ECONNRESET) {
			// Reset as soon as accepted: dropped, not refused.
			if attempt < attempts && pauseBeforeRetry(ctx, attempt) {
				opts.logf(LogInfo, "%s reset the connection before key exchange; trying again (attempt %d of %d)", addr, attempt+1, attempts)
				continue
			}
			return nil, false, droppedError(err, addr, attempt)
		}
		if err != nil {
			return nil, false, err
		}
		est := &established{hops: hops, wire: &hangupConn{Conn: newRawSocket(conn), hangUp: hangUp}}
		attemptConfig := *config
		attemptConfig.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
			est.wire.kex.Store(true)
			return config.HostKeyCallback(host, remote, key)
		}
		// The handshake has no context of its own: closing the connection
		// when ctx ends is what bounds it.
		stop := context.AfterFunc(ctx, func() { est.wire.Close() })
		est.conn, est.chans, est.reqs, err = ssh.NewClientConn(est.wire, addr, &attemptConfig)
		interrupted := !stop()
		if err == nil {
			return est, false, nil
		}
		est.wire.Close()
		est.closeHops()
		if interrupted || !droppedEarly(err, est.wire) {
			return nil, interrupted, &handshakeFailure{err}
		}
		if attempt < attempts && pauseBeforeRetry(ctx, attempt) {
			opts.logf(LogInfo, "%s closed the connection before key exchange (%v); trying again (attempt %d of %d)", addr, err, attempt+1, attempts)
			continue
		}
		return nil, false, droppedError(err, addr, attempt)
	}
}

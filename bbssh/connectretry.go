package bbssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"
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

package bbssh

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
)

// A prompt during authentication may wait long for its answer: a person
// typing, or a script's callback that never returns. OpenSSH's server gives
// up on a login after its LoginGraceTime and closes the connection; the
// question must then end as well, instead of waiting for an answer nobody
// can use any more. x/crypto/ssh keeps reading the connection in the
// background during the handshake, so the server's close shows up as a
// read error while the prompt waits: hangupConn turns it into the
// cancellation of the prompts' context.

// errServerHungUp is the cause of a handshake context cancelled because
// the server closed the connection.
var errServerHungUp = errors.New("the server closed the connection")

// hangupConn cancels a context, with errServerHungUp as the cause, when a
// read fails once key exchange has reached the host key (before that no
// prompt can wait, and a connection dropped then is tried again, see
// connectretry.go). It also remembers that the read failed (see cut.go).
type hangupConn struct {
	net.Conn
	hangUp context.CancelCauseFunc
	failed atomic.Bool
	kex    atomic.Bool // the server's host key has been received
}

func (c *hangupConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.failed.Store(true)
		if c.kex.Load() {
			c.hangUp(errServerHungUp)
		}
	}
	return n, err
}

// hungUp reports whether ctx ended because the server hung up.
func hungUp(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errServerHungUp)
}

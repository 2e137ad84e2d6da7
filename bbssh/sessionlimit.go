package bbssh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// A server limits the session channels (commands, scp, sftp) open at once
// on one connection: OpenSSH's MaxSessions, 10 unless configured. A
// script running commands in parallel futures should not have to know
// that: when the server refuses a new session channel while others are
// open, the open waits for one of them to close and tries again, within a
// bounded wait (Options.ChannelWait). Forwarded connections (direct-tcpip
// and the rest) are not session channels; nothing here holds them back.

// DefaultChannelWait is how long opening a session channel waits for the
// server's limit when Options.ChannelWait is zero and the connect timeout
// is shorter.
const DefaultChannelWait = 60 * time.Second

// sessionGate counts the session channels open on one connection and
// learns the server's limit from its first refusal, so that opens beyond
// it wait for a close instead of all asking (and being refused) at once.
type sessionGate struct {
	mu    sync.Mutex
	open  int           // session channels open or being opened now
	est   int           // of which the server has accepted
	limit int           // the most accepted when the server refused one; 0 while unknown
	freed chan struct{} // closed, and replaced, whenever a channel closes
	last  time.Time     // when a channel last closed
	why   string        // why the limit is set from the start, if it is
}

// settle is how long after a channel closed on this side the server may
// still count it: it frees its place only once it has the close.
const settle = 2 * time.Second

// newSessionGate returns the gate for a connection to a server that
// sent version (its SSH identification string).
func newSessionGate(version string) *sessionGate {
	g := &sessionGate{freed: make(chan struct{})}
	if dropbearChannelBug(version) {
		g.limit = 1
		g.why = fmt.Sprintf("%s closes a new session channel, and then drops the whole connection, when a command ends while another starts (dropbear bug #321, fixed in 2024.86), so bbssh runs one command at a time on it", version)
	}
	return g
}

// dropbearChannelBug reports whether version is a dropbear that drops the
// connection (a failed assertion, "!channel->sent_close") when a child
// process exits between a session channel's open and its exec request:
// 2022.82 up to 2024.85 (github.com/mkj/dropbear/issues/321).
func dropbearChannelBug(version string) bool {
	var year, minor int
	if _, err := fmt.Sscanf(version, "SSH-2.0-dropbear_%d.%d", &year, &minor); err != nil {
		return false
	}
	v := year*100 + minor
	return v >= 202282 && v < 202486
}

// take counts one more open channel if the learned limit allows it, and
// returns otherwise a channel closed when one closes.
func (g *sessionGate) take() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limit > 0 && g.open >= g.limit {
		return g.freed
	}
	g.open++
	return nil
}

// give uncounts a channel that closed and wakes the waiters.
func (g *sessionGate) give() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open--
	g.est--
	g.last = time.Now()
	close(g.freed)
	g.freed = make(chan struct{})
}

// refused uncounts a channel the server refused. It reports how many
// others are open, whether a limit explains the refusal (others are open
// or being opened, whose answers may not have been seen yet, or one
// closed so recently that the server may still count it), and a channel
// closed when one of the others closes. With others open the limit is
// learned.
func (g *sessionGate) refused() (others int, limited bool, freed <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open--
	g.limit = max(g.limit, g.est)
	return g.est, g.open > 0 || time.Since(g.last) < settle, g.freed
}

// accepted counts a channel the server accepted.
func (g *sessionGate) accepted() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.est++
}

// oneAtATime reports whether the connection runs one command at a time
// because of a server bug (see newSessionGate).
func (s *Session) oneAtATime() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gate != nil && s.gate.why != ""
}

// learned returns the limit learned from the server's refusal.
func (g *sessionGate) learned() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// isLimitRefusal reports whether err is a server's refusal to open a
// channel that a limit explains: OpenSSH answers an open beyond
// MaxSessions with "connect failed" ("open failed"); a server short of
// resources may say so.
func isLimitRefusal(err error) bool {
	var oe *ssh.OpenChannelError
	return errors.As(err, &oe) && (oe.Reason == ssh.ConnectionFailed || oe.Reason == ssh.ResourceShortage)
}

// channelWait is how long an open waits for the server's session limit:
// Options.ChannelWait, else the connect timeout or DefaultChannelWait,
// whichever is longer.
func (o *Options) channelWait() time.Duration {
	if o.ChannelWait > 0 {
		return o.ChannelWait
	}
	return max(o.ConnectTimeout, DefaultChannelWait)
}

// openSession opens a session channel on the current connection, waiting
// (bounded by Options.ChannelWait and ctx) while the server refuses it
// because others are open. The returned release must be called once the
// channel has closed; it is idempotent.
func (s *Session) openSession(ctx context.Context) (*ssh.Session, func(), error) {
	s.mu.Lock()
	client, gate, dead, wait := s.client, s.gate, s.dead, s.resolved.channelWait()
	s.mu.Unlock()
	if client == nil {
		return nil, nil, errorf(KindNotConnected, nil, "session to %s is not connected", s.opts.Addr())
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	started := time.Now()
	backoff := 10 * time.Millisecond
	waited := false
	for {
		if freed := gate.take(); freed != nil {
			waited = true
			select {
			case <-freed:
				continue
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-dead:
				return nil, nil, errorf(KindNotConnected, nil, "the connection to %s ended while waiting for a session channel", s.opts.Addr())
			case <-timer.C:
				return nil, nil, gate.limitError(gate.learned(), time.Since(started))
			}
		}
		sess, err := client.NewSession()
		if err == nil {
			gate.accepted()
			if waited {
				s.resolved.logf(LogDebug, "session channel opened after waiting %v for the server's limit", time.Since(started).Round(time.Millisecond))
			}
			var once sync.Once
			return sess, func() { once.Do(gate.give) }, nil
		}
		others, limited, freed := gate.refused()
		if !isLimitRefusal(err) || !limited {
			if now, _ := s.Client(); now != client {
				return nil, nil, errorf(KindNotConnected, err, "the connection to %s ended while opening a session channel", s.opts.Addr())
			}
			return nil, nil, err
		}
		if !waited {
			s.resolved.logf(LogDebug, "the server refused a session channel while %d were open (its MaxSessions); waiting for one to close", others)
		}
		waited = true
		// The server frees a channel a moment after this side saw it
		// close: wait for the next close, or briefly, then ask again.
		jitter := time.Duration(rand.Int64N(int64(backoff)))
		retry := time.NewTimer(backoff/2 + jitter/2)
		select {
		case <-freed:
		case <-retry.C:
		case <-ctx.Done():
			retry.Stop()
			return nil, nil, ctx.Err()
		case <-dead:
			retry.Stop()
			return nil, nil, errorf(KindNotConnected, nil, "the connection to %s ended while waiting for a session channel", s.opts.Addr())
		case <-timer.C:
			retry.Stop()
			return nil, nil, gate.limitError(others, time.Since(started))
		}
		retry.Stop()
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// limitError explains an open that waited for the server's session limit
// in vain.
func (g *sessionGate) limitError(open int, waited time.Duration) error {
	if g.why != "" {
		return fmt.Errorf("no session channel closed within %v (the :channel-wait): %s", waited.Round(time.Millisecond), g.why)
	}
	return fmt.Errorf("the server refused a new session channel while %d were open on this connection: its limit on sessions per connection (OpenSSH's MaxSessions, 10 by default) was reached and none closed within %v (the :channel-wait)",
		open, waited.Round(time.Millisecond))
}

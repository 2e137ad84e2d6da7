package bbssh

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// This file runs scp and sftp on a session: the protocol code lives in
// scp.go and sftp.go, this is where they meet the connection.

// ScpTo sends sources to remotePath by running command (normally
// ScpSendCommand's, possibly wrapped) on the server.
func (s *Session) ScpTo(ctx context.Context, command string, sources []ScpSource, o ScpOptions) error {
	return s.runScp(ctx, command, func(w io.Writer, r io.Reader) error {
		return ScpSend(ctx, w, r, sources, o)
	})
}

// ScpFrom receives remotePath into localPath by running command
// (normally ScpReceiveCommand's) on the server.
func (s *Session) ScpFrom(ctx context.Context, command, localPath string, o ScpOptions) error {
	return s.runScp(ctx, command, func(w io.Writer, r io.Reader) error {
		return ScpReceive(ctx, w, r, localPath, o)
	})
}

// runScp starts command with its stdin and stdout given to speak, and
// returns speak's error, or the command's when speak succeeded and the
// command did not. Whatever scp said on stderr explains the failure.
func (s *Session) runScp(ctx context.Context, command string, speak func(w io.Writer, r io.Reader) error) error {
	if err := checkLen("scp command", command, MaxCommandLen); err != nil {
		return err
	}
	if _, err := s.Client(); err != nil {
		return err
	}
	dead := s.Done()
	sess, release, err := s.openSession(ctx)
	if err != nil {
		if KindOf(err) != "" {
			return err
		}
		return errorf(KindExec, err, "cannot open a channel for scp")
	}
	defer release()
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		return errorf(KindExec, err, "scp stdin")
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return errorf(KindExec, err, "scp stdout")
	}
	var stderr limitedBuffer
	sess.Stderr = &stderr
	if err := sess.Start(command); err != nil {
		return s.startFailed(dead, err, command)
	}
	// Closing the channel unblocks the protocol when ctx ends.
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	speakErr := speak(stdin, stdout)
	stdin.Close()
	if speakErr != nil {
		// The stream is unusable after an error and the remote may be
		// blocked writing: close the channel rather than wait for it.
		sess.Close()
	}
	waitErr := sess.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if speakErr != nil {
		if lost := s.lostDuring(dead, speakErr); lost != nil {
			return lost
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" && !strings.Contains(speakErr.Error(), msg) {
			return errorf(KindOf(speakErr), speakErr, "scp said %q", msg)
		}
		return speakErr
	}
	var exit interface{ ExitStatus() int }
	if waitErr != nil && !(errors.As(waitErr, &exit) && exit.ExitStatus() == 0) {
		return errorf(KindExec, waitErr, "remote scp failed: %s", strings.TrimSpace(stderr.String()))
	}
	return nil
}

// lostGrace is how long an operation that saw its channel end early
// waits to learn whether the whole connection ended: the channel's end of
// file arrives a moment before the connection's end is recorded.
const lostGrace = 200 * time.Millisecond

// lostDuring returns err restated as "the connection was lost" when the
// connection (whose end closes dead) ended, so that a transfer cut by a
// dead server does not fail with a bare "EOF" or "connection reset"; else
// nil. Only an error that looks like a cut (end of file, a network error,
// scp's disconnect) waits for the connection's end to be recorded.
func (s *Session) lostDuring(dead <-chan struct{}, err error) error {
	if dead == nil {
		return nil
	}
	select {
	case <-dead:
	default:
		var netErr *net.OpError
		var scpErr *ScpError
		cut := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr) ||
			(errors.As(err, &scpErr) && scpErr.Code == -1) || errors.Is(err, sftp.ErrSSHFxConnectionLost)
		if !cut {
			return nil
		}
		select {
		case <-dead:
		case <-time.After(lostGrace):
			return nil
		}
	}
	s.mu.Lock()
	addr := s.resolved.Addr()
	s.mu.Unlock()
	return errorf(KindClosed, err, "the connection to %s was lost", addr)
}

// LostDuring returns err, the failure of an operation begun while the
// connection whose end closes dead (Done's channel then) was up, restated
// as "the connection to ... was lost" when that is what happened, so that
// every transfer cut by a dead server fails the same way; any other error
// is returned unchanged.
func (s *Session) LostDuring(dead <-chan struct{}, err error) error {
	if err == nil {
		return nil
	}
	if lost := s.lostDuring(dead, err); lost != nil {
		return lost
	}
	return err
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Sftp returns the session's SFTP client, starting it on first use. It
// is closed with the connection.
func (s *Session) Sftp() (*SftpClient, error) {
	s.mu.Lock()
	c := s.sftp
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	client, err := s.Client()
	if err != nil {
		return nil, err
	}
	sess, release, err := s.openSession(context.Background())
	if err != nil {
		if KindOf(err) != "" {
			return nil, err
		}
		return nil, errorf(KindSftp, err, "sftp: open session")
	}
	c, err = startSftp(sess)
	if err != nil {
		release()
		return nil, err
	}
	c.release = release
	if s.oneAtATime() {
		// The sftp server lives as long as the session: holding the one
		// place would stop every command.
		release()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sftp != nil { // another call won the race
		c.Close()
		return s.sftp, nil
	}
	if s.client != client {
		c.Close()
		return nil, errorf(KindNotConnected, nil, "session ended while starting sftp")
	}
	s.sftp = c
	s.children[sftpCloser{s, c}] = struct{}{}
	return c, nil
}

// sftpCloser closes the session's SFTP client with its connection and
// forgets it, so that the next connection starts a new one.
type sftpCloser struct {
	s *Session
	c *SftpClient
}

func (sc sftpCloser) Close() error {
	sc.s.mu.Lock()
	if sc.s.sftp == sc.c {
		sc.s.sftp = nil
	}
	sc.s.mu.Unlock()
	return sc.c.Close()
}

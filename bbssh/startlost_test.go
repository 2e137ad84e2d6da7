package bbssh

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// dropOnExec accepts session channels and drops the whole connection when
// asked to start a command, before answering: what a client sees when the
// command it starts kills the sshd at once (kill -9 $PPID).
func dropOnExec(sc *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type == "exec" {
					sc.Close()
					return
				}
				if req.WantReply {
					req.Reply(true, nil)
				}
			}
		}()
	}
}

// TestStartOnALostConnection starts a command in each way the engine
// does on a server that drops the connection at the exec request: each
// fails naming the lost connection and the command, not with a bare EOF.
func TestStartOnALostConnection(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(ctx context.Context, s *Session) error
	}{
		{"exec", func(ctx context.Context, s *Session) error {
			p, err := s.Exec(ctx, ExecOptions{Command: "kill -9 $PPID"})
			if err == nil {
				p.Close()
			}
			return err
		}},
		{"exec channel", func(ctx context.Context, s *Session) error {
			c, err := s.NewExecChannel()
			if err != nil {
				return err
			}
			if err := c.SetCommand("kill -9 $PPID"); err != nil {
				return err
			}
			return c.Connect(ctx)
		}},
		{"scp", func(ctx context.Context, s *Session) error {
			return s.ScpFrom(ctx, "kill -9 $PPID", t.TempDir(), ScpOptions{})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := connectedSession(t, dropOnExec, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := tt.start(ctx, s)
			if err == nil {
				t.Fatal("the start succeeded on a dropped connection")
			}
			if KindOf(err) != KindClosed || !strings.Contains(err.Error(), "was lost") || !strings.Contains(err.Error(), "kill -9") {
				t.Errorf("want a closed error naming the lost connection and the command, got %s: %v", KindOf(err), err)
			}
		})
	}
}

package bbssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// waitingPrompter answers no question: each waits for its context, as a
// person who went for coffee, or a callback that never returns.
type waitingPrompter struct{ asked chan string }

func (p waitingPrompter) wait(ctx context.Context, prompt string) (string, error) {
	p.asked <- prompt
	<-ctx.Done()
	return "", ctx.Err()
}

func (p waitingPrompter) Password(ctx context.Context, prompt string) (string, error) {
	return p.wait(ctx, prompt)
}

func (p waitingPrompter) Passphrase(ctx context.Context, prompt string) (string, error) {
	return p.wait(ctx, prompt)
}

func (p waitingPrompter) YesNo(ctx context.Context, question string) (bool, error) {
	_, err := p.wait(ctx, question)
	return false, err
}

// TestPromptEndsWhenTheServerHangsUp: a server that gives up on the login
// while a password prompt waits (sshd's LoginGraceTime) ends the prompt
// and the connect, with an error that says so; a connect timeout still
// reads as a timeout.
func TestPromptEndsWhenTheServerHangsUp(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
		return nil, errors.New("no")
	}}
	config.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const grace = 300 * time.Millisecond
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			time.AfterFunc(grace, func() { c.Close() })
			go ssh.NewServerConn(c, config)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name    string
		timeout time.Duration
		want    string
	}{
		{name: "server hangs up", want: "the server closed the connection while a prompt waited"},
		{name: "connect timeout first", timeout: grace / 3, want: "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := waitingPrompter{asked: make(chan string, 10)}
			s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone", Prompter: p,
				HostKeyPolicy: HostKeyPolicy{Strict: "no"}, KnownHosts: []string{t.TempDir() + "/known_hosts"},
				NoAgent: true, NoDefaultIdentities: true, NoConfig: true, ConnectTimeout: tt.timeout})
			defer s.Close()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- s.Connect(context.Background()) }()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Connect still waits for the prompt 10 s after the server hung up")
			}
			took := time.Since(start)
			if len(p.asked) == 0 {
				t.Fatalf("no prompt was asked; Connect: %v", err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Connect error %v, want %q", err, tt.want)
			}
			if took > grace+2*time.Second {
				t.Errorf("Connect took %v", took)
			}
		})
	}
}

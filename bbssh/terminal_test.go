package bbssh

import (
	"bbssh/test/envskip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// fakeTerminal is a pseudo-terminal whose screen is recorded: the
// prompter under test opens its slave side, the test types on the master.
type fakeTerminal struct {
	master *os.File
	path   string
	mu     sync.Mutex
	screen bytes.Buffer
	done   chan struct{}
}

func newFakeTerminal(t *testing.T) *fakeTerminal {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		envskip.Skipf(t, "no pseudo-terminal here: %v", err)
	}
	ft := &fakeTerminal{master: master, path: slave.Name(), done: make(chan struct{})}
	go func() {
		defer close(ft.done)
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			ft.mu.Lock()
			ft.screen.Write(buf[:n])
			ft.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		master.Close()
		slave.Close()
		<-ft.done
	})
	return ft
}

// waitFor waits (at most 5 s) until the screen shows text.
func (ft *fakeTerminal) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ft.mu.Lock()
		ok := strings.Contains(ft.screen.String(), text)
		ft.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the terminal never showed %q; it shows %q", text, ft.shown())
}

func (ft *fakeTerminal) shown() string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.screen.String()
}

func TestTerminalPrompter(t *testing.T) {
	type result struct {
		text string
		yes  bool
		err  error
	}
	tests := []struct {
		name      string
		ask       func(p TerminalPrompter) result
		prompt    string
		typed     []string // typed after the prompt shows, in order
		want      result
		notOnTerm string // must never be echoed
	}{
		{name: "password is not echoed",
			ask: func(p TerminalPrompter) result {
				s, err := p.Password(context.Background(), "Password for me@host")
				return result{text: s, err: err}
			},
			prompt: "Password for me@host: ", typed: []string{"s3cret\r"}, want: result{text: "s3cret"}, notOnTerm: "s3cret"},
		{name: "backspace edits",
			ask: func(p TerminalPrompter) result {
				s, err := p.Passphrase(context.Background(), "Passphrase for key")
				return result{text: s, err: err}
			},
			prompt: "Passphrase for key: ", typed: []string{"abx\x7fc\n"}, want: result{text: "abc"}},
		{name: "ctrl-c cancels",
			ask: func(p TerminalPrompter) result {
				s, err := p.Password(context.Background(), "Password")
				return result{text: s, err: err}
			},
			prompt: "Password: ", typed: []string{"par\x03"}, want: result{err: ErrPromptCancelled}},
		{name: "ctrl-d on an empty line cancels",
			ask: func(p TerminalPrompter) result {
				s, err := p.Password(context.Background(), "Password")
				return result{text: s, err: err}
			},
			prompt: "Password: ", typed: []string{"\x04"}, want: result{err: ErrPromptCancelled}},
		{name: "yes",
			ask: func(p TerminalPrompter) result {
				y, err := p.YesNo(context.Background(), "Trust it?")
				return result{yes: y, err: err}
			},
			prompt: "Trust it? (yes/no) ", typed: []string{"yes\r"}, want: result{yes: true}},
		{name: "no after a wrong answer",
			ask: func(p TerminalPrompter) result {
				y, err := p.YesNo(context.Background(), "Trust it?")
				return result{yes: y, err: err}
			},
			prompt: "Trust it? (yes/no) ", typed: []string{"maybe\r", "no\r"}, want: result{yes: false}},
		{name: "the fingerprint counts as yes",
			ask: func(p TerminalPrompter) result {
				y, err := p.YesNo(context.Background(), "ED25519 key fingerprint is SHA256:abc.\nContinue?")
				return result{yes: y, err: err}
			},
			prompt: "(yes/no/[fingerprint]) ", typed: []string{"SHA256:abc\r"}, want: result{yes: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := newFakeTerminal(t)
			p := TerminalPrompter{Path: ft.path}
			if !p.Available() {
				t.Fatal("the fake terminal is not available")
			}
			got := make(chan result, 1)
			go func() { got <- tt.ask(p) }()
			ft.waitFor(t, tt.prompt)
			for _, s := range tt.typed {
				if _, err := io.WriteString(ft.master, s); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			var r result
			select {
			case r = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the prompter never returned")
			}
			if r.text != tt.want.text || r.yes != tt.want.yes || !errors.Is(r.err, tt.want.err) {
				t.Errorf("got %+v, want %+v", r, tt.want)
			}
			if tt.notOnTerm != "" && strings.Contains(ft.shown(), tt.notOnTerm) {
				t.Errorf("the secret was echoed: %q", ft.shown())
			}
		})
	}
}

func TestTerminalPrompterGivesUpWithItsContext(t *testing.T) {
	ft := newFakeTerminal(t)
	p := TerminalPrompter{Path: ft.path}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Password(ctx, "Password")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %v to give up", time.Since(start))
	}
}

func TestTerminalPrompterWithoutTerminal(t *testing.T) {
	p := TerminalPrompter{Path: t.TempDir() + "/no-tty"}
	if p.Available() {
		t.Fatal("a missing terminal is available")
	}
	if _, err := p.Password(context.Background(), "Password"); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("err = %v, want no terminal", err)
	}
}

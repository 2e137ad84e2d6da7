package bbssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// ErrPromptCancelled is returned by the terminal prompter when the user
// presses Ctrl-C or Ctrl-D instead of answering.
var ErrPromptCancelled = errors.New("bbssh: prompt cancelled at the terminal")

// maxAnswer bounds an answer typed at the terminal.
const maxAnswer = 4096

// TerminalPrompter asks on the controlling terminal (/dev/tty), as
// OpenSSH's ssh does: passwords and passphrases without echo, host keys as
// a yes/no/fingerprint question. The pod shares bb's terminal under both
// transports, so this reaches the person running the script. When there is
// no terminal (CI, a daemon) it reports itself unavailable and Connect
// fails with a clear error instead of waiting.
type TerminalPrompter struct {
	// Path is the terminal device; "" means /dev/tty.
	Path string
}

func (t TerminalPrompter) path() string {
	if t.Path == "" {
		return "/dev/tty"
	}
	return t.Path
}

// Available reports whether the terminal can be opened.
func (t TerminalPrompter) Available() bool {
	f, err := os.OpenFile(t.path(), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// Password asks for a password without echo.
func (t TerminalPrompter) Password(ctx context.Context, prompt string) (string, error) {
	return t.ask(ctx, prompt+": ", false)
}

// Passphrase asks for a key's passphrase without echo.
func (t TerminalPrompter) Passphrase(ctx context.Context, prompt string) (string, error) {
	return t.ask(ctx, prompt+": ", false)
}

// YesNo asks question until the answer is yes or no (at most 5 times). As
// in OpenSSH, typing the fingerprint the question shows counts as yes.
func (t TerminalPrompter) YesNo(ctx context.Context, question string) (bool, error) {
	fingerprint := ""
	if i := strings.Index(question, "SHA256:"); i >= 0 {
		fingerprint = strings.TrimRight(strings.Fields(question[i:])[0], ".")
	}
	prompt := question + " (yes/no) "
	if fingerprint != "" {
		prompt = question + " (yes/no/[fingerprint]) "
	}
	for range 5 {
		answer, err := t.ask(ctx, prompt, true)
		if err != nil {
			return false, err
		}
		switch a := strings.TrimSpace(answer); {
		case strings.EqualFold(a, "yes"), fingerprint != "" && a == fingerprint:
			return true, nil
		case strings.EqualFold(a, "no"):
			return false, nil
		}
		prompt = "Please type 'yes' or 'no': "
		if fingerprint != "" {
			prompt = "Please type 'yes', 'no' or the fingerprint: "
		}
	}
	return false, errors.New("bbssh: no yes or no answer after 5 questions")
}

// Challenge answers keyboard-interactive questions one by one, echoing
// the ones the server marks as echoed.
func (t TerminalPrompter) Challenge(ctx context.Context, name, instruction string, questions []string, echos []bool) ([]string, error) {
	if text := strings.TrimSpace(strings.Join([]string{name, instruction}, "\n")); text != "" {
		if err := t.say(text); err != nil {
			return nil, err
		}
	}
	answers := make([]string, len(questions))
	for i, q := range questions {
		a, err := t.ask(ctx, q, echos[i])
		if err != nil {
			return nil, err
		}
		answers[i] = a
	}
	return answers, nil
}

// say prints a line on the terminal.
func (t TerminalPrompter) say(text string) error {
	f, err := os.OpenFile(t.path(), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("bbssh: no terminal to show a message on: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s\r\n", strings.ReplaceAll(text, "\n", "\r\n"))
	return err
}

// ask prints prompt and reads one line in raw mode, so that Ctrl-C
// cancels the prompt (instead of killing bb and the pod) and a secret is
// never echoed. The terminal's mode is restored on every path.
func (t TerminalPrompter) ask(ctx context.Context, prompt string, echo bool) (string, error) {
	f, err := os.OpenFile(t.path(), os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("bbssh: no terminal to ask on: %w", err)
	}
	defer f.Close()
	// Fd would switch the file to blocking mode and so disable read
	// deadlines; take the descriptor through SyscallConn instead.
	rc, err := f.SyscallConn()
	if err != nil {
		return "", err
	}
	var state *term.State
	if cerr := rc.Control(func(fd uintptr) { state, err = term.MakeRaw(int(fd)) }); cerr != nil || err != nil {
		return "", fmt.Errorf("bbssh: cannot set the terminal to raw mode: %w", errors.Join(cerr, err))
	}
	defer rc.Control(func(fd uintptr) { term.Restore(int(fd), state) })
	// Unblock the read when the connection attempt is abandoned.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := f.WriteString(strings.ReplaceAll(prompt, "\n", "\r\n")); err != nil {
		return "", err
	}
	defer f.WriteString("\r\n")
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := f.Read(buf); err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("bbssh: reading the terminal: %w", err)
		}
		switch c := buf[0]; c {
		case '\r', '\n':
			return string(line), nil
		case 3: // Ctrl-C
			f.WriteString("^C")
			return "", ErrPromptCancelled
		case 4: // Ctrl-D
			if len(line) == 0 {
				return "", ErrPromptCancelled
			}
		case 0x7f, 8: // backspace
			if len(line) > 0 {
				line = line[:len(line)-1]
				if echo {
					f.WriteString("\b \b")
				}
			}
		case 0x15: // Ctrl-U
			if echo {
				f.WriteString(strings.Repeat("\b \b", len(line)))
			}
			line = line[:0]
		default:
			if len(line) >= maxAnswer {
				return "", fmt.Errorf("bbssh: answer longer than %d bytes", maxAnswer)
			}
			line = append(line, c)
			if echo {
				f.Write(buf)
			}
		}
	}
}

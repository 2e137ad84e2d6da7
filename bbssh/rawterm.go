package bbssh

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// ErrNoTerminal is returned by terminal operations when the process has
// no controlling terminal (CI, a daemon, a pipe).
var ErrNoTerminal = errors.New("bbssh: no terminal")

// RawTerminal switches the controlling terminal into raw mode and back,
// for scripts that read keys themselves (bbssh 0.6's terminal namespace):
// no echo, no line editing, Ctrl-C arrives as a byte instead of a signal,
// no output processing. The pod shares the terminal with babashka under
// both transports, so the mode applies to what babashka reads. Entering
// twice keeps the first saved mode; Leave restores it.
type RawTerminal struct {
	// Path is the terminal device; "" means /dev/tty.
	Path string

	mu    sync.Mutex
	f     *os.File
	saved *term.State
}

func (t *RawTerminal) path() string {
	if t.Path == "" {
		return "/dev/tty"
	}
	return t.Path
}

// Enter puts the terminal in raw mode; it reports whether it was already.
func (t *RawTerminal) Enter() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		return nil
	}
	f, err := os.OpenFile(t.path(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("%w to put in raw mode (%v)", ErrNoTerminal, err)
	}
	state, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		f.Close()
		return fmt.Errorf("%w: %s is not a terminal: %v", ErrNoTerminal, t.path(), err)
	}
	t.f, t.saved = f, state
	return nil
}

// Leave restores the mode saved by Enter; without Enter it does nothing.
func (t *RawTerminal) Leave() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := term.Restore(int(t.f.Fd()), t.saved)
	t.f.Close()
	t.f, t.saved = nil, nil
	return err
}

// Raw reports whether Enter is in effect.
func (t *RawTerminal) Raw() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f != nil
}

// TerminalSize returns the controlling terminal's size in characters, or
// ErrNoTerminal.
func TerminalSize() (cols, rows int, err error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("%w (%v)", ErrNoTerminal, err)
	}
	defer f.Close()
	cols, rows, err = term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrNoTerminal, err)
	}
	return cols, rows, nil
}

// ClientStdoutIsTerminal reports whether the pod client's standard output
// is a terminal. Under the socket transport the pod shares it; under
// stdio the pod's own stdout is the protocol pipe, so the client's (the
// parent process's) descriptor 1 is looked at through /proc.
func ClientStdoutIsTerminal() bool {
	if term.IsTerminal(int(os.Stdout.Fd())) {
		return true
	}
	path := fmt.Sprintf("/proc/%d/fd/1", os.Getppid())
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return term.IsTerminal(int(f.Fd()))
}

package bbssh

import (
	"os"
	"syscall"
)

// groupAttr: Windows has no process groups to signal; the command is
// started as it is.
func groupAttr() *syscall.SysProcAttr { return nil }

// signalGroup ends p itself when kill (Windows has no SIGTERM to send
// first).
func signalGroup(p *os.Process, kill bool) {
	if kill {
		p.Kill()
	}
}

//go:build !windows

package bbssh

import (
	"os"
	"syscall"
)

// groupAttr starts a command in a process group of its own, so that
// signalGroup reaches everything it starts.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends SIGTERM (or SIGKILL when kill) to the process group
// that p leads.
func signalGroup(p *os.Process, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-p.Pid, sig)
}

//go:build !linux

package testbed

import "syscall"

// sysProcAttr puts sshd in its own process group so a terminal's Ctrl-C
// reaches only the controlling program, which then calls Stop.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// descendants is only implemented on Linux; elsewhere Stop signals sshd's
// listener alone and existing connections outlive it.
func descendants(int) []int { return nil }

// alive is only implemented on Linux; elsewhere it assumes the process
// exited once signalled.
func alive(int) bool { return false }

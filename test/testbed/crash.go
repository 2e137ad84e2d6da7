package testbed

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Kill simulates a crash of the server: sshd and every process below it
// (the per-connection sshd processes and the users' commands) get SIGKILL
// at once, with no grace, so that clients see their connections cut in the
// middle of whatever they were doing. Restart brings sshd back on the same
// port with the same keys.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return errors.New("testbed: Kill: sshd is not running")
	}
	s.proc = nil
	pid := p.cmd.Process.Pid
	// Stop the listener first so that it cannot fork new children while
	// the tree is read, then kill the tree from the top.
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	kids := descendants(pid)
	_ = p.cmd.Process.Kill()
	signalAll(kids, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(killTimeout):
		return fmt.Errorf("testbed: sshd pid %d did not exit after SIGKILL", pid)
	}
	reapAll(kids)
	return nil
}

// Processes returns the pids of the processes sshd runs for its
// connections (per-connection sshd processes and the users' commands), so
// a test can tell whether a client's connection is still held open on the
// server side. It is empty while sshd is stopped.
func (s *Server) Processes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	var live []int
	for _, pid := range descendants(s.proc.cmd.Process.Pid) {
		if alive(pid) {
			live = append(live, pid)
		}
	}
	return live
}

// Freeze simulates a server that stops answering without closing
// anything (a hung host, a cable pulled): sshd and every process below it
// get SIGSTOP, so the kernel keeps the connections open but nothing is
// answered. Kill or Stop end the frozen processes.
func (s *Server) Freeze() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("testbed: Freeze: sshd is not running")
	}
	pid := s.proc.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	signalAll(descendants(pid), syscall.SIGSTOP)
	return nil
}

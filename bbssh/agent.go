package bbssh

import (
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// forwardAgent makes the local ssh-agent reachable from the remote
// command (ssh -A).
func forwardAgent(client *ssh.Client, sess *ssh.Session, s *Session) error {
	if err := s.refuseOnChangedKey("agent forwarding"); err != nil {
		return err
	}
	o := s.Options()
	sock := o.AgentSocket
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" {
		return errorf(KindExec, nil, "agent forwarding asked for, but there is no ssh-agent (SSH_AUTH_SOCK is not set)")
	}
	if conn, err := net.Dial("unix", sock); err != nil {
		return errorf(KindExec, pathErr(err), "agent forwarding: cannot reach ssh-agent at %s", sock)
	} else {
		conn.Close()
	}
	if err := agent.ForwardToRemote(client, sock); err != nil {
		// Registered once per client; a second registration fails and
		// the first one already serves.
		_ = err
	}
	if err := agent.RequestAgentForwarding(sess); err != nil {
		return errorf(KindExec, err, "agent forwarding refused")
	}
	return nil
}

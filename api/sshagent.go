package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"time"

	"bbssh/pod"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// An ssh-agent as an identity repository (pod.epiccastle.bbssh.ssh-agent):
// its keys are listed, used and changed over its unix socket, one
// connection per operation, so that a restarted agent is picked up.

// agentTimeout bounds one exchange with the ssh-agent.
const agentTimeout = 10 * time.Second

// sshAgentRepo is the ssh-agent at sock ("" means $SSH_AUTH_SOCK at each
// use).
type sshAgentRepo struct{ sock string }

func (r *sshAgentRepo) socket() string {
	if r.sock != "" {
		return r.sock
	}
	return os.Getenv("SSH_AUTH_SOCK")
}

// with runs f on a fresh connection to the agent.
func (r *sshAgentRepo) with(ctx context.Context, f func(agent.ExtendedAgent) error) error {
	sock := r.socket()
	if sock == "" {
		return agentError("there is no ssh-agent: SSH_AUTH_SOCK is not set", nil)
	}
	d := net.Dialer{Timeout: agentTimeout}
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return agentError(fmt.Sprintf("cannot reach the ssh-agent at %s", sock), err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(agentTimeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := f(agent.NewClient(conn)); err != nil {
		return agentError("the ssh-agent failed", err)
	}
	return nil
}

func agentError(msg string, err error) error {
	if err != nil {
		msg += ": " + err.Error()
	}
	return pod.Errorf(ErrorNS+"/agent-failed", "%s", msg)
}

func (r *sshAgentRepo) repoName(context.Context) (string, error) { return "ssh-agent", nil }

// status is :unavailable without a socket, :not-running when it does not
// answer, else :running.
func (r *sshAgentRepo) status(ctx context.Context) (any, error) {
	if r.socket() == "" {
		return kw("unavailable"), nil
	}
	if err := r.with(ctx, func(ag agent.ExtendedAgent) error { _, err := ag.List(); return err }); err != nil {
		return kw("not-running"), nil
	}
	return kw("running"), nil
}

func (r *sshAgentRepo) identities(ctx context.Context) ([]identity, error) {
	var keys []*agent.Key
	if err := r.with(ctx, func(ag agent.ExtendedAgent) error {
		var err error
		keys, err = ag.List()
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]identity, len(keys))
	for i, k := range keys {
		out[i] = &agentIdentity{repo: r, blob: k.Blob, comment: k.Comment}
	}
	return out, nil
}

func (r *sshAgentRepo) add(ctx context.Context, key []byte) (bool, error) {
	raw, err := ssh.ParseRawPrivateKey(key)
	if err != nil {
		return false, badOption("the key to add to the ssh-agent cannot be parsed (an encrypted key must be decrypted first): %v", err)
	}
	if k, ok := raw.(*ed25519.PrivateKey); ok {
		raw = *k
	}
	return true, r.with(ctx, func(ag agent.ExtendedAgent) error { return ag.Add(agent.AddedKey{PrivateKey: raw}) })
}

func (r *sshAgentRepo) remove(ctx context.Context, blob []byte) (bool, error) {
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return false, badOption("not a public key blob: %v", err)
	}
	return true, r.with(ctx, func(ag agent.ExtendedAgent) error { return ag.Remove(pub) })
}

func (r *sshAgentRepo) removeAll(ctx context.Context) error {
	return r.with(ctx, func(ag agent.ExtendedAgent) error { return ag.RemoveAll() })
}

// agentIdentity is one key of an ssh-agent.
type agentIdentity struct {
	repo    *sshAgentRepo
	blob    []byte
	comment string
}

func (k *agentIdentity) publicKeyBlob(context.Context) ([]byte, error) { return k.blob, nil }

func (k *agentIdentity) sign(ctx context.Context, data []byte, alg string) ([]byte, error) {
	pub, err := ssh.ParsePublicKey(k.blob)
	if err != nil {
		return nil, badOption("the ssh-agent key is not a public key blob: %v", err)
	}
	var flags agent.SignatureFlags
	switch alg {
	case ssh.KeyAlgoRSASHA256:
		flags = agent.SignatureFlagRsaSha256
	case ssh.KeyAlgoRSASHA512:
		flags = agent.SignatureFlagRsaSha512
	}
	var sig *ssh.Signature
	err = k.repo.with(ctx, func(ag agent.ExtendedAgent) error {
		var err error
		sig, err = ag.SignWithFlags(pub, data, flags)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ssh.Marshal(sig), nil
}

// algName is the first string of the blob, as bbssh 0.6.
func (k *agentIdentity) algName(context.Context) (string, error) {
	var w struct {
		Name string
		Rest []byte `ssh:"rest"`
	}
	if err := ssh.Unmarshal(k.blob, &w); err != nil {
		return "", badOption("the ssh-agent key is not a public key blob: %v", err)
	}
	return w.Name, nil
}
func (k *agentIdentity) name(context.Context) (string, error)                { return k.comment, nil }
func (k *agentIdentity) isEncrypted(context.Context) (bool, error)           { return false, nil }
func (k *agentIdentity) setPassphrase(context.Context, []byte) (bool, error) { return true, nil }
func (k *agentIdentity) clear(context.Context) error                         { return nil }

func (a *API) registerSSHAgent(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "new-identity-repository", MinArgs: 0, MaxArgs: 1,
		Doc:      "An identity repository of the ssh-agent at socket [$SSH_AUTH_SOCK when used]. E.g. (new-identity-repository \"/tmp/agent.sock\") ;; => :bbssh/identity-repository-4",
		Arglists: []string{"[]", "[socket]"},
		Fn: func(c *pod.Call) (any, error) {
			sock, err := optStringArg(c, 0)
			if err != nil {
				return nil, err
			}
			return a.reg.Put("identity-repository", &sshAgentRepo{sock: sock}), nil
		}})
	ns.Add(&pod.Var{Name: "new-identity", MinArgs: 3, MaxArgs: 3,
		Doc:      "An identity for the key blob (base64) the ssh-agent at socket [$SSH_AUTH_SOCK] holds; comment names it. E.g. (new-identity nil \"AAAAC3NzaC1l...\" \"me@laptop\")",
		Arglists: []string{"[socket blob-b64 comment]"},
		Fn: func(c *pod.Call) (any, error) {
			sock, err := optStringArg(c, 0)
			if err != nil {
				return nil, err
			}
			blob, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			if _, err := ssh.ParsePublicKey(blob); err != nil {
				return nil, badOption("new-identity wants a public key blob: %v", err)
			}
			comment, err := optStringArg(c, 2)
			if err != nil {
				return nil, err
			}
			return a.reg.Put("identity", &agentIdentity{repo: &sshAgentRepo{sock: sock}, blob: bytes.Clone(blob), comment: comment}), nil
		}})
}

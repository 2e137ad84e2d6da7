package bbssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authPlan is the list of auth methods to try, in OpenSSH's order:
// public keys (agent, then identity files, then the inline key), then
// keyboard-interactive and password. notes records identities that could
// not be used, for the error message when everything fails.
type authPlan struct {
	methods   []ssh.AuthMethod
	tried     []string
	notes     []string
	agentConn net.Conn
	promptErr *promptError // the first failure to get an answer, if any
	// untrusted returns the changed host key the connection goes on
	// with, which rules out password and keyboard-interactive auth
	// (hostkeychanged.go); nil when unset.
	untrusted func() *HostKeyError
}

// refusedOnChangedKey returns the error that ends password or
// keyboard-interactive auth when the server's host key changed.
func (p *authPlan) refusedOnChangedKey(what string) error {
	if p.untrusted == nil {
		return nil
	}
	if e := p.untrusted(); e != nil {
		refused := refusedOnChangedKey(e, what)
		refused.Reason = "no public key offered was accepted, and " + refused.Reason
		return refused
	}
	return nil
}

// close releases the agent connection.
func (p *authPlan) close() {
	if p.agentConn != nil {
		p.agentConn.Close()
	}
}

func defaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var files []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		f := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	return files
}

func newAuthPlan(ctx context.Context, o *Options) (*authPlan, error) {
	p := &authPlan{}
	var signers []ssh.Signer
	if !o.NoAgent {
		sock := o.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock != "" {
			if conn, err := net.Dial("unix", sock); err == nil {
				p.agentConn = conn
				if agentSigners, err := agent.NewClient(conn).Signers(); err == nil {
					signers = append(signers, agentSigners...)
				} else {
					p.notes = append(p.notes, fmt.Sprintf("ssh-agent: %v", err))
				}
			} else {
				p.notes = append(p.notes, fmt.Sprintf("ssh-agent at %s: %v", sock, pathErr(err)))
			}
		}
	}
	repoSigners, repoNotes := identitySigners(ctx, o)
	signers, p.notes = append(signers, repoSigners...), append(p.notes, repoNotes...)
	files := append([]string(nil), o.IdentityFiles...)
	if !o.NoDefaultIdentities {
		files = append(files, defaultIdentityFiles()...)
	}
	for _, f := range files {
		pem, err := os.ReadFile(expandHome(f))
		if err != nil {
			return nil, errorf(KindBadOption, nil, "identity file %s cannot be read: %v", f, pathErr(err))
		}
		s, err := parseKey(ctx, pem, f, o)
		if err != nil {
			p.notes = append(p.notes, err.Error())
			continue
		}
		o.logf(LogDebug, "identity %s: %s %s", f, s.PublicKey().Type(), ssh.FingerprintSHA256(s.PublicKey()))
		signers = append(signers, s)
	}
	if len(o.PrivateKey) > 0 {
		s, err := parseKey(ctx, o.PrivateKey, ":private-key", o)
		if err != nil {
			return nil, errorf(KindBadOption, nil, "%s", err.Error())
		}
		if len(o.PublicKey) > 0 {
			pub, _, _, _, perr := ssh.ParseAuthorizedKey(o.PublicKey)
			if perr != nil {
				pub, perr = ssh.ParsePublicKey(o.PublicKey)
			}
			if perr != nil {
				return nil, errorf(KindBadOption, nil, ":public-key is neither an authorized_keys line nor a public key blob")
			}
			if !bytes.Equal(pub.Marshal(), s.PublicKey().Marshal()) {
				return nil, errorf(KindBadOption, nil, ":public-key (%s) is not the public half of :private-key (%s)",
					ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(s.PublicKey()))
			}
		}
		signers = append(signers, s)
	}
	if len(signers) > 0 {
		p.methods = append(p.methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			o.logf(LogDebug, "offering %d public keys", len(signers))
			return signers, nil
		}))
		p.tried = append(p.tried, fmt.Sprintf("publickey (%d keys)", len(signers)))
	}
	password := o.Password
	ask := func(prompt string) (string, error) {
		if err := p.refusedOnChangedKey("password authentication"); err != nil {
			return "", err
		}
		if password != "" {
			return password, nil
		}
		if o.Prompter == nil {
			return "", errors.New("no password given and no way to ask for one")
		}
		if p.promptErr != nil {
			// Asked and refused (Ctrl-C, a declining callback): do not
			// ask again for the next auth method.
			return "", p.promptErr
		}
		o.logf(LogDebug, "asking for the password: %s", prompt)
		pw, err := o.Prompter.Password(ctx, prompt)
		if err != nil {
			p.promptErr = &promptError{err}
			return "", p.promptErr
		}
		return pw, nil
	}
	challenger, _ := o.Prompter.(Challenger)
	if password != "" || o.Prompter != nil {
		prompt := fmt.Sprintf("Password for %s@%s", o.User, o.Host)
		p.methods = append(p.methods,
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				if err := p.refusedOnChangedKey("keyboard-interactive authentication"); err != nil {
					return nil, err
				}
				answers := make([]string, len(questions))
				for i, q := range questions {
					if echos[i] || !strings.Contains(strings.ToLower(q), "password") {
						if challenger != nil {
							answers, err := challenger.Challenge(ctx, name, instruction, questions, echos)
							if err != nil {
								p.promptErr = &promptError{err}
								return nil, p.promptErr
							}
							return answers, nil
						}
						return nil, fmt.Errorf("cannot answer the question %q", q)
					}
					a, err := ask(prompt)
					if err != nil {
						return nil, err
					}
					answers[i] = a
				}
				return answers, nil
			}),
			ssh.PasswordCallback(func() (string, error) { return ask(prompt) }))
		p.tried = append(p.tried, "keyboard-interactive", "password")
	}
	return p, nil
}

// promptError is a failure to get an answer from the Prompter during
// auth; it ends the attempt as an auth failure that says why.
type promptError struct{ err error }

func (e *promptError) Error() string { return e.err.Error() }
func (e *promptError) Unwrap() error { return e.err }

// parseKey parses a private key, decrypting it with the passphrase from
// the options or from the prompter. Errors name the key, never its
// passphrase.
func parseKey(ctx context.Context, pem []byte, name string, o *Options) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, fmt.Errorf("identity %s: %v", name, err)
		}
		return s, nil
	}
	passphrase := o.Passphrase
	if passphrase == "" && o.Prompter != nil {
		passphrase, err = o.Prompter.Passphrase(ctx, "Passphrase for "+name)
		if err != nil {
			return nil, fmt.Errorf("identity %s: passphrase: %v", name, err)
		}
	}
	if passphrase == "" {
		return nil, fmt.Errorf("identity %s is encrypted and no passphrase was given", name)
	}
	s, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
	if err != nil {
		return nil, fmt.Errorf("identity %s: cannot decrypt it with the passphrase given: %v", name, err)
	}
	return s, nil
}

package bbssh

import (
	"context"
	"errors"

	"golang.org/x/crypto/ssh"
)

// IdentitySource supplies keys for publickey auth from somewhere other
// than key files: JSch's IdentityRepository, such as a bbssh agent's
// identities, identities implemented in a script, or an ssh-agent's keys.
type IdentitySource interface {
	// Signers returns the keys to offer. passphrase asks for the
	// passphrase of the encrypted identity called name (from
	// Options.Passphrase, else the Prompter). notes name identities that
	// could not be used, for the error message when auth fails.
	Signers(ctx context.Context, passphrase func(name string) ([]byte, error)) (signers []ssh.Signer, notes []string, err error)
}

// identitySigners asks o.Identities for its keys.
func identitySigners(ctx context.Context, o *Options) ([]ssh.Signer, []string) {
	if o.Identities == nil {
		return nil, nil
	}
	ask := func(name string) ([]byte, error) {
		if o.Passphrase != "" {
			return []byte(o.Passphrase), nil
		}
		if o.Prompter == nil {
			return nil, errors.New("it is encrypted and no passphrase was given")
		}
		p, err := o.Prompter.Passphrase(ctx, "Passphrase for "+name)
		return []byte(p), err
	}
	signers, notes, err := o.Identities.Signers(ctx, ask)
	if err != nil {
		notes = append(notes, "identity repository: "+err.Error())
	}
	for _, s := range signers {
		o.logf(LogDebug, "identity from the repository: %s %s", s.PublicKey().Type(), ssh.FingerprintSHA256(s.PublicKey()))
	}
	return signers, notes
}

package bbssh

import (
	"fmt"
	"strings"
)

// A server key that differs from the known one, under a policy that goes
// on anyway, handled as OpenSSH's check_host_key (sshconnect.c) does
// with StrictHostKeyChecking=no: the connection goes on after a loud
// warning, but without what a man-in-the-middle could exploit. Password
// and keyboard-interactive authentication are refused (the password
// would go to whoever holds the new key), agent forwarding and port
// forwarding are refused, and the new key is not recorded. Public key
// authentication still works: a signature is bound to the session and
// useless to an impostor elsewhere. The default policy, :accept-host-key
// :new, accept-new and yes refuse the connection as before. A revoked key
// is always refused (OpenSSH goes on there too; bbssh does not, as a
// revocation is an explicit statement that the key is not to be trusted).

// continuesOnChange reports whether a changed key lets the connection go
// on: strict host key checking "no" (bbssh 0.6's :strict-host-key-checking
// false), or :accept-host-key true when strict checking is left to ask.
func (p HostKeyPolicy) continuesOnChange() bool {
	switch p.Strict {
	case "no":
		return true
	case "", "ask":
		return p.Accept == "yes"
	}
	return false
}

// why names the option that let the connection go on.
func (p HostKeyPolicy) why() string {
	if p.Strict == "no" {
		return "strict host key checking is off"
	}
	return "accept-host-key is true"
}

// changed decides about a key that differs from the known one (e says
// which): refused, unless the policy goes on, in which case the
// connection is marked untrusted and a warning is given.
func (c *hostKeyChecker) changed(e *HostKeyError) error {
	if !c.policy.continuesOnChange() {
		return e
	}
	c.untrusted.Store(e)
	c.messages(strings.Join([]string{
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
		"Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
		"It is also possible that a host key has just been changed.",
		fmt.Sprintf("The fingerprint for the %s key sent by the remote host %s is\n%s.", keyTypeName(e.KeyType), e.Host, e.Fingerprint),
		fmt.Sprintf("Known key: %s", strings.Join(e.KnownHosts, ", ")),
		fmt.Sprintf("Connecting anyway because %s; the new key is not recorded.", c.policy.why()),
		"Password authentication is disabled to avoid man-in-the-middle attacks.",
		"Keyboard-interactive authentication is disabled to avoid man-in-the-middle attacks.",
		"Agent forwarding is disabled to avoid man-in-the-middle attacks.",
		"Port forwarding is disabled to avoid man-in-the-middle attacks.",
	}, "\n"))
	c.log(LogError, fmt.Sprintf("REMOTE HOST IDENTIFICATION HAS CHANGED for %s: %s key %s does not match %s; connecting anyway because %s, "+
		"without password, keyboard-interactive, agent forwarding or port forwarding",
		e.Host, e.KeyType, e.Fingerprint, strings.Join(e.KnownHosts, ", "), c.policy.why()))
	return nil
}

// untrustedKey returns the changed key the connection went on with, or
// nil when the server's key was trusted.
func (c *hostKeyChecker) untrustedKey() *HostKeyError { return c.untrusted.Load() }

// refusedOnChangedKey is the error for something a connection with a
// changed host key may not do (what: "password authentication", "port
// forwarding" ...).
func refusedOnChangedKey(e *HostKeyError, what string) *HostKeyError {
	refused := *e
	refused.Reason = fmt.Sprintf("%s is disabled on this connection to avoid man-in-the-middle attacks; "+
		"if the new key is expected, remove the old one from known_hosts (ssh-keygen -R %s) and connect again", what, e.Host)
	return &refused
}

// refuseOnChangedKey returns an error when the session's connection went
// on with a changed host key, nil otherwise.
func (s *Session) refuseOnChangedKey(what string) error {
	s.mu.Lock()
	e := s.untrusted
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	return refusedOnChangedKey(e, what)
}

// HostKeyChanged returns the changed host key the current connection went
// on with (strict host key checking off), or nil when its key was trusted.
func (s *Session) HostKeyChanged() *HostKeyError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.untrusted
}

package testbed

import "strconv"

// Env returns the server's coordinates as KEY=VALUE strings, for passing to
// child processes (test scripts, the pod under test, demos) via
// os/exec.Cmd.Env. BBSSH_TEST_KBD_INTERACTIVE is "true" or "false".
func (s *Server) Env() []string {
	kv := [][2]string{
		{"BBSSH_TEST_HOST", s.Host},
		{"BBSSH_TEST_PORT", strconv.Itoa(s.Port)},
		{"BBSSH_TEST_USER", s.User},
		{"BBSSH_TEST_PASSWORD", s.Password},
		{"BBSSH_TEST_IDENTITY", s.ClientKey},
		{"BBSSH_TEST_IDENTITY_ENCRYPTED", s.ClientKeyEncrypted},
		{"BBSSH_TEST_PASSPHRASE", s.ClientKeyPassphrase},
		{"BBSSH_TEST_RSA_IDENTITY", s.ClientRSAKey},
		{"BBSSH_TEST_KNOWN_HOSTS", s.KnownHosts},
		{"BBSSH_TEST_HOME", s.Home},
		{"BBSSH_TEST_SSHD_DIR", s.Dir},
		{"BBSSH_TEST_HOST_FINGERPRINT", s.HostKeyFingerprints["ssh-ed25519"]},
		{"BBSSH_TEST_KBD_INTERACTIVE", strconv.FormatBool(s.KbdInteractive)},
	}
	env := make([]string, len(kv))
	for i, p := range kv {
		env[i] = p[0] + "=" + p[1]
	}
	return env
}

// Package testbed runs a real Debian OpenSSH sshd on loopback for the
// integration tests, demos and benchmarks of the bbssh pod.
//
// Start generates fresh host and client keys in a private directory, writes
// an sshd_config that enables every feature the pod exercises (password,
// keyboard-interactive and public-key auth, TCP and stream-local forwarding,
// agent forwarding, PTYs, sftp) and launches /usr/sbin/sshd in the
// foreground on 127.0.0.1 with a free port. sshd keeps OpenSSH's default
// limits (MaxSessions 10, MaxStartups 10:30:100, MaxAuthTries 6,
// LoginGraceTime 120), as servers ship: a test that needs one raised sets it
// in Options.ExtraConfig, with a comment saying why. StartDropbear runs
// dropbear, a second SSH server, the same way. Nothing outside that directory is
// touched except, when running as root, the system account "bbsshtest"
// (created once and reused) and /run/sshd (sshd's privilege separation
// directory).
//
// Running as root is the supported mode (CI runs as root). As a non-root user
// sshd can only log in as the user that runs it, so the test user falls back
// to the current user, password and keyboard-interactive auth are
// unavailable (Server.Password is empty) and only key auth works.
package testbed

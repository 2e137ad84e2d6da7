// Package testbed runs a real Debian OpenSSH sshd on loopback for the
// integration tests, demos and benchmarks of the bbssh pod.
//
// Start generates fresh host and client keys in a private directory, writes
// an sshd_config that enables every feature the pod exercises (password,
// keyboard-interactive and public-key auth, TCP and stream-local forwarding,
// agent forwarding, PTYs, sftp) and launches /usr/sbin/sshd in the
// foreground on 127.0.0.1 with a free port. Nothing outside that directory is
// touched except, when running as root, the system account "bbsshtest"
// (created once and reused) and /run/sshd (sshd's privilege separation
// directory).
//
// Running as root is the supported mode (CI runs as root). As a non-root user
// sshd can only log in as the user that runs it, so the test user falls back
// to the current user, password and keyboard-interactive auth are
// unavailable (Server.Password is empty) and only key auth works.
package testbed

package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bbssh/test/tcpserve"
)

// cmdTimeout bounds every external command a test runs.
const cmdTimeout = 30 * time.Second

// startServer starts a server for t, stops it at cleanup and dumps the sshd
// log if the test failed.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if _, err := os.Stat(DefaultSSHD); err != nil {
		t.Fatalf("%s missing: install it with `apt-get install openssh-server` (%v)", DefaultSSHD, err)
	}
	opts.Logf = t.Logf
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.Logs())
		}
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// sshArgs returns ssh client arguments that trust only s's known_hosts,
// ignore the user's ssh config, then the given options, then the
// destination and remote command.
func sshArgs(s *Server, opts []string, command ...string) []string {
	args := []string{
		"-F", "/dev/null",
		"-o", "UserKnownHostsFile=" + s.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "ConnectTimeout=10",
		"-p", strconv.Itoa(s.Port),
	}
	args = append(args, opts...)
	args = append(args, s.User+"@"+s.Host)
	return append(args, command...)
}

// keyOpts are ssh options for logging in with exactly the private key file.
func keyOpts(key string) []string {
	return []string{"-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
}

// run runs name with args and extra environment, bounded by cmdTimeout, and
// returns its combined output.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// askpass writes an SSH_ASKPASS script printing answer and returns the
// environment that makes ssh/ssh-add use it without a terminal.
func askpass(t *testing.T, answer string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "askpass.sh")
	script := "#!/bin/sh\nprintf '%s\\n' '" + answer + "'\n"
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{"SSH_ASKPASS=" + path, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0"}
}

func TestKeyAuth(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	for _, tc := range []struct {
		name, key string
	}{
		{"ed25519", s.ClientKey},
		{"rsa-3072-pem", s.ClientRSAKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, nil, "ssh", sshArgs(s, keyOpts(tc.key), "echo", "hi")...)
			if err != nil || strings.TrimSpace(out) != "hi" {
				t.Fatalf("ssh echo hi: err=%v output=%q", err, out)
			}
		})
	}
	t.Run("rsa-is-pem", func(t *testing.T) {
		raw, err := os.ReadFile(s.ClientRSAKey)
		if err != nil || !bytes.HasPrefix(raw, []byte("-----BEGIN RSA PRIVATE KEY-----")) {
			t.Fatalf("RSA key not PEM: err=%v head=%q", err, raw[:min(len(raw), 40)])
		}
	})
	t.Run("key-modes", func(t *testing.T) {
		for _, k := range []string{s.ClientKey, s.ClientKeyEncrypted, s.ClientRSAKey} {
			if fi, err := os.Stat(k); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, err %v; want 0600", k, fi.Mode(), err)
			}
		}
	})
	t.Run("home", func(t *testing.T) {
		out, err := run(t, nil, "ssh", sshArgs(s, keyOpts(s.ClientKey), "pwd")...)
		if err != nil || strings.TrimSpace(out) != s.Home {
			t.Fatalf("remote pwd = %q (err %v), want %q", out, err, s.Home)
		}
	})
	t.Run("pty-login-without-motd", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		opts := append(keyOpts(s.ClientKey), "-tt")
		cmd := exec.CommandContext(ctx, "ssh", sshArgs(s, opts)...)
		cmd.Stdin = strings.NewReader("echo MARK$((6*7)); exit\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "MARK42") {
			t.Fatalf("pty shell: err=%v output=%q", err, out)
		}
		if strings.Contains(string(out), "ABSOLUTELY NO WARRANTY") {
			t.Errorf("motd shown in PTY login (missing ~/.hushlogin?): %q", out)
		}
	})
	t.Run("sftp", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		args := []string{"-F", "/dev/null", "-b", "-", "-P", strconv.Itoa(s.Port),
			"-o", "UserKnownHostsFile=" + s.KnownHosts, "-o", "StrictHostKeyChecking=yes",
			"-o", "IdentitiesOnly=yes", "-i", s.ClientKey, s.User + "@" + s.Host}
		cmd := exec.CommandContext(ctx, "sftp", args...)
		cmd.Stdin = strings.NewReader("pwd\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), s.Home) {
			t.Fatalf("sftp pwd: err=%v output=%q", err, out)
		}
	})
}

func TestEncryptedKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	t.Run("ssh-keygen-decrypts", func(t *testing.T) {
		out, err := run(t, nil, "ssh-keygen", "-y", "-P", s.ClientKeyPassphrase, "-f", s.ClientKeyEncrypted)
		pub, _ := os.ReadFile(s.ClientKeyEncrypted + ".pub")
		if err != nil || !strings.HasPrefix(string(pub), strings.TrimSpace(out)) {
			t.Fatalf("ssh-keygen -y: err=%v out=%q pub=%q", err, out, pub)
		}
		if _, err := run(t, nil, "ssh-keygen", "-y", "-P", "wrong", "-f", s.ClientKeyEncrypted); err == nil {
			t.Fatal("wrong passphrase accepted: key is not encrypted")
		}
	})
	t.Run("via-ssh-agent", func(t *testing.T) {
		sock := startAgent(t)
		env := append(askpass(t, s.ClientKeyPassphrase), "SSH_AUTH_SOCK="+sock)
		if out, err := run(t, env, "ssh-add", s.ClientKeyEncrypted); err != nil {
			t.Fatalf("ssh-add: %v: %s", err, out)
		}
		// Naming the .pub file with IdentitiesOnly makes ssh sign with the
		// agent's copy of exactly this key.
		opts := []string{"-o", "IdentityAgent=" + sock, "-o", "IdentitiesOnly=yes",
			"-o", "IdentityFile=" + s.ClientKeyEncrypted + ".pub", "-o", "BatchMode=yes"}
		out, err := run(t, nil, "ssh", sshArgs(s, opts, "echo", "hi")...)
		if err != nil || strings.TrimSpace(out) != "hi" {
			t.Fatalf("ssh via agent: err=%v output=%q", err, out)
		}
	})
}

// startAgent runs ssh-agent in the foreground on a fresh socket, kills it at
// cleanup and returns the socket path.
func startAgent(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bbssh-agent-") // short: sun_path is ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
	}
	t.Fatal("ssh-agent socket did not appear")
	return ""
}

func TestPasswordAuth(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	if os.Geteuid() != 0 {
		t.Fatal("password auth needs root (CI runs as root); got non-root")
	}
	if !s.PAM || !s.KbdInteractive {
		t.Fatalf("PAM=%v KbdInteractive=%v; want both (see log)", s.PAM, s.KbdInteractive)
	}
	for _, tc := range []struct {
		method, password string
		ok               bool
	}{
		{"password", s.Password, true},
		{"keyboard-interactive", s.Password, true},
		{"keyboard-interactive", "wrong-password", false},
	} {
		t.Run(tc.method+"/"+strconv.FormatBool(tc.ok), func(t *testing.T) {
			t.Parallel()
			opts := []string{"-o", "PreferredAuthentications=" + tc.method, "-o", "PubkeyAuthentication=no",
				"-o", "NumberOfPasswordPrompts=1"}
			out, err := run(t, askpass(t, tc.password), "ssh", sshArgs(s, opts, "echo", "hi")...)
			got := err == nil && strings.TrimSpace(out) == "hi"
			if got != tc.ok {
				t.Fatalf("login ok=%v, want %v: err=%v output=%q", got, tc.ok, err, out)
			}
		})
	}
}

func TestLocalForward(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	echo := startEcho(t)
	local, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	spec := "127.0.0.1:" + strconv.Itoa(local) + ":" + echo
	opts := append(keyOpts(s.ClientKey), "-N", "-L", spec, "-o", "ExitOnForwardFailure=yes")
	cmd := exec.Command("ssh", sshArgs(s, opts)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(local)); err == nil {
			break
		}
	}
	if conn == nil {
		t.Fatalf("forward never listened: %v; ssh stderr: %s", err, stderr.String())
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := bytes.Repeat([]byte("bbssh-forward-"), 10000) // several channel windows' worth
	go func() { _, _ = conn.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through forward: err=%v, equal=%v; ssh stderr: %s", err, bytes.Equal(got, msg), stderr.String())
	}
}

// startEcho runs a TCP echo server on loopback until cleanup and returns its
// address.
func startEcho(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", tcpserve.Serve(t, tcpserve.Echo))
}

func TestRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	port, fps := s.Port, s.HostKeyFingerprints

	// A live session must be dropped by Restart, as a fault test expects.
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	long := exec.CommandContext(ctx, "ssh", sshArgs(s, keyOpts(s.ClientKey), "echo", "up;", "sleep", "25")...)
	stdout, err := long.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := readLine(stdout); err != nil || line != "up" {
		t.Fatalf("long session: %q, %v", line, err)
	}

	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	start := time.Now()
	_ = long.Wait()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("session survived Restart for %v", d)
	}
	if s.Port != port || s.HostKeyFingerprints["ssh-ed25519"] != fps["ssh-ed25519"] {
		t.Fatalf("port/fingerprint changed: %d->%d", port, s.Port)
	}
	out, err := run(t, nil, "ssh", sshArgs(s, keyOpts(s.ClientKey), "echo", "hi")...)
	if err != nil || strings.TrimSpace(out) != "hi" {
		t.Fatalf("ssh after Restart with old known_hosts: err=%v output=%q", err, out)
	}
}

// readLine reads one line from r without buffering past it.
func readLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) < 4096 {
		if _, err := r.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			break
		}
		b = append(b, one[0])
	}
	return string(b), nil
}

func TestStop(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	if err := readBanner(addr); err != nil {
		t.Fatalf("banner before Stop: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Stop(); err != nil {
			t.Fatalf("Stop #%d: %v", i+1, err)
		}
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("port still accepts connections after Stop")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Stop: %v, want connection refused", err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Dir %s not removed: %v", s.Dir, err)
	}
	if !strings.Contains(s.Logs(), "Server listening on 127.0.0.1") {
		t.Errorf("Logs after Stop lost the log: %q", s.Logs())
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart after Stop succeeded; want error")
	}
}

func TestEnvAndFingerprints(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	env := map[string]string{}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"BBSSH_TEST_HOST":               "127.0.0.1",
		"BBSSH_TEST_PORT":               strconv.Itoa(s.Port),
		"BBSSH_TEST_USER":               s.User,
		"BBSSH_TEST_PASSWORD":           s.Password,
		"BBSSH_TEST_IDENTITY":           s.ClientKey,
		"BBSSH_TEST_IDENTITY_ENCRYPTED": s.ClientKeyEncrypted,
		"BBSSH_TEST_PASSPHRASE":         s.ClientKeyPassphrase,
		"BBSSH_TEST_RSA_IDENTITY":       s.ClientRSAKey,
		"BBSSH_TEST_KNOWN_HOSTS":        s.KnownHosts,
		"BBSSH_TEST_HOME":               s.Home,
		"BBSSH_TEST_SSHD_DIR":           s.Dir,
		"BBSSH_TEST_HOST_FINGERPRINT":   s.HostKeyFingerprints["ssh-ed25519"],
	}
	for k, v := range want {
		if env[k] != v || v == "" {
			t.Errorf("%s=%q, want %q (non-empty)", k, env[k], v)
		}
	}
	// ssh-keygen -lf known_hosts must print exactly our fingerprints.
	out, err := run(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", s.KnownHosts)
	if err != nil {
		t.Fatalf("ssh-keygen -lf: %v: %s", err, out)
	}
	if len(s.HostKeyFingerprints) != 3 {
		t.Errorf("HostKeyFingerprints = %v, want 3 types", s.HostKeyFingerprints)
	}
	for typ, fp := range s.HostKeyFingerprints {
		if !strings.Contains(out, fp) {
			t.Errorf("%s fingerprint %s not in ssh-keygen output:\n%s", typ, fp, out)
		}
	}
	if !strings.Contains(out, "[127.0.0.1]:"+strconv.Itoa(s.Port)) {
		t.Errorf("known_hosts lacks [127.0.0.1]:%d:\n%s", s.Port, out)
	}
}

func TestExtraConfig(t *testing.T) {
	t.Parallel()
	extra := "# test\nPasswordAuthentication no\nSubsystem sftp internal-sftp\nMatch User nobody\n  AllowTcpForwarding no\n"
	s := startServer(t, Options{ExtraConfig: extra})
	cfg, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for _, tc := range []struct {
		substr string
		want   bool
	}{
		{"PasswordAuthentication no", true},
		{"PasswordAuthentication yes", false},
		{"Subsystem sftp internal-sftp", true},
		{"Subsystem sftp /usr/lib", false},
		{"KbdInteractiveAuthentication yes", true},
	} {
		if got := strings.Contains(text, tc.substr); got != tc.want {
			t.Errorf("config contains %q = %v, want %v:\n%s", tc.substr, got, tc.want, text)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(text), "AllowTcpForwarding no") {
		t.Errorf("Match block not last:\n%s", text)
	}
	// The effective setting must be the ExtraConfig one.
	opts := []string{"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"}
	if out, err := run(t, askpass(t, s.Password), "ssh", sshArgs(s, opts, "true")...); err == nil {
		t.Errorf("password login succeeded despite PasswordAuthentication no: %s", out)
	}
	if _, err := Start(Options{ExtraConfig: "ListenAddress 127.0.0.1:1"}); err == nil {
		t.Error("Start accepted a managed keyword in ExtraConfig")
	}
}

func TestMissingSSHD(t *testing.T) {
	t.Parallel()
	_, err := Start(Options{SSHD: "/nonexistent/sshd"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install openssh-server") {
		t.Fatalf("err = %v, want install hint", err)
	}
}

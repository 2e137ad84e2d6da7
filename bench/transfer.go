package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bbssh/test/testbed"
)

// scpAsOpenSSH are the pod's scp options that do what OpenSSH's scp does
// without -p, which the benchmark runs: the pod's scp preserves times and
// modes unless told not to (as bbssh 0.6 did), and the times record costs
// a round trip of its own.
const scpAsOpenSSH = "{:preserve-times? false :preserve-mode? false}"

// measureTransfer times scp and sftp of a size-byte file each way through
// the pod (its scp and sftp vars, copying in the pod) and through
// OpenSSH's scp -O (the scp protocol) and sftp, on the same sshd.
func measureTransfer(p *podClient, srv *testbed.Server, cipher string, size int64, runs int) ([]execRow, error) {
	dir, err := os.MkdirTemp("", "bbssh-bench-files-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "source.bin")
	f, err := os.Create(src)
	if err != nil {
		return nil, err
	}
	for left := size; left > 0; left -= int64(len(payload)) {
		f.Write(payload[:min(left, int64(len(payload)))])
	}
	f.Close()
	session, release, err := podSession(p, srv, cipher)
	if err != nil {
		return nil, err
	}
	defer release()
	remote := fmt.Sprintf("bench-%d.bin", time.Now().UnixNano())
	defer os.Remove(filepath.Join(srv.Home, remote))
	target := srv.User + "@" + srv.Host
	sshOpts := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + srv.KnownHosts, "-o", "IdentitiesOnly=yes", "-i", srv.ClientKey,
		"-P", strconv.Itoa(srv.Port), "-c", cipher}
	back := filepath.Join(dir, "back.bin")

	type way struct {
		name        string
		pod, ssh    func() error
		podT, sshT  []float64
		checkRemote bool
	}
	podScp := func(direction, from, to string) func() error {
		return func() error {
			command, err := p.invoke("pod.epiccastle.bbssh.pod.scp/command", fmt.Sprintf("[:%s %q %s]", direction, remote, scpAsOpenSSH))
			if err != nil {
				return err
			}
			if direction == "to" {
				_, err = p.invoke("pod.epiccastle.bbssh.pod.scp/send", fmt.Sprintf("[%s %s [{:path %q}] %s]", session, command, from, scpAsOpenSSH))
			} else {
				_, err = p.invoke("pod.epiccastle.bbssh.pod.scp/receive", fmt.Sprintf("[%s %s %q %s]", session, command, to, scpAsOpenSSH))
			}
			return err
		}
	}
	podSftp := func(v, from, to string) func() error {
		return func() error {
			_, err := p.invoke("pod.epiccastle.bbssh.pod.sftp/"+v, fmt.Sprintf("[%s %q %q {}]", session, from, to))
			return err
		}
	}
	sshRun := func(name string, args ...string) func() error {
		return func() error {
			out, err := exec.Command(name, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v: %s", name, err, out)
			}
			return nil
		}
	}
	sftpBatch := func(line string) func() error {
		return func() error {
			args := append(append([]string{}, sshOpts...), "-b", "-", target)
			cmd := exec.Command("sftp", args...)
			cmd.Stdin = strings.NewReader(line + "\n")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("sftp: %v: %s", err, out)
			}
			return nil
		}
	}
	remotePath := filepath.Join(srv.Home, remote)
	ways := []*way{
		{name: "scp upload", pod: podScp("to", src, ""), ssh: sshRun("scp", append(append([]string{"-O", "-q"}, sshOpts...), src, target+":"+remote)...)},
		{name: "scp download", pod: podScp("from", "", back), ssh: sshRun("scp", append(append([]string{"-O", "-q"}, sshOpts...), target+":"+remote, back)...)},
		{name: "sftp upload", pod: podSftp("upload", src, remotePath), ssh: sftpBatch(fmt.Sprintf("put %s %s", src, remotePath))},
		{name: "sftp download", pod: podSftp("download", remotePath, back), ssh: sftpBatch(fmt.Sprintf("get %s %s", remotePath, back))},
	}
	for i := 0; i < runs; i++ {
		for _, w := range ways {
			for _, side := range []string{"openssh", "pod"} {
				run := w.ssh
				if side == "pod" {
					run = w.pod
				}
				start := time.Now()
				if err := run(); err != nil {
					return nil, fmt.Errorf("%s %s: %w", side, w.name, err)
				}
				rate := float64(size) / time.Since(start).Seconds() / 1e6
				if side == "pod" {
					w.podT = append(w.podT, rate)
				} else {
					w.sshT = append(w.sshT, rate)
				}
			}
		}
	}
	var rows []execRow
	for _, w := range ways {
		r := execRow{name: fmt.Sprintf("%s, %d MiB (MB/s; OpenSSH: %s)", w.name, size>>20, map[bool]string{true: "scp -O; neither keeps times", false: "sftp"}[strings.HasPrefix(w.name, "scp")]),
			pod: median(w.podT), openssh: median(w.sshT), unit: "MB/s", higherIsBetter: true}
		logf("%-70s pod %8.2f  openssh %8.2f %s  ratio %.2f", r.name, r.pod, r.openssh, r.unit, r.ratio())
		rows = append(rows, r)
	}
	return rows, nil
}

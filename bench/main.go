// Command bench measures the bbssh pod side by side with OpenSSH's client
// against the same loopback sshd of the test bed, in the same run, and
// writes the figures and their ratios to bench/RESULTS.md.
//
//	go run ./bench -pod build/bbssh [-runs 3] [-mib 1024] [-out bench/RESULTS.md]
//
// The pod is driven through the pod protocol (bench/podclient.go), as a
// script would drive it, never by calling Go functions. Each figure is the
// median of -runs runs. `./build.sh bench` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"bbssh/test/testbed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	podPath := flag.String("pod", "build/bbssh", "the pod binary")
	runs := flag.Int("runs", 3, "runs per figure (the median is reported)")
	mib := flag.Int64("mib", 1024, "MiB per throughput transfer")
	out := flag.String("out", "bench/RESULTS.md", "where to write the report")
	streamMiB := flag.Int64("stream-mib", 512, "MiB streamed from a remote command's stdout")
	fileMiB := flag.Int64("file-mib", 512, "MiB of the file copied by scp and sftp")
	only := flag.String("only", "", "run one part only, without a report (\"latency\"), e.g. to profile it with BBSSH_CPUPROFILE")
	flag.Parse()
	if *runs < 1 || *mib < 1 {
		return fmt.Errorf("-runs and -mib must be at least 1")
	}

	srv, err := testbed.Start(testbed.Options{})
	if err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	defer srv.Stop()
	sk, err := startSink()
	if err != nil {
		return err
	}
	defer sk.ln.Close()
	p, err := startPod(*podPath)
	if err != nil {
		return err
	}
	defer p.close()

	size := *mib << 20
	started := time.Now()
	if *only == "latency" {
		// For profiling one path: no report is written.
		_, err := measureLatency(p, srv, "aes128-gcm@openssh.com")
		return err
	}
	ceiling, err := medianRate(sk.ln.Addr().String(), size, *runs)
	if err != nil {
		return fmt.Errorf("raw TCP: %w", err)
	}
	logf("raw loopback TCP ceiling: %.0f MB/s", ceiling)
	rows, err := measureThroughput(p, srv, sk, []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"}, size, *runs)
	if err != nil {
		return err
	}
	const cipher = "aes128-gcm@openssh.com"
	execRows, err := measureExec(p, srv, cipher, *streamMiB<<20, *runs)
	if err != nil {
		return err
	}
	latencyRows, err := measureLatency(p, srv, cipher)
	if err != nil {
		return err
	}
	transferRows, err := measureTransfer(p, srv, cipher, *fileMiB<<20, *runs)
	if err != nil {
		return err
	}
	describeMs, err := describeTime(*podPath, 5)
	if err != nil {
		return err
	}
	// Memory is measured on a fresh pod, not one that moved gigabytes.
	fresh, err := startPod(*podPath)
	if err != nil {
		return err
	}
	idle, withForwards, withConns, err := measureMemory(fresh, srv, cipher)
	fresh.close()
	if err != nil {
		return err
	}
	logf("describe %.1f ms; RSS idle %.1f MiB, 100 forwards %.1f MiB, 1000 connections %.1f MiB", describeMs, idle, withForwards, withConns)

	var b strings.Builder
	fmt.Fprintf(&b, "# bbssh benchmarks\n\n")
	fmt.Fprintf(&b, "Run %s on %s, %d cores; %s; %s. `./build.sh bench` writes this file.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(), sshVersion(), runtime.Version())
	fmt.Fprintf(&b, "Each figure is the median of %d runs against the test bed's OpenSSH sshd on 127.0.0.1. The pod is driven through the pod protocol; OpenSSH is `ssh -N -L/-R` with the same cipher, in the same run.\n\n", *runs)
	fmt.Fprintf(&b, "## Forward throughput, %d MiB one way\n\n", *mib)
	fmt.Fprintf(&b, "| forward, cipher | pod MB/s | OpenSSH MB/s | pod / OpenSSH |\n|---|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f |\n", r.name, r.pod, r.openssh, r.ratio())
	}
	fmt.Fprintf(&b, "\nCeiling, raw loopback TCP without SSH: %.0f MB/s.\n\n", ceiling)
	fmt.Fprintf(&b, "## Exec, forward latency and file transfer (%s)\n\nRatio: OpenSSH/pod for times, pod/OpenSSH for rates; above 1 means the pod is better. The pod works on one open session, as a script does; each OpenSSH scp/sftp/ssh command opens its own connection (about 0.2 s here), except the ControlMaster row.\n\n", cipher)
	fmt.Fprintf(&b, "| figure | pod | OpenSSH | ratio |\n|---|---:|---:|---:|\n")
	for _, r := range append(append(execRows, latencyRows...), transferRows...) {
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f |\n", r.name, r.pod, r.openssh, r.ratio())
	}
	fmt.Fprintf(&b, "\n## Pod start and memory\n\n| figure | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| start to describe reply (median of 5) | %.1f ms |\n| RSS idle, one session (fresh pod) | %.1f MiB |\n| RSS with 100 forwards | %.1f MiB |\n| RSS with 1000 open forwarded connections | %.1f MiB |\n",
		describeMs, idle, withForwards, withConns)
	fmt.Fprintf(&b, "\nTotal time: %s.\n", time.Since(started).Round(time.Second))
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// sshVersion is OpenSSH's version line.
func sshVersion() string {
	out, err := exec.Command("ssh", "-V").CombinedOutput()
	if err != nil {
		return "ssh -V failed"
	}
	return strings.TrimSpace(string(out))
}

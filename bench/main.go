// Command bench measures the bbssh pod side by side with OpenSSH's client
// against the same loopback sshd of the test bed, in the same run, and
// writes the figures and their ratios to bench/RESULTS.md.
//
//	go run ./bench -pod build/bbssh [-runs 5] [-mib 1024] [-out bench/RESULTS.md]
//	go run ./bench -only forward -forwards R -ciphers aes128-gcm@openssh.com -profile /tmp/prof
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
	// Five runs per loopback figure: on the 2-core build machine a single
	// run's ratio moves by ±0.2, and a median of three still did by ±0.15.
	runs := flag.Int("runs", 5, "runs per figure (the median is reported)")
	wanRuns := flag.Int("wan-runs", 3, "runs per figure of the wan part, whose OpenSSH runs at 100 ms take 14 s each")
	mib := flag.Int64("mib", 1024, "MiB per throughput transfer")
	out := flag.String("out", "bench/RESULTS.md", "where to write the report")
	streamMiB := flag.Int64("stream-mib", 512, "MiB streamed from a remote command's stdout")
	fileMiB := flag.Int64("file-mib", 512, "MiB of the file copied by scp and sftp")
	only := flag.String("only", "", "comma-separated parts to run, of "+strings.Join(allParts, ",")+"; the report is written only when all run")
	ciphers := flag.String("ciphers", "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com", "ciphers of the forward throughput part")
	directions := flag.String("forwards", "L,R", "forward directions of the throughput part")
	wanRTTs := flag.String("wan-rtts", "0,10,50,100", "round trips (ms) of the wan part's delay relay")
	wanMiB := flag.Int64("wan-mib", 256, "MiB per transfer of the wan part")
	wanStreams := flag.Int("wan-streams", 8, "downloads at once in the wan part's memory figure")
	wanStreamMiB := flag.Int64("wan-stream-mib", 64, "MiB per download of the wan part's memory figure")
	wanStreamRTT := flag.Int("wan-stream-rtt", 50, "round trip (ms) of the wan part's memory figure")
	wanFigures := flag.String("wan-figures", "", "run only the wan figures whose name contains this, e.g. sftp")
	profile := flag.String("profile", "", "directory for a CPU and an allocation profile of each part, each on its own pod; the report gets their top entries")
	flag.Parse()
	if *runs < 1 || *wanRuns < 1 || *mib < 1 || *wanMiB < 1 || *wanStreams < 0 || *wanStreamMiB < 1 {
		return fmt.Errorf("-runs, -wan-runs, -mib, -wan-mib and -wan-stream-mib must be at least 1, -wan-streams at least 0")
	}
	rtts, err := parseRTTs(*wanRTTs)
	if err != nil {
		return err
	}
	parts := map[string]bool{}
	for _, part := range allParts {
		parts[part] = *only == ""
	}
	for _, part := range strings.Split(*only, ",") {
		if _, known := parts[part]; !known && part != "" {
			return fmt.Errorf("-only: unknown part %q (parts: %s)", part, strings.Join(allParts, ","))
		}
		parts[part] = true
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
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
	shared, err := startPod(*podPath)
	if err != nil {
		return err
	}
	defer shared.close()
	ps := &pods{path: *podPath, shared: shared, dir: *profile}

	const cipher = "aes128-gcm@openssh.com"
	started := time.Now()
	var ceiling float64
	var rows []throughputRow
	var otherRows []execRow
	// each runs one part on its pod.
	each := func(part string, measure func(p *podClient) ([]execRow, error)) error {
		if !parts[part] {
			return nil
		}
		p, done, err := ps.get(part)
		if err != nil {
			return err
		}
		got, err := measure(p)
		if derr := done(); err == nil {
			err = derr
		}
		otherRows = append(otherRows, got...)
		return err
	}
	if parts["forward"] {
		if ceiling, err = medianRate(sk.ln.Addr().String(), *mib<<20, *runs); err != nil {
			return fmt.Errorf("raw TCP: %w", err)
		}
		logf("raw loopback TCP ceiling: %.0f MB/s", ceiling)
		if rows, err = measureThroughput(ps, srv, sk, strings.Split(*ciphers, ","), *directions, *mib<<20, *runs); err != nil {
			return err
		}
	}
	if err := each("exec", func(p *podClient) ([]execRow, error) {
		return measureExec(p, srv, cipher, *streamMiB<<20, *runs)
	}); err != nil {
		return err
	}
	if err := each("latency", func(p *podClient) ([]execRow, error) { return measureLatency(p, srv, cipher) }); err != nil {
		return err
	}
	if err := each("transfer", func(p *podClient) ([]execRow, error) {
		return measureTransfer(p, srv, cipher, *fileMiB<<20, *runs)
	}); err != nil {
		return err
	}
	var wanRows []wanRow
	var conc wanConcurrent
	if parts["wan"] {
		p, done, err := ps.get("wan")
		if err != nil {
			return err
		}
		wanRows, err = measureWAN(p, srv, sk, cipher, rtts, *wanFigures, *wanMiB<<20, *wanRuns)
		if derr := done(); err == nil {
			err = derr
		}
		if err != nil {
			return fmt.Errorf("wan: %w", err)
		}
		if *wanStreams > 0 {
			if conc, err = measureWANConcurrent(*podPath, srv, cipher, time.Duration(*wanStreamRTT)*time.Millisecond, *wanStreams, *wanStreamMiB<<20); err != nil {
				return fmt.Errorf("wan, %d at once: %w", *wanStreams, err)
			}
		}
	}
	var describeMs, idle, withForwards, withConns float64
	if parts["memory"] {
		if describeMs, err = describeTime(*podPath, 5); err != nil {
			return err
		}
		// Memory is measured on a fresh pod, not one that moved gigabytes.
		fresh, err := startPod(*podPath)
		if err != nil {
			return err
		}
		idle, withForwards, withConns, err = measureMemory(fresh, srv, cipher)
		fresh.close()
		if err != nil {
			return err
		}
		logf("describe %.1f ms; RSS idle %.1f MiB, 100 forwards %.1f MiB, 1000 connections %.1f MiB", describeMs, idle, withForwards, withConns)
	}
	if *only != "" {
		if parts["wan"] {
			var b strings.Builder
			writeWAN(&b, cipher, wanRows, *wanMiB<<20, conc, *wanStreamMiB<<20)
			fmt.Print(b.String())
		}
		fmt.Print(ps.report())
		return nil
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# bbssh benchmarks\n\n")
	fmt.Fprintf(&b, "Run %s on %s, %d cores; %s; %s. `./build.sh bench` writes this file.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(), sshVersion(), runtime.Version())
	fmt.Fprintf(&b, "Each figure is the median of %d runs (%d in the WAN part, which lists them) against the test bed's OpenSSH sshd on 127.0.0.1, OpenSSH's and the pod's runs taking turns (in the forward throughput part, which of them goes first alternates). The pod is driven through the pod protocol; OpenSSH is `ssh -N -L/-R` with the same cipher, in the same run.\n\n", *runs, *wanRuns)
	fmt.Fprintf(&b, "## Forward throughput, %d MiB one way\n\n", *mib)
	fmt.Fprintf(&b, "| forward, cipher | pod MB/s | OpenSSH MB/s | pod / OpenSSH | pod CPU ms/MiB | ssh CPU ms/MiB |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f |\n", r.name, r.pod, r.openssh, r.ratio(), r.podCPU, r.sshCPU)
	}
	fmt.Fprintf(&b, "\nCeiling, raw loopback TCP without SSH: %.0f MB/s. CPU ms/MiB is the CPU time (user + system) the pod or the ssh client process used per MiB moved; the sshd, the sender and the sink run on the same 2 cores.\n\n", ceiling)
	fmt.Fprintf(&b, "## Exec, forward latency and file transfer (%s)\n\nRatio: OpenSSH/pod for times, pod/OpenSSH for rates; above 1 means the pod is better. The pod works on one open session, as a script does; each OpenSSH scp/sftp/ssh command opens its own connection (about 0.2 s here), except the ControlMaster row.\n\n", cipher)
	fmt.Fprintf(&b, "| figure | pod | OpenSSH | ratio |\n|---|---:|---:|---:|\n")
	for _, r := range otherRows {
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f |\n", r.name, r.pod, r.openssh, r.ratio())
	}
	fmt.Fprintf(&b, "\n## Pod start and memory\n\n| figure | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| start to describe reply (median of 5) | %.1f ms |\n| RSS idle, one session (fresh pod) | %.1f MiB |\n| RSS with 100 forwards | %.1f MiB |\n| RSS with 1000 open forwarded connections | %.1f MiB |\n",
		describeMs, idle, withForwards, withConns)
	writeWAN(&b, cipher, wanRows, *wanMiB<<20, conc, *wanStreamMiB<<20)
	b.WriteString(ps.report())
	fmt.Fprintf(&b, "\nTotal time: %s.\n", time.Since(started).Round(time.Second))
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// allParts names the parts of the benchmark, for -only.
var allParts = []string{"forward", "exec", "latency", "transfer", "memory", "wan"}

// sshVersion is OpenSSH's version line.
func sshVersion() string {
	out, err := exec.Command("ssh", "-V").CombinedOutput()
	if err != nil {
		return "ssh -V failed"
	}
	return strings.TrimSpace(string(out))
}

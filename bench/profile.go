package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// pods hands each part of the benchmark the pod to drive. Without
// profiling every part shares one pod, as a script would. With -profile,
// each part gets a fresh pod that writes a CPU and an allocation profile
// of that part alone, and the top of each profile is kept for the report,
// so a figure below its target comes with the measured cause.
type pods struct {
	path     string
	shared   *podClient
	dir      string // profile directory, "" when not profiling
	excerpts []profileExcerpt
}

// profileExcerpt is the top of one part's CPU and allocation profiles.
type profileExcerpt struct {
	part, cpu, allocs string
}

// get returns the pod for part and the function to call when the part is
// done.
func (ps *pods) get(part string) (*podClient, func() error, error) {
	if ps.dir == "" {
		return ps.shared, func() error { return nil }, nil
	}
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(part))
	cpu := filepath.Join(ps.dir, slug+".cpu.pprof")
	mem := filepath.Join(ps.dir, slug+".allocs.pprof")
	p, err := startPod(ps.path, "BBSSH_CPUPROFILE="+cpu, "BBSSH_MEMPROFILE="+mem)
	if err != nil {
		return nil, nil, err
	}
	done := func() error {
		// The pod writes its profiles as it exits.
		p.close()
		ex := profileExcerpt{part: part}
		var err error
		if ex.cpu, err = pprofTop(ps.path, cpu, "-top"); err != nil {
			return err
		}
		if ex.allocs, err = pprofTop(ps.path, mem, "-sample_index=alloc_space", "-top"); err != nil {
			return err
		}
		ps.excerpts = append(ps.excerpts, ex)
		logf("profile of %s: %s, %s", part, cpu, mem)
		return nil
	}
	return p, done, nil
}

// pprofTop returns the head of `go tool pprof -top` for a profile.
func pprofTop(binary, profile string, args ...string) (string, error) {
	args = append(append([]string{"tool", "pprof", "-nodecount=12"}, args...), binary, profile)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w\n%s", profile, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// report formats the excerpts as a Markdown section.
func (ps *pods) report() string {
	if len(ps.excerpts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## Profiles of the pod (-profile)\n\nEach part ran on its own pod; `go tool pprof -top` of its CPU profile (flat is time in the function itself, cum with its callees) and of its allocations (alloc_space).\n")
	for _, ex := range ps.excerpts {
		fmt.Fprintf(&b, "\n### %s\n\n```\n%s\n```\n\n```\n%s\n```\n", ex.part, ex.cpu, ex.allocs)
	}
	return b.String()
}

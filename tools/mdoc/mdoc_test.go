package mdoc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBlocks(t *testing.T) {
	md := "# T\n\ntext\n\n```clojure\n(+ 1 2)\n```\n\n```sh\nls\n```\n\n```clojure no-run\n(connect-to-db)\n```\n\n    (indented is not fenced)\n"
	got := Blocks([]byte(md))
	want := []Block{
		{Lang: "clojure", Attrs: []string{}, Code: "(+ 1 2)\n", Index: 1},
		{Lang: "sh", Attrs: []string{}, Code: "ls\n", Index: 2},
		{Lang: "clojure", Attrs: []string{"no-run"}, Code: "(connect-to-db)\n", Index: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Blocks:\n got %#v\nwant %#v", got, want)
	}
	var runnable []int
	for _, b := range got {
		if b.Runnable() {
			runnable = append(runnable, b.Index)
		}
	}
	if !reflect.DeepEqual(runnable, []int{1}) {
		t.Errorf("runnable blocks %v, want [1]", runnable)
	}
}

func TestTitleAndRender(t *testing.T) {
	md := []byte("# Port `forwarding`\n\nSee [basics](basics.md#scp-and-sftp) and [web](https://example.com).\n\n## Jump hosts\n")
	if got := Title(md); got != "Port forwarding" {
		t.Errorf("Title = %q", got)
	}
	html := string(RenderBody(md, func(d string) string { return strings.Replace(d, ".md", ".html", 1) }))
	for _, want := range []string{`href="basics.html#scp-and-sftp"`, `href="https://example.com"`, `id="jump-hosts"`} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered page lacks %s:\n%s", want, html)
		}
	}
}

func TestCheckLinks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", `<a href="a.html">a</a> <a href="a.html#there">t</a> <a href="#top">top</a> <h1 id="top">x</h1> <a href="https://x.y/z">ext</a> <img src="img/logo.png">`)
	write("a.html", `<h2 id="there">there</h2> <a href="index.html#nowhere">bad anchor</a> <a href="missing.html">bad file</a> <a href="/abs.html">abs</a> <a href="../up.html">up</a>`)
	write("img/logo.png", "png")
	broken, err := CheckLinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range broken {
		got = append(got, e.Error())
	}
	want := []string{
		`a.html: link "index.html#nowhere": index.html has no anchor #nowhere`,
		`a.html: link "missing.html": no such file missing.html`,
		`a.html: link "/abs.html": absolute paths break when the site is moved; use a relative link`,
		`a.html: link "../up.html": points outside the site`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("broken links:\n got %q\nwant %q", got, want)
	}
}

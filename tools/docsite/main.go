// Command docsite renders the Markdown pages of docs/ and an API
// reference into a static HTML site, and fails on a broken internal link.
//
//	go run ./tools/docsite -pod build/bbssh [-docs docs] [-out build/docs]
//
// The API reference comes from the pod itself: tools/docsite/apimeta.clj,
// run by babashka (bb on the PATH, else ../shared/tools/bb/bb), prints the metadata of every var, the same docstrings
// and arglists (doc ...) shows. ./build.sh docs runs it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"bbssh/test/bb"
	"bbssh/tools/mdoc"

	"olympos.io/encoding/edn"
)

// Namespace is one namespace of the API reference.
type Namespace struct {
	NS       string `edn:"ns"`
	Doc      string `edn:"doc"`
	Internal bool   `edn:"internal"`
	Vars     []Var  `edn:"vars"`
}

// Var is one function: its name, arglists and docstring.
type Var struct {
	Name     string   `edn:"name"`
	Arglists []string `edn:"arglists"`
	Doc      string   `edn:"doc"`
}

func main() {
	pod := flag.String("pod", "build/bbssh", "the pod binary whose vars the API reference shows")
	docs := flag.String("docs", "docs", "the Markdown pages")
	out := flag.String("out", "build/docs", "where to write the site")
	client := flag.String("bb", "", "the babashka that runs apimeta.clj [bb on the PATH, else ../shared/tools/bb/bb]")
	flag.Parse()
	if *client == "" {
		found, err := bb.Find(".")
		if err != nil {
			fmt.Fprintln(os.Stderr, "docsite:", err)
			os.Exit(1)
		}
		*client = found
	}
	if err := run(*pod, *docs, *out, *client); err != nil {
		fmt.Fprintln(os.Stderr, "docsite:", err)
		os.Exit(1)
	}
}

func run(pod, docs, out, client string) error {
	api, err := readAPI(pod, client)
	if err != nil {
		return err
	}
	pages, err := filepath.Glob(filepath.Join(docs, "*.md"))
	if err != nil || len(pages) == 0 {
		return fmt.Errorf("no Markdown pages in %s", docs)
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	site := newSite(pages)
	for _, p := range pages {
		md, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		body := mdoc.RenderBody(md, htmlLink)
		if err := site.write(out, htmlName(filepath.Base(p)), mdoc.Title(md), string(body)); err != nil {
			return err
		}
	}
	if err := site.write(out, "api.html", "API reference", renderAPI(api)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "style.css"), []byte(style), 0o644); err != nil {
		return err
	}
	broken, err := mdoc.CheckLinks(out)
	if err != nil {
		return err
	}
	if len(broken) > 0 {
		return fmt.Errorf("%d broken links:\n%w", len(broken), errors.Join(broken...))
	}
	vars := 0
	for _, ns := range api {
		vars += len(ns.Vars)
	}
	fmt.Fprintf(os.Stderr, "docsite: %d pages and an API reference of %d namespaces, %d vars in %s; links checked\n",
		len(pages), len(api), vars, out)
	return nil
}

// readAPI runs apimeta.clj through babashka against the pod.
func readAPI(pod, client string) ([]Namespace, error) {
	absPod, err := filepath.Abs(pod)
	if err != nil {
		return nil, err
	}
	script, err := filepath.Abs(filepath.Join("tools", "docsite", "apimeta.clj"))
	if err != nil {
		return nil, err
	}
	absClient, err := filepath.Abs(client)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(absClient, script, absPod)
	cmd.Dir = os.TempDir() // babashka's pod client may leave nothing in the tree
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("reading the pod's metadata with %s: %v\n%s", client, err, stderr.String())
	}
	var api []Namespace
	if err := edn.Unmarshal(raw, &api); err != nil {
		return nil, fmt.Errorf("the pod's metadata: %w", err)
	}
	if len(api) == 0 {
		return nil, errors.New("the pod described no namespaces")
	}
	return api, nil
}

// htmlName is the page a Markdown file becomes: README.md is the index.
func htmlName(md string) string {
	if md == "README.md" {
		return "index.html"
	}
	return strings.TrimSuffix(md, ".md") + ".html"
}

// htmlLink turns a link to a Markdown page into one to its HTML page.
func htmlLink(dest string) string {
	if strings.Contains(dest, "://") || strings.HasPrefix(dest, "#") || strings.HasPrefix(dest, "mailto:") {
		return dest
	}
	file, frag, hasFrag := strings.Cut(dest, "#")
	if !strings.HasSuffix(file, ".md") || strings.Contains(file, "/") {
		return dest
	}
	dest = htmlName(file)
	if hasFrag {
		dest += "#" + frag
	}
	return dest
}

// site knows the pages, for the navigation of each.
type site struct{ nav []navItem }

type navItem struct{ file, title string }

func newSite(pages []string) *site {
	s := &site{}
	sort.SliceStable(pages, func(i, j int) bool { return order(pages[i]) < order(pages[j]) })
	for _, p := range pages {
		md, _ := os.ReadFile(p)
		s.nav = append(s.nav, navItem{htmlName(filepath.Base(p)), mdoc.Title(md)})
	}
	s.nav = append(s.nav, navItem{"api.html", "API reference"})
	return s
}

// order puts the pages in reading order, as the index lists them.
func order(p string) int {
	for i, name := range []string{"README", "overview", "basics", "port-forwarding", "authentication",
		"configuration", "troubleshooting", "migration"} {
		if strings.TrimSuffix(filepath.Base(p), ".md") == name {
			return i
		}
	}
	return 100
}

func (s *site) write(out, file, title, body string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s | bbssh</title>\n<link rel=\"stylesheet\" href=\"style.css\">\n</head>\n<body>\n<nav>\n<p class=\"brand\"><a href=\"index.html\">bbssh</a></p>\n<ul>\n", escape(title))
	for _, n := range s.nav {
		class := ""
		if n.file == file {
			class = ` class="here"`
		}
		fmt.Fprintf(&b, "<li%s><a href=\"%s\">%s</a></li>\n", class, n.file, escape(n.title))
	}
	fmt.Fprintf(&b, "</ul>\n</nav>\n<main>\n%s\n</main>\n</body>\n</html>\n", body)
	return os.WriteFile(filepath.Join(out, file), []byte(b.String()), 0o644)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// anchor is the id of a var's entry.
func anchor(ns, name string) string {
	r := strings.NewReplacer("?", "-p", "!", "-bang", ">", "-gt", "<", "-lt", "*", "-star", "/", "-")
	return r.Replace(ns + "/" + name)
}

// renderAPI renders the reference: an index, then each namespace's
// docstring and its vars with arglists and docstrings, public namespaces
// first and the pod's protocol side after them.
func renderAPI(api []Namespace) string {
	var b strings.Builder
	b.WriteString("<h1>API reference</h1>\n<p>Every function the pod gives babashka, with the docstring and arglists that <code>(doc ...)</code> shows; generated from the pod's own metadata.</p>\n")
	for _, internal := range []bool{false, true} {
		if internal {
			b.WriteString("<h2 id=\"pod-side\">The pod side</h2>\n<p>The <code>pod.epiccastle.bbssh.pod.*</code> namespaces are the pod's end of the protocol, which the functions above call; scripts need not.</p>\n")
		}
		b.WriteString("<ul class=\"index\">\n")
		for _, ns := range api {
			if ns.Internal != internal {
				continue
			}
			fmt.Fprintf(&b, "<li><a href=\"#%s\">%s</a>: ", escape(ns.NS), escape(ns.NS))
			for i, v := range ns.Vars {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "<a href=\"#%s\">%s</a>", escape(anchor(ns.NS, v.Name)), escape(v.Name))
			}
			b.WriteString("</li>\n")
		}
		b.WriteString("</ul>\n")
		for _, ns := range api {
			if ns.Internal != internal {
				continue
			}
			fmt.Fprintf(&b, "<h2 id=\"%s\">%s</h2>\n", escape(ns.NS), escape(ns.NS))
			if ns.Doc != "" {
				fmt.Fprintf(&b, "<pre class=\"doc\">%s</pre>\n", escape(ns.Doc))
			}
			for _, v := range ns.Vars {
				fmt.Fprintf(&b, "<h3 id=\"%s\"><code>%s</code></h3>\n", escape(anchor(ns.NS, v.Name)), escape(v.Name))
				for _, a := range v.Arglists {
					fmt.Fprintf(&b, "<p class=\"arglist\"><code>(%s %s)</code></p>\n", escape(v.Name), escape(strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")))
				}
				fmt.Fprintf(&b, "<pre class=\"doc\">%s</pre>\n", escape(v.Doc))
			}
		}
	}
	return b.String()
}

const style = `body { margin: 0; display: flex; font: 16px/1.5 system-ui, sans-serif; color: #222; }
nav { width: 15rem; padding: 1rem; background: #f4f4f2; min-height: 100vh; box-sizing: border-box; }
nav ul { list-style: none; padding: 0; }
nav li.here a { font-weight: bold; }
.brand a { font-size: 1.4rem; text-decoration: none; color: #222; }
main { max-width: 52rem; padding: 1rem 2rem; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: 14px; }
pre.doc { background: none; padding: 0 0 0 1rem; border-left: 3px solid #ddd; white-space: pre-wrap; }
code { font-family: ui-monospace, monospace; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .3rem .6rem; vertical-align: top; }
.arglist { margin: .2rem 0; }
`

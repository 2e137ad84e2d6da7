package mdoc

import (
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var (
	hrefRe = regexp.MustCompile(`(?i)\s(?:href|src)="([^"]*)"`)
	idRe   = regexp.MustCompile(`(?i)\s(?:id|name)="([^"]*)"`)
)

// CheckLinks reads every .html file under root and returns one error per
// broken internal link: a relative link to a file that does not exist
// under root, or to an anchor (#id) the target file does not have.
// External links (with a scheme, or starting with //) are not checked.
func CheckLinks(root string) ([]error, error) {
	pages := map[string]string{} // slash path relative to root -> content
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		pages[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ids := map[string]map[string]bool{}
	for p, content := range pages {
		ids[p] = map[string]bool{}
		for _, m := range idRe.FindAllStringSubmatch(content, -1) {
			ids[p][html.UnescapeString(m[1])] = true
		}
	}
	var names []string
	for p := range pages {
		names = append(names, p)
	}
	sort.Strings(names)
	var broken []error
	for _, p := range names {
		for _, m := range hrefRe.FindAllStringSubmatch(pages[p], -1) {
			link := html.UnescapeString(m[1])
			if problem := checkLink(root, p, link, ids); problem != "" {
				broken = append(broken, fmt.Errorf("%s: link %q: %s", p, link, problem))
			}
		}
	}
	return broken, nil
}

func checkLink(root, page, link string, ids map[string]map[string]bool) string {
	u, err := url.Parse(link)
	if err != nil {
		return "not a URL: " + err.Error()
	}
	if u.Scheme != "" || u.Host != "" || strings.HasPrefix(link, "//") {
		return "" // external
	}
	target := page
	if u.Path != "" {
		if strings.HasPrefix(u.Path, "/") {
			return "absolute paths break when the site is moved; use a relative link"
		}
		target = path.Clean(path.Join(path.Dir(page), u.Path))
		if strings.HasPrefix(target, "../") || target == ".." {
			return "points outside the site"
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
			return "no such file " + target
		}
	}
	if u.Fragment != "" {
		anchors, isPage := ids[target]
		if !isPage {
			return "anchor into a file that is not a page"
		}
		if !anchors[u.Fragment] {
			return fmt.Sprintf("%s has no anchor #%s", target, u.Fragment)
		}
	}
	return ""
}

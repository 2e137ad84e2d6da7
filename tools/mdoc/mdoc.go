// Package mdoc reads the project's Markdown documentation with blackfriday:
// it extracts the fenced code blocks (so that tests can run every Clojure
// example), renders pages to HTML with links between pages turned into
// links between the rendered files, and checks a rendered site for broken
// internal links.
package mdoc

import (
	"bytes"
	"strings"

	"github.com/russross/blackfriday/v2"
)

// extensions are GitHub-like: fenced code, tables, autolinks, and heading
// ids made from the heading text, so that "page.md#some-heading" links
// work both on GitHub and in the rendered site.
const extensions = blackfriday.CommonExtensions | blackfriday.AutoHeadingIDs

// NoRun is the info-string word that marks a Clojure block the tests must
// not run, e.g. "```clojure no-run": one that needs a real database or a
// person at a terminal.
const NoRun = "no-run"

// Block is one fenced code block.
type Block struct {
	// Lang is the first word of the info string ("clojure", "sh", ...).
	Lang string
	// Attrs are the other words of the info string, e.g. ["no-run"].
	Attrs []string
	// Code is the block's text.
	Code string
	// Index counts the page's fenced blocks from 1.
	Index int
}

// Runnable reports whether the block is Clojure the tests must run.
func (b Block) Runnable() bool {
	if b.Lang != "clojure" {
		return false
	}
	for _, a := range b.Attrs {
		if a == NoRun {
			return false
		}
	}
	return true
}

// Blocks returns the fenced code blocks of a Markdown page, in order.
func Blocks(md []byte) []Block {
	var out []Block
	parse(md).Walk(func(n *blackfriday.Node, entering bool) blackfriday.WalkStatus {
		if n.Type == blackfriday.CodeBlock && n.IsFenced {
			words := strings.Fields(string(n.Info))
			b := Block{Code: string(n.Literal), Index: len(out) + 1}
			if len(words) > 0 {
				b.Lang, b.Attrs = words[0], words[1:]
			}
			out = append(out, b)
		}
		return blackfriday.GoToNext
	})
	return out
}

func parse(md []byte) *blackfriday.Node {
	return blackfriday.New(blackfriday.WithExtensions(extensions)).Parse(md)
}

// Title returns the text of the page's first level-1 heading, or "".
func Title(md []byte) string {
	var title string
	parse(md).Walk(func(n *blackfriday.Node, entering bool) blackfriday.WalkStatus {
		if entering && n.Type == blackfriday.Heading && n.Level == 1 {
			title = plainText(n)
			return blackfriday.Terminate
		}
		return blackfriday.GoToNext
	})
	return title
}

func plainText(n *blackfriday.Node) string {
	var b strings.Builder
	n.Walk(func(c *blackfriday.Node, entering bool) blackfriday.WalkStatus {
		if entering && (c.Type == blackfriday.Text || c.Type == blackfriday.Code) {
			b.Write(c.Literal)
		}
		return blackfriday.GoToNext
	})
	return b.String()
}

// RenderBody renders a page to an HTML fragment. rewrite maps each link
// destination (relative ones such as "basics.md#scp" included) to the
// one to write; nil keeps them as they are.
func RenderBody(md []byte, rewrite func(dest string) string) []byte {
	doc := parse(md)
	if rewrite != nil {
		doc.Walk(func(n *blackfriday.Node, entering bool) blackfriday.WalkStatus {
			if entering && (n.Type == blackfriday.Link || n.Type == blackfriday.Image) {
				n.LinkData.Destination = []byte(rewrite(string(n.LinkData.Destination)))
			}
			return blackfriday.GoToNext
		})
	}
	r := blackfriday.NewHTMLRenderer(blackfriday.HTMLRendererParameters{Flags: blackfriday.CommonHTMLFlags})
	var buf bytes.Buffer
	r.RenderHeader(&buf, doc)
	doc.Walk(func(n *blackfriday.Node, entering bool) blackfriday.WalkStatus {
		return r.RenderNode(&buf, n, entering)
	})
	r.RenderFooter(&buf, doc)
	return buf.Bytes()
}

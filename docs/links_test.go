// Package docs holds the user documentation. Its only Go code is this test:
// every link in README.md, docs/ and the command line's help texts must lead
// to a file inside the repository, because a user who clones the project has
// nothing else.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink matches the target of an inline Markdown link or image: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// docPath matches repository paths named in Go source (help texts, doc
// comments): docs/… or README.md, ending in .md.
var docPath = regexp.MustCompile(`(?:\.\./)*(?:shared/|docs/)[A-Za-z0-9_./-]*\.md|README\.md`)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found above docs/: %v", err)
	}
	return root
}

// markdownFiles returns README.md and every .md file under docs/.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkTarget reports why a link target written in file does not resolve
// inside root ("" when it does). External URLs and in-page anchors pass.
func checkTarget(root, file, target string) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
		return ""
	}
	path, _, _ := strings.Cut(target, "#")
	if filepath.IsAbs(path) {
		return "absolute path"
	}
	abs := filepath.Clean(filepath.Join(filepath.Dir(file), path))
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "points outside the repository"
	}
	if _, err := os.Stat(abs); err != nil {
		return "does not exist"
	}
	return ""
}

func TestMarkdownLinksResolveInsideRepository(t *testing.T) {
	root := repoRoot(t)
	for _, f := range markdownFiles(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				if why := checkTarget(root, f, m[1]); why != "" {
					t.Errorf("%s:%d: link %q %s", rel, i+1, m[1], why)
				}
			}
			if strings.Contains(line, "shared/spec") || strings.Contains(line, "shared/notes") {
				t.Errorf("%s:%d: names the team's shared folder, which users do not have", rel, i+1)
			}
		}
	}
}

// TestSourceDocReferencesResolve checks the documentation paths that Go code
// names (help texts and doc comments): each must be a file of the repository.
func TestSourceDocReferencesResolve(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "generated", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, ".pb.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for i, line := range strings.Split(string(b), "\n") {
			for _, ref := range docPath.FindAllString(line, -1) {
				if strings.Contains(ref, "shared/") {
					t.Errorf("%s:%d: names %s, which users of the repository do not have", rel, i+1, ref)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, ref)); err != nil {
					t.Errorf("%s:%d: names %s, which is not in the repository", rel, i+1, ref)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

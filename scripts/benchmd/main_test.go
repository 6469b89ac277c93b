package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestRender renders reports of the three benches (testdata/*.json, as
// `bsnnctl bench ... --json` printed them) and compares them with the
// golden markdown (testdata/*.md; -update rewrites it).
func TestRender(t *testing.T) {
	for _, name := range []string{"conv", "train", "infer"} {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			if err := render(&got, filepath.Join("testdata", name+".json")); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".md")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("got:\n%s\nwant:\n%s", got.Bytes(), want)
			}
		})
	}
}

// TestRenderRejectsOtherFiles: a JSON file that is no bench report, and a
// file that is not JSON, give an error.
func TestRenderRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"other.json": `{"threads": 2}`, "broken.json": `{"channels": 64,`} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := render(&out, path); err == nil {
			t.Errorf("%s: no error; printed %q", name, out.String())
		}
	}
}

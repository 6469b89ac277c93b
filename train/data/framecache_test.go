package data_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bsnnctl/bsnnctl/train/data"
	"github.com/bsnnctl/bsnnctl/train/data/eventtest"
)

func sameFrames(t *testing.T, a, b *data.EventDataset) {
	t.Helper()
	if a.N != b.N || !slices.Equal(a.Labels, b.Labels) || !slices.Equal(a.Samples, b.Samples) ||
		!slices.Equal(a.ClassNames, b.ClassNames) || a.Sensor != b.Sensor || a.T != b.T || a.H != b.H || a.W != b.W || a.Bin != b.Bin {
		t.Fatalf("datasets differ: %d/%d samples", a.N, b.N)
	}
	for i := range a.N {
		if !slices.Equal(countsOf(t, a, i), countsOf(t, b, i)) {
			t.Fatalf("sample %d frames differ", i)
		}
	}
}

func nmnistDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := eventtest.WriteNMNIST(dir, eventtest.NMNISTConfig{Train: 2, Test: 1, Events: 100, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFrameCache: the second open reads the cache and parses nothing; a changed source
// file is noticed and the frames rebuilt.
func TestFrameCache(t *testing.T) {
	t.Setenv("BSNNCTL_CACHE", t.TempDir())
	dir := nmnistDir(t)
	opt := data.EventOptions{T: 3, Bin: data.BinByTime}
	first := openEvents(t, data.NMNIST, dir, data.Train, opt)
	cacheFile := filepath.Join(dir, data.FrameCacheFolder, "nmnist-train-T3-time-34x34.frames")
	if first.Cache.Hit || first.Cache.Parsed != 20 || first.Cache.Path != cacheFile || first.Cache.Note != "" {
		t.Fatalf("first open: %+v", first.Cache)
	}
	entries, err := os.ReadDir(filepath.Dir(cacheFile))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache folder holds %v (%v), want the cache file only (no temporary files)", entries, err)
	}
	second := openEvents(t, data.NMNIST, dir, data.Train, opt)
	if !second.Cache.Hit || second.Cache.Parsed != 0 || second.Cache.Path != cacheFile {
		t.Fatalf("second open: %+v", second.Cache)
	}
	sameFrames(t, first, second)

	// Proof that a hit does not read the events: replace a file with garbage of the same
	// size and modification time; the cached frames still come back unchanged.
	victim := filepath.Join(dir, first.Samples[5])
	st, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, st.Size())
	for i := range garbage {
		garbage[i] = 0xff // x = 255: outside the sensor
	}
	mustWrite(t, victim, garbage)
	if err := os.Chtimes(victim, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	sameFrames(t, first, openEvents(t, data.NMNIST, dir, data.Train, opt))

	// A new modification time makes the cache stale: the files are parsed again, and the
	// garbage is reported.
	if err := os.Chtimes(victim, st.ModTime(), st.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	log, logs := testLog()
	_, err = data.OpenEvents(data.Spec{Kind: data.NMNIST, Dir: dir}, data.Train, data.EventOptions{T: 3, Bin: data.BinByTime, Log: log})
	var fe *data.EventFormatError
	if !errors.As(err, &fe) || fe.File != victim || fe.Offset != 0 {
		t.Fatalf("stale cache with a corrupt source: %v", err)
	}
	if !strings.Contains(logs.String(), "frame cache out of date; rebuilding") || !strings.Contains(logs.String(), first.Samples[5]+" changed") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestFrameCacheStaleness(t *testing.T) {
	t.Setenv("BSNNCTL_CACHE", t.TempDir())
	dir := nmnistDir(t)
	opt := data.EventOptions{T: 2}
	base := openEvents(t, data.NMNIST, dir, data.Test, opt)

	// Other frame options: another cache file; both stay valid.
	other := openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 2, Size: data.FrameSize{H: 17, W: 17}})
	if other.Cache.Hit || !strings.HasSuffix(other.Cache.Path, "nmnist-test-T2-count-17x17.frames") {
		t.Fatalf("other options: %+v", other.Cache)
	}
	if d := openEvents(t, data.NMNIST, dir, data.Test, opt); !d.Cache.Hit {
		t.Fatalf("first options no longer cached: %+v", d.Cache)
	}

	// A new file: rebuilt with it.
	extra := filepath.Join(dir, "Test", "3", "99999.bin")
	b, err := eventtest.EncodeNMNIST([]data.Event{{T: 5, X: 1, Y: 2, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, extra, b)
	d := openEvents(t, data.NMNIST, dir, data.Test, opt)
	if d.Cache.Hit || d.N != base.N+1 || !strings.Contains(d.Cache.Note, "Test/3/99999.bin is new") {
		t.Fatalf("after adding a file: N=%d %+v", d.N, d.Cache)
	}
	// Removed again: rebuilt without it, equal to the first build.
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	d = openEvents(t, data.NMNIST, dir, data.Test, opt)
	if d.Cache.Hit || !strings.Contains(d.Cache.Note, "99999.bin is gone") {
		t.Fatalf("after removing it: %+v", d.Cache)
	}
	sameFrames(t, base, d)

	// A corrupt cache file is rebuilt, not an error.
	f := d.Cache.Path
	cb := mustRead(t, f)
	cb[len(cb)/2] ^= 0x40
	mustWrite(t, f, cb)
	d = openEvents(t, data.NMNIST, dir, data.Test, opt)
	if d.Cache.Hit || !strings.Contains(d.Cache.Note, "checksum mismatch") {
		t.Fatalf("corrupt cache: %+v", d.Cache)
	}
	sameFrames(t, base, d)
	mustWrite(t, f, cb[:10])
	if d = openEvents(t, data.NMNIST, dir, data.Test, opt); d.Cache.Hit || !strings.Contains(d.Cache.Note, "not a bsnnctl frame cache") {
		t.Fatalf("truncated cache: %+v", d.Cache)
	}
	if d = openEvents(t, data.NMNIST, dir, data.Test, opt); !d.Cache.Hit {
		t.Fatalf("rebuilt cache not used: %+v", d.Cache)
	}

	// NoCache neither reads nor writes; CacheDir is the only place used.
	d = openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 2, NoCache: true})
	if d.Cache != (data.CacheInfo{Parsed: 10}) {
		t.Fatalf("NoCache: %+v", d.Cache)
	}
	own := t.TempDir()
	for _, hit := range []bool{false, true} {
		d = openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 2, CacheDir: own})
		if d.Cache.Hit != hit || filepath.Dir(d.Cache.Path) != own {
			t.Fatalf("CacheDir: %+v", d.Cache)
		}
	}
}

// TestFrameCacheFallback: when the data folder cannot hold the cache, it goes to the user
// cache folder, with a log line saying so, and is found there next time.
func TestFrameCacheFallback(t *testing.T) {
	userCache := t.TempDir()
	t.Setenv("BSNNCTL_CACHE", userCache)
	dir := nmnistDir(t)
	// A file where the cache folder would be: the data folder cannot take the cache (the
	// same path as a read-only folder, and it works even when the tests run as root).
	mustWrite(t, filepath.Join(dir, data.FrameCacheFolder), []byte("not a folder"))
	log, logs := testLog()
	d := openEvents(t, data.NMNIST, dir, data.Train, data.EventOptions{T: 2, Log: log})
	if !strings.HasPrefix(d.Cache.Path, filepath.Join(userCache, "frames", filepath.Base(dir)+"-")) ||
		!strings.HasPrefix(d.Cache.Note, "the data folder is not writable") {
		t.Fatalf("fallback: %+v", d.Cache)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"frame cache: the data folder is not writable, caching in the user cache folder instead\" path="+d.Cache.Path) {
		t.Errorf("log:\n%s", logs)
	}
	again := openEvents(t, data.NMNIST, dir, data.Train, data.EventOptions{T: 2})
	if !again.Cache.Hit || again.Cache.Path != d.Cache.Path {
		t.Fatalf("second open: %+v", again.Cache)
	}

	// A read-only data folder (only meaningful when not root, which ignores permissions).
	if os.Geteuid() != 0 {
		ro := nmnistDir(t)
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		d := openEvents(t, data.NMNIST, ro, data.Train, data.EventOptions{T: 2})
		if !strings.HasPrefix(d.Cache.Path, userCache) {
			t.Fatalf("read-only folder: %+v", d.Cache)
		}
	}

	// Without BSNNCTL_CACHE the fallback is under os.UserCacheDir.
	xdg := t.TempDir()
	t.Setenv("BSNNCTL_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", xdg)
	d = openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 2})
	if !strings.HasPrefix(d.Cache.Path, filepath.Join(xdg, "bsnnctl", "frames")) {
		t.Fatalf("user cache dir: %+v", d.Cache)
	}

	// Nowhere to write: the frames are still returned, with a warning.
	t.Setenv("BSNNCTL_CACHE", filepath.Join(dir, data.FrameCacheFolder, "sub")) // under a file
	log, logs = testLog()
	d = openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 3, Log: log})
	if d.Cache.Path != "" || !strings.Contains(d.Cache.Note, "frames not cached") || !strings.Contains(logs.String(), "level=WARN msg=\"frames not cached") {
		t.Fatalf("no cache: %+v\n%s", d.Cache, logs)
	}
}

// TestFrameCacheWideCounts: a sample with counts above 255 (stored with two bytes per
// count) survives the cache.
func TestFrameCacheWideCounts(t *testing.T) {
	t.Setenv("BSNNCTL_CACHE", t.TempDir())
	dir := nmnistDir(t)
	hot := make([]data.Event, 700)
	for i := range hot {
		hot[i] = data.Event{T: int64(i), X: 9, Y: 4, P: uint8(i % 2)}
	}
	b, err := eventtest.EncodeNMNIST(hot)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "Test", "6", "00017.bin"), b)
	first := openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 1})
	i := slices.Index(first.Samples, "Test/6/00017.bin")
	if c := countsOf(t, first, i); c[4*34+9] != 350 || c[34*34+4*34+9] != 350 {
		t.Fatalf("hot pixel counts %d, %d, want 350, 350", c[4*34+9], c[34*34+4*34+9])
	}
	second := openEvents(t, data.NMNIST, dir, data.Test, data.EventOptions{T: 1})
	if !second.Cache.Hit {
		t.Fatalf("not cached: %+v", second.Cache)
	}
	sameFrames(t, first, second)
}

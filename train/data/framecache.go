package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/bsnnctl/bsnnctl/onnx"
)

// The frame cache. Binning a split parses every event file once (N-MNIST: 70,000 files;
// DVS128 Gesture: 3 GB of AEDAT); the frames are then written to one file per split and
// frame options:
//
//	DIR/.bsnnctl-frames/<kind>-<split>-T<T>-<bin>-<H>x<W>.frames
//
// and read back on later opens. The file records the size and modification time of every
// source file (event files, DVS128 Gesture's lists and label files) and a CRC-32C of its
// contents; a file that is stale (a source changed, appeared or disappeared), corrupt or
// from another bsnnctl cache version is rebuilt and replaced. Writes are atomic (a
// temporary file, then a rename), so concurrent runs and killed runs never leave a
// half-written cache.
//
// When DIR is not writable the cache goes to the user cache folder instead,
// $BSNNCTL_CACHE/frames/<folder>-<hash>/ (default os.UserCacheDir()/bsnnctl), with one
// log line saying so; both places are looked up on open. EventOptions.CacheDir replaces
// both; EventOptions.NoCache disables the cache.

// FrameCacheFolder is the folder, inside the dataset folder, that holds the frame cache.
const FrameCacheFolder = ".bsnnctl-frames"

const (
	frameCacheMagic   = "BSNNFRM\n"
	frameCacheVersion = 1 // bump when decoding or binning changes
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CacheInfo says where an EventDataset's frames came from.
type CacheInfo struct {
	// Path is the cache file read (Hit) or written; "" when there is none (NoCache, or
	// the cache could not be written anywhere: see Note).
	Path string
	// Hit is true when the frames were read from Path: no event file was parsed.
	Hit bool
	// Parsed is the number of event files parsed to build the frames (0 on a hit).
	Parsed int
	// Note explains a cache that was rebuilt, written to the fallback folder or not
	// written ("" otherwise).
	Note string
}

// frameKey is what the frames depend on besides the source files.
type frameKey struct {
	Kind  Kind
	Split Split
	T     int
	Bin   BinMode
	H, W  int
}

func (k frameKey) fileName() string {
	return fmt.Sprintf("%s-%s-T%d-%s-%dx%d.frames", k.Kind, k.Split, k.T, k.Bin, k.H, k.W)
}

// cacheSource is a source file as the cache records it.
type cacheSource struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
}

// cacheHeader is the JSON header of a cache file.
type cacheHeader struct {
	Version    int           `json:"version"`
	Kind       Kind          `json:"kind"`
	Split      string        `json:"split"`
	T          int           `json:"t"`
	Bin        string        `json:"bin"`
	H          int           `json:"h"`
	W          int           `json:"w"`
	Sensor     Sensor        `json:"sensor"`
	Sources    []cacheSource `json:"sources"`
	N          int           `json:"n"`
	Labels     []int         `json:"labels"`
	Samples    []string      `json:"samples"`
	ClassNames []string      `json:"class_names"`
	Issues     []LabelIssue  `json:"issues"`
	Wide       []int         `json:"wide"` // samples stored with two bytes per count
}

// frameCache locates, validates, reads and writes the cache file of one split.
type frameCache struct {
	key     frameKey
	sources []cacheSource
	dirs    []string // where to look, in order; the first is written first
	note    string   // why a cache file found was not used
}

func newFrameCache(dataDir, cacheDir string, key frameKey, src source, p *eventPlan) (*frameCache, error) {
	fc := &frameCache{key: key}
	for _, f := range p.files {
		if err := fc.addSource(src, f.path); err != nil {
			return nil, err
		}
	}
	for _, dep := range p.deps {
		if err := fc.addSource(src, dep); err != nil {
			return nil, err
		}
	}
	if cacheDir != "" {
		fc.dirs = []string{cacheDir}
		return fc, nil
	}
	fc.dirs = []string{filepath.Join(dataDir, FrameCacheFolder)}
	if fb, err := fallbackCacheDir(dataDir); err == nil {
		fc.dirs = append(fc.dirs, fb)
	}
	return fc, nil
}

func (fc *frameCache) addSource(src source, p string) error {
	st, err := fs.Stat(src.fsys, p)
	if err != nil {
		return ioErr(src.name(p), err)
	}
	fc.sources = append(fc.sources, cacheSource{Path: p, Size: st.Size(), MTime: st.ModTime().UnixNano()})
	return nil
}

// fallbackCacheDir is the user-level cache folder for the dataset folder dataDir:
// $BSNNCTL_CACHE (else os.UserCacheDir()/bsnnctl) /frames/<base name>-<hash of the path>.
func fallbackCacheDir(dataDir string) (string, error) {
	base := os.Getenv("BSNNCTL_CACHE")
	if base == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(ucd, "bsnnctl")
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "frames", filepath.Base(abs)+"-"+hex.EncodeToString(sum[:6])), nil
}

// load returns the cached dataset from the first folder holding a valid cache file, or
// nil. A cache file that exists but is stale or corrupt is logged and left to be replaced.
func (fc *frameCache) load(log *slog.Logger) *EventDataset {
	for _, dir := range fc.dirs {
		p := filepath.Join(dir, fc.key.fileName())
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue // no cache there (ENOTDIR: a file where the cache folder would be)
		}
		if err != nil {
			fc.note = fmt.Sprintf("cache %s unreadable: %v", p, err)
			log.Info("frame cache unreadable; rebuilding", "path", p, "error", err)
			continue
		}
		d, reason := fc.decode(b)
		if d == nil {
			fc.note = fmt.Sprintf("cache %s rebuilt: %s", p, reason)
			log.Info("frame cache out of date; rebuilding", "path", p, "reason", reason)
			continue
		}
		d.Cache = CacheInfo{Path: p, Hit: true, Note: fc.note}
		log.Debug("frames read from the cache", "path", p, "samples", d.N)
		return d
	}
	return nil
}

// decode parses and validates a cache file; on failure it returns the reason.
func (fc *frameCache) decode(b []byte) (*EventDataset, string) {
	const fixed = len(frameCacheMagic) + 8 + 4
	if len(b) < fixed || string(b[:len(frameCacheMagic)]) != frameCacheMagic {
		return nil, "not a bsnnctl frame cache"
	}
	body := b[len(frameCacheMagic) : len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, "checksum mismatch (corrupt file)"
	}
	hlen := binary.LittleEndian.Uint64(body)
	if hlen > uint64(len(body)-8) {
		return nil, "corrupt header length"
	}
	var h cacheHeader
	if err := json.Unmarshal(body[8:8+hlen], &h); err != nil {
		return nil, "corrupt header: " + err.Error()
	}
	k := fc.key
	switch {
	case h.Version != frameCacheVersion:
		return nil, fmt.Sprintf("cache version %d, this bsnnctl writes %d", h.Version, frameCacheVersion)
	case h.Kind != k.Kind || h.Split != k.Split.String() || h.T != k.T || h.Bin != k.Bin.String() || h.H != k.H || h.W != k.W:
		return nil, "written for other frame options"
	case !slices.Equal(h.Sources, fc.sources):
		return nil, fc.staleSource(h.Sources)
	case h.N < 0 || len(h.Labels) != h.N || len(h.Samples) != h.N || len(h.ClassNames) == 0:
		return nil, "corrupt header: inconsistent sample count"
	}
	d := &EventDataset{
		Kind: k.Kind, Split: k.Split, Sensor: h.Sensor, N: h.N, T: k.T, H: k.H, W: k.W, Bin: k.Bin,
		Labels: h.Labels, NumClasses: len(h.ClassNames), ClassNames: h.ClassNames,
		Samples: h.Samples, Issues: h.Issues, counts: make([][]byte, h.N),
	}
	for _, l := range d.Labels {
		if l < 0 || l >= d.NumClasses {
			return nil, "corrupt header: label out of range"
		}
	}
	wide := make([]bool, h.N)
	for _, i := range h.Wide {
		if i < 0 || i >= h.N {
			return nil, "corrupt header: wide sample out of range"
		}
		wide[i] = true
	}
	payload := body[8+hlen:]
	n := d.SampleLen()
	for i := range d.counts {
		size := n
		if wide[i] {
			size = 2 * n
		}
		if len(payload) < size {
			return nil, "truncated payload"
		}
		d.counts[i], payload = payload[:size:size], payload[size:]
	}
	if len(payload) != 0 {
		return nil, "trailing payload"
	}
	return d, ""
}

// staleSource names the first source file that differs from the cache's record.
func (fc *frameCache) staleSource(cached []cacheSource) string {
	old := make(map[string]cacheSource, len(cached))
	for _, s := range cached {
		old[s.Path] = s
	}
	for _, s := range fc.sources {
		o, ok := old[s.Path]
		switch {
		case !ok:
			return fmt.Sprintf("%s is new", s.Path)
		case o != s:
			return fmt.Sprintf("%s changed (size %d -> %d, modified %d -> %d ns)", s.Path, o.Size, s.Size, o.MTime, s.MTime)
		}
		delete(old, s.Path)
	}
	for _, s := range cached {
		if _, gone := old[s.Path]; gone {
			return fmt.Sprintf("%s is gone", s.Path)
		}
	}
	return "the source files are listed in another order"
}

// store writes d to the first folder where that succeeds, logging a fallback, and
// records the outcome in d.Cache.
func (fc *frameCache) store(d *EventDataset, log *slog.Logger) {
	var notes []string
	if fc.note != "" {
		notes = append(notes, fc.note)
	}
	defer func() { d.Cache.Note = strings.Join(notes, "; ") }()
	name := fc.key.fileName()
	var firstErr error
	for i, dir := range fc.dirs {
		p := filepath.Join(dir, name)
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = onnx.WriteAtomic(p, func(w io.Writer) error { return fc.encode(w, d) })
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		d.Cache.Path = p
		if i > 0 {
			notes = append(notes, fmt.Sprintf("the data folder is not writable (%v); frames cached in %s", firstErr, p))
			log.Info("frame cache: the data folder is not writable, caching in the user cache folder instead",
				"path", p, "reason", firstErr)
		}
		return
	}
	notes = append(notes, fmt.Sprintf("frames not cached: %v", firstErr))
	log.Warn("frames not cached; the next run parses the events again", "error", firstErr)
}

// encode writes the cache file: magic, header length (uint64 LE), JSON header, counts of
// every sample in order, CRC-32C (uint32 LE) of everything after the magic.
func (fc *frameCache) encode(w io.Writer, d *EventDataset) error {
	h := cacheHeader{
		Version: frameCacheVersion, Kind: d.Kind, Split: d.Split.String(), T: d.T, Bin: d.Bin.String(),
		H: d.H, W: d.W, Sensor: d.Sensor, Sources: fc.sources, N: d.N, Labels: d.Labels,
		Samples: d.Samples, ClassNames: d.ClassNames, Issues: d.Issues, Wide: []int{},
	}
	for i, c := range d.counts {
		if len(c) != d.SampleLen() {
			h.Wide = append(h.Wide, i)
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	crc := crc32.New(castagnoli)
	if _, err := io.WriteString(w, frameCacheMagic); err != nil {
		return err
	}
	bw := io.MultiWriter(w, crc)
	var hlen [8]byte
	binary.LittleEndian.PutUint64(hlen[:], uint64(len(hb)))
	if _, err := io.Copy(bw, bytes.NewReader(append(hlen[:], hb...))); err != nil {
		return err
	}
	for _, c := range d.counts {
		if _, err := bw.Write(c); err != nil {
			return err
		}
	}
	return binary.Write(w, binary.LittleEndian, crc.Sum32())
}

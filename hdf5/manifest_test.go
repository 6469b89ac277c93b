package hdf5

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// A manifest describes a file as testdata/h5py_fixtures.py's describe()
// sees it through h5py: every object reachable from the root, in sorted
// order, a group linked twice being listed but entered once.
type manifest struct {
	Objects []manifestObject `json:"objects"`
}

type manifestObject struct {
	Path    string                   `json:"path"`
	Kind    string                   `json:"kind"` // group, dataset or soft
	Addr    uint64                   `json:"addr"`
	Target  string                   `json:"target"`
	Attrs   map[string]manifestArray `json:"attrs"`
	Storage *manifestStorage         `json:"storage"`
	manifestArray
}

type manifestArray struct {
	Dtype string `json:"dtype"`
	Shape []int  `json:"shape"`
	Data  []any  `json:"data"`
}

type manifestStorage struct {
	Layout  string `json:"layout"`
	Chunks  []int  `json:"chunks"`
	Deflate int    `json:"deflate"`
	Shuffle bool   `json:"shuffle"`
}

func parseManifest(b []byte) (*manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 64-bit integers and doubles stay exact
	var m manifest
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

func readManifest(path string) (*manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseManifest(b)
}

// listed is one object of a Go tree, listed the way describe() lists a file.
type listed struct {
	path   string
	kind   string
	obj    Object
	target string
}

func listTree(root *Group) []listed {
	out := []listed{{path: "/", kind: "group", obj: root}}
	seen := map[Object]bool{root: true}
	var visit func(g *Group, prefix string)
	visit = func(g *Group, prefix string) {
		for _, l := range sortedLinks(g.Links) {
			p := prefix + l.Name
			switch o := l.Object.(type) {
			case nil:
				out = append(out, listed{path: p, kind: "soft", target: l.Target})
			case *Group:
				out = append(out, listed{path: p, kind: "group", obj: o})
				if !seen[o] {
					seen[o] = true
					visit(o, p+"/")
				}
			case *Dataset:
				out = append(out, listed{path: p, kind: "dataset", obj: o})
			}
		}
	}
	visit(root, "/")
	return out
}

// diffManifest lists every difference between a Go tree and a manifest:
// paths, kinds, soft-link targets, which paths share an object, dtypes,
// shapes, values (exactly), attributes and, if storage, the layout.
func diffManifest(root *Group, m *manifest, storage bool) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	got := listTree(root)
	if len(got) != len(m.Objects) {
		var gp, mp []string
		for _, l := range got {
			gp = append(gp, l.path)
		}
		for _, o := range m.Objects {
			mp = append(mp, o.Path)
		}
		add("object lists differ:\n  go:   %s\n  file: %s", strings.Join(gp, " "), strings.Join(mp, " "))
		return diffs
	}
	firstByObj := map[Object]string{}
	firstByAddr := map[uint64]string{}
	for i, l := range got {
		o := m.Objects[i]
		if l.path != o.Path || l.kind != o.Kind {
			add("object %d: go has %s %s, file has %s %s", i, l.kind, l.path, o.Kind, o.Path)
			continue
		}
		if l.kind == "soft" {
			if l.target != o.Target {
				add("%s: soft link to %q, file has %q", l.path, l.target, o.Target)
			}
			continue
		}
		if _, ok := firstByObj[l.obj]; !ok {
			firstByObj[l.obj] = l.path
		}
		if _, ok := firstByAddr[o.Addr]; !ok {
			firstByAddr[o.Addr] = o.Path
		}
		if firstByObj[l.obj] != firstByAddr[o.Addr] {
			add("%s: go shares it with %s, the file with %s", l.path, firstByObj[l.obj], firstByAddr[o.Addr])
		}
		var attrs Attributes
		switch obj := l.obj.(type) {
		case *Group:
			attrs = obj.Attrs
		case *Dataset:
			attrs = obj.Attrs
			if err := diffArray(obj.Array, o.manifestArray); err != nil {
				add("%s: %v", l.path, err)
			}
			if storage {
				if err := diffStorage(obj, o.Storage); err != nil {
					add("%s: %v", l.path, err)
				}
			}
		}
		if len(attrs) != len(o.Attrs) {
			add("%s: %d attributes, file has %d", l.path, len(attrs), len(o.Attrs))
		}
		for _, a := range attrs {
			ma, ok := o.Attrs[a.Name]
			if !ok {
				add("%s: attribute %q missing from the file", l.path, a.Name)
				continue
			}
			if err := diffArray(a.Array, ma); err != nil {
				add("%s: attribute %q: %v", l.path, a.Name, err)
			}
		}
	}
	return diffs
}

func diffArray(a Array, m manifestArray) error {
	if a.Kind().String() != m.Dtype {
		return fmt.Errorf("dtype %s, file has %s", a.Kind(), m.Dtype)
	}
	if len(a.Shape) != len(m.Shape) || (len(a.Shape) > 0 && !reflect.DeepEqual(a.Shape, m.Shape)) {
		return fmt.Errorf("shape %v, file has %v", a.Shape, m.Shape)
	}
	got := canonical(a.Data)
	if len(got) != len(m.Data) {
		return fmt.Errorf("%d elements, file has %d", len(got), len(m.Data))
	}
	for i, v := range m.Data {
		want, err := canonicalJSON(v, a.Kind())
		if err != nil {
			return fmt.Errorf("element %d: %v", i, err)
		}
		if got[i] != want {
			return fmt.Errorf("element %d is %s, file has %s", i, got[i], want)
		}
	}
	return nil
}

func diffStorage(ds *Dataset, m *manifestStorage) error {
	if m == nil {
		return fmt.Errorf("no storage in the file's description")
	}
	s := ds.Storage
	chunks := s.Chunks
	if s.Layout == Chunked && chunks == nil {
		_, size := encodeDatatype(ds.Kind())
		chunks = autoChunks(ds.Shape, size)
	}
	if s.Layout.String() != m.Layout || s.Deflate != m.Deflate || s.Shuffle != m.Shuffle ||
		len(chunks) != len(m.Chunks) || (len(chunks) > 0 && !reflect.DeepEqual(chunks, m.Chunks)) {
		return fmt.Errorf("storage %+v (chunks %v), file has %+v", s, chunks, *m)
	}
	return nil
}

// canonical renders elements as comparable strings: floats as the shortest
// float64 form (exact for float32 too), integers in decimal.
func canonical(data any) []string {
	v := reflect.ValueOf(data)
	out := make([]string, v.Len())
	for i := range out {
		e := v.Index(i)
		switch e.Kind() {
		case reflect.Float32, reflect.Float64:
			out[i] = strconv.FormatFloat(e.Float(), 'g', -1, 64)
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out[i] = strconv.FormatInt(e.Int(), 10)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out[i] = strconv.FormatUint(e.Uint(), 10)
		case reflect.Bool:
			out[i] = strconv.FormatBool(e.Bool())
		default:
			out[i] = e.String()
		}
	}
	return out
}

func canonicalJSON(v any, k Kind) (string, error) {
	switch v := v.(type) {
	case json.Number:
		if k == Float32 || k == Float64 {
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil || math.IsInf(f, 0) {
				return "", fmt.Errorf("bad float %s", v)
			}
			return strconv.FormatFloat(f, 'g', -1, 64), nil
		}
		return string(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("unexpected JSON value %T", v)
}

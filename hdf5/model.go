package hdf5

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// An Object is what a hard link points to: a *Group or a *Dataset.
type Object interface {
	isObject()
}

// A Group maps link names to objects, like a folder.
type Group struct {
	// Links holds the group's members. Decode returns them sorted by name
	// (byte order, as HDF5 does); Encode accepts any order and sorts.
	Links []Link
	Attrs Attributes
}

// A Link is one named member of a group: a hard link to an object, or a soft
// link to a path.
type Link struct {
	Name   string
	Object Object // *Group or *Dataset; nil for a soft link
	Target string // soft link only: the path it names, e.g. "/node/weight"
}

// A Dataset is an n-dimensional array of one element type, with optional
// attributes.
type Dataset struct {
	Array
	Attrs   Attributes
	Storage Storage
}

func (*Group) isObject()   {}
func (*Dataset) isObject() {}

// An Array is a shaped, typed block of values: a dataset's contents or an
// attribute's value.
type Array struct {
	// Shape lists the dimension sizes, slowest-varying first. A nil or empty
	// Shape is a scalar: exactly one element.
	Shape []int
	// Data holds the elements in row-major (C) order, one of []float32,
	// []float64, []int8, []int16, []int32, []int64, []uint8, []uint16,
	// []uint32, []uint64, []bool or []string.
	Data any
}

// An Attribute is a small named value attached to a group or a dataset.
type Attribute struct {
	Name string
	Array
}

// Attributes is the attribute list of a group or a dataset. Decode returns it
// sorted by name; Encode writes it sorted by name.
type Attributes []Attribute

// Layout says how a dataset's elements are stored in the file.
type Layout uint8

const (
	Contiguous Layout = iota // one block of raw data (the default)
	Compact                  // inside the object header; for data under 64 KiB
	Chunked                  // fixed-shape chunks, optionally filtered (gzip, shuffle)
)

func (l Layout) String() string {
	switch l {
	case Contiguous:
		return "contiguous"
	case Compact:
		return "compact"
	case Chunked:
		return "chunked"
	}
	return fmt.Sprintf("Layout(%d)", uint8(l))
}

// Storage is how a dataset is laid out in the file. Decode reports what the
// file uses; Encode follows it.
type Storage struct {
	Layout Layout
	// Chunks is the chunk shape of a Chunked dataset. Encode picks one when
	// it is nil: the whole array if it fits in 1 MiB, else halves of it.
	Chunks []int
	// Deflate is the gzip (deflate) level, 1 to 9, of a Chunked dataset; 0
	// means no compression. h5py and NIR's nir.write use level 4.
	Deflate int
	// Shuffle applies the byte-shuffle filter before deflate (Chunked only);
	// h5py does so only when asked (shuffle=True).
	Shuffle bool
}

// Kind is the element type of an Array.
type Kind uint8

// The element kinds. Bool is stored as h5py stores numpy bools: an 8-bit
// enum with FALSE = 0 and TRUE = 1. String is a variable-length UTF-8 string
// (h5py.string_dtype()).
const (
	Invalid Kind = iota
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float32
	Float64
	Bool
	String
)

var kindNames = [...]string{"invalid", "int8", "int16", "int32", "int64", "uint8", "uint16",
	"uint32", "uint64", "float32", "float64", "bool", "string"}

// String returns numpy's name for the kind ("float32", "bool", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// kindOf returns the kind of a Data slice and its length.
func kindOf(data any) (Kind, int) {
	switch d := data.(type) {
	case []int8:
		return Int8, len(d)
	case []int16:
		return Int16, len(d)
	case []int32:
		return Int32, len(d)
	case []int64:
		return Int64, len(d)
	case []uint8:
		return Uint8, len(d)
	case []uint16:
		return Uint16, len(d)
	case []uint32:
		return Uint32, len(d)
	case []uint64:
		return Uint64, len(d)
	case []float32:
		return Float32, len(d)
	case []float64:
		return Float64, len(d)
	case []bool:
		return Bool, len(d)
	case []string:
		return String, len(d)
	}
	return Invalid, 0
}

// Scalar wraps one Go value (int8 … uint64, float32, float64, bool or
// string) as a scalar Array. A value of any other type is kept as it is,
// and Encode refuses it naming its type.
func Scalar(v any) Array {
	var data any
	switch v := v.(type) {
	case int8:
		data = []int8{v}
	case int16:
		data = []int16{v}
	case int32:
		data = []int32{v}
	case int64:
		data = []int64{v}
	case uint8:
		data = []uint8{v}
	case uint16:
		data = []uint16{v}
	case uint32:
		data = []uint32{v}
	case uint64:
		data = []uint64{v}
	case float32:
		data = []float32{v}
	case float64:
		data = []float64{v}
	case bool:
		data = []bool{v}
	case string:
		data = []string{v}
	default:
		data = v
	}
	return Array{Data: data}
}

// NewDataset returns a contiguous dataset of the given shape (nil for a
// scalar) and row-major data.
func NewDataset(shape []int, data any) *Dataset {
	return &Dataset{Array: Array{Shape: shape, Data: data}}
}

// ScalarDataset returns a scalar dataset holding v (see Scalar).
func ScalarDataset(v any) *Dataset {
	return &Dataset{Array: Scalar(v)}
}

// Kind returns the element kind of a's Data, or Invalid.
func (a Array) Kind() Kind {
	k, _ := kindOf(a.Data)
	return k
}

// Len returns the number of elements in Data.
func (a Array) Len() int {
	_, n := kindOf(a.Data)
	return n
}

// check reports whether Data has a supported type and as many elements as
// Shape says.
func (a Array) check() error {
	k, n := kindOf(a.Data)
	if k == Invalid {
		return fmt.Errorf("unsupported data type %T", a.Data)
	}
	want, ok := elemCount(a.Shape)
	if !ok {
		return fmt.Errorf("invalid shape %v", a.Shape)
	}
	if uint64(n) != want {
		return fmt.Errorf("shape %v needs %d elements, data has %d", a.Shape, want, n)
	}
	return nil
}

// elemCount is the product of the dimensions, and false on a negative
// dimension or overflow beyond 2^62.
func elemCount(shape []int) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > (1<<62)/uint64(d) {
			return 0, false
		}
		n *= uint64(d)
	}
	return n, true
}

// Float64s returns the elements converted to float64, for any numeric or
// bool kind (true is 1). Integers beyond 2^53 lose precision.
func (a Array) Float64s() ([]float64, error) {
	switch d := a.Data.(type) {
	case []float64:
		return slices.Clone(d), nil
	case []float32:
		return convert(d, func(v float32) float64 { return float64(v) }), nil
	case []bool:
		return convert(d, func(v bool) float64 { return float64(boolInt(v)) }), nil
	}
	if v, err := a.Int64s(); err == nil {
		return convert(v, func(x int64) float64 { return float64(x) }), nil
	}
	if d, ok := a.Data.([]uint64); ok {
		return convert(d, func(v uint64) float64 { return float64(v) }), nil
	}
	return nil, fmt.Errorf("hdf5: %s data is not numeric", a.Kind())
}

// Int64s returns the elements converted to int64, for any integer or bool
// kind, and for floats that hold integers exactly. A uint64 above MaxInt64
// or a fractional float is an error.
func (a Array) Int64s() ([]int64, error) {
	switch d := a.Data.(type) {
	case []int8:
		return convert(d, func(v int8) int64 { return int64(v) }), nil
	case []int16:
		return convert(d, func(v int16) int64 { return int64(v) }), nil
	case []int32:
		return convert(d, func(v int32) int64 { return int64(v) }), nil
	case []int64:
		return slices.Clone(d), nil
	case []uint8:
		return convert(d, func(v uint8) int64 { return int64(v) }), nil
	case []uint16:
		return convert(d, func(v uint16) int64 { return int64(v) }), nil
	case []uint32:
		return convert(d, func(v uint32) int64 { return int64(v) }), nil
	case []bool:
		return convert(d, boolInt), nil
	case []uint64:
		out := make([]int64, len(d))
		for i, v := range d {
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("hdf5: uint64 element %d (%d) overflows int64", i, v)
			}
			out[i] = int64(v)
		}
		return out, nil
	case []float32:
		return floatsToInts(convert(d, func(v float32) float64 { return float64(v) }))
	case []float64:
		return floatsToInts(d)
	}
	return nil, fmt.Errorf("hdf5: %s data is not numeric", a.Kind())
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

func floatsToInts(d []float64) ([]int64, error) {
	out := make([]int64, len(d))
	for i, v := range d {
		if v != math.Trunc(v) || v < -(1<<63) || v >= 1<<63 {
			return nil, fmt.Errorf("hdf5: float element %d (%v) is not an int64", i, v)
		}
		out[i] = int64(v)
	}
	return out, nil
}

func convert[S, T any](in []S, f func(S) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// Strings returns the elements of a String array.
func (a Array) Strings() ([]string, error) {
	d, ok := a.Data.([]string)
	if !ok {
		return nil, fmt.Errorf("hdf5: %s data is not a string", a.Kind())
	}
	return d, nil
}

// StringValue returns the value of a one-element String array, such as NIR's
// "type" and "version" datasets.
func (a Array) StringValue() (string, error) {
	d, err := a.Strings()
	if err != nil {
		return "", err
	}
	if len(d) != 1 {
		return "", fmt.Errorf("hdf5: %d strings of shape %v, want one", len(d), a.Shape)
	}
	return d[0], nil
}

// Get returns the value of the attribute called name.
func (as Attributes) Get(name string) (Array, bool) {
	for _, a := range as {
		if a.Name == name {
			return a.Array, true
		}
	}
	return Array{}, false
}

// Set adds the attribute name, or replaces its value.
func (as *Attributes) Set(name string, v Array) {
	for i := range *as {
		if (*as)[i].Name == name {
			(*as)[i].Array = v
			return
		}
	}
	*as = append(*as, Attribute{Name: name, Array: v})
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{} }

// Link returns the member called name (no path walking).
func (g *Group) Link(name string) (Link, bool) {
	for _, l := range g.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// Set adds a hard link name → o, replacing any member of that name.
func (g *Group) Set(name string, o Object) { g.setLink(Link{Name: name, Object: o}) }

// SetSoftLink adds a soft link name → target path, replacing any member of
// that name.
func (g *Group) SetSoftLink(name, target string) { g.setLink(Link{Name: name, Target: target}) }

func (g *Group) setLink(l Link) {
	for i := range g.Links {
		if g.Links[i].Name == l.Name {
			g.Links[i] = l
			return
		}
	}
	g.Links = append(g.Links, l)
}

// CreateGroup adds a new empty group called name (replacing any member of
// that name) and returns it.
func (g *Group) CreateGroup(name string) *Group {
	sub := NewGroup()
	g.Set(name, sub)
	return sub
}

// Names returns the member names in sorted order.
func (g *Group) Names() []string {
	names := make([]string, len(g.Links))
	for i, l := range g.Links {
		names[i] = l.Name
	}
	sort.Strings(names)
	return names
}

// Get follows a slash-separated path of hard links ("nodes/lif1/tau") from g
// and returns the object there, or nil. Empty components are skipped, so a
// leading slash is allowed; soft links are not followed.
func (g *Group) Get(path string) Object {
	var cur Object = g
	for _, name := range strings.Split(path, "/") {
		if name == "" {
			continue
		}
		grp, ok := cur.(*Group)
		if !ok {
			return nil
		}
		l, ok := grp.Link(name)
		if !ok || l.Object == nil {
			return nil
		}
		cur = l.Object
	}
	return cur
}

// Group returns the group at path (see Get), or an error naming the path.
func (g *Group) Group(path string) (*Group, error) {
	switch o := g.Get(path).(type) {
	case *Group:
		return o, nil
	case nil:
		return nil, fmt.Errorf("hdf5: no group %q", path)
	default:
		return nil, fmt.Errorf("hdf5: %q is a dataset, not a group", path)
	}
}

// Dataset returns the dataset at path (see Get), or an error naming the path.
func (g *Group) Dataset(path string) (*Dataset, error) {
	switch o := g.Get(path).(type) {
	case *Dataset:
		return o, nil
	case nil:
		return nil, fmt.Errorf("hdf5: no dataset %q", path)
	default:
		return nil, fmt.Errorf("hdf5: %q is a group, not a dataset", path)
	}
}

// Walk calls fn for every object reachable from g through hard links, in
// depth-first order with members sorted by name, passing its path relative
// to g ("" for g itself). An object linked twice is visited twice. If fn
// returns an error Walk stops and returns it. Walk does not guard against
// cycles; Decode and Encode refuse them.
func (g *Group) Walk(fn func(path string, o Object) error) error {
	return walk("", g, fn)
}

func walk(path string, o Object, fn func(string, Object) error) error {
	if err := fn(path, o); err != nil {
		return err
	}
	g, ok := o.(*Group)
	if !ok {
		return nil
	}
	links := slices.Clone(g.Links)
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
	for _, l := range links {
		if l.Object == nil {
			continue
		}
		if err := walk(joinPath(path, l.Name), l.Object, fn); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(parent, name string) string {
	if parent == "" || parent == "/" {
		return parent + name
	}
	return parent + "/" + name
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bsnnctl/bsnnctl/bsnn"
	"github.com/bsnnctl/bsnnctl/internal/npy"
	"github.com/bsnnctl/bsnnctl/onnx"
	"github.com/bsnnctl/bsnnctl/ops"
)

// RunCmd is `bsnnctl run MODEL.onnx --input NAME=FILE ... [-o OUTDIR]
// [--json] [--batch N] [--engine packed|float] [--explain]`.
type RunCmd struct {
	Model   string   `arg:"" name:"model.onnx" help:"ONNX model file (float ANN or BSNN)."`
	Inputs  []string `name:"input" short:"i" sep:"none" placeholder:"NAME=FILE" help:"A graph input: NAME=FILE with FILE a .npy or ONNX TensorProto .pb; repeat for each input. FILE alone is accepted when the graph has one input (or the .pb tensor's name is a graph input)."`
	Out     string   `short:"o" name:"out" default:"." placeholder:"OUTDIR" help:"Folder for the outputs, one OUTDIR/<output name>.npy each (created if missing; names are made file-safe)."`
	JSON    bool     `name:"json" help:"Print the outputs as JSON (with the packed engine's plan)."`
	Batch   int      `placeholder:"N" help:"Run the inputs in chunks of N samples along the batch axis (axis 0; axis 1 of an event input [T, N, ...]) and concatenate the outputs (0: all at once)."`
	Engine  string   `placeholder:"packed|float" help:"packed: binary layers on bit-packed spikes (AND-popcount), the rest on float kernels; float: everything in float32. Default: packed when the model has binary layers and the packed engine runs it, else float."`
	Explain bool     `help:"Also print the packed engine's plan: which layers run packed, which on float kernels, and why."`
}

// Validate rejects flag values that cannot work (a usage error, exit 80).
func (c *RunCmd) Validate() error {
	if c.Batch < 0 {
		return fmt.Errorf("--batch must be positive, got %d", c.Batch)
	}
	return checkEngine(c.Engine)
}

// runInput is a graph input with the tensor given for it.
type runInput struct {
	info  *onnx.ValueInfo
	file  string
	data  []float32
	shape []int
	// axis holds the samples: 0, or 1 for the time-major input [T, N, ...]
	// of an event-input BSNN (bsnn.input_encoding "events").
	axis int
}

// runOutput is one graph output after the run.
type runOutput struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	File  string    `json:"file"`
	Min   jsonFloat `json:"min"`
	Max   jsonFloat `json:"max"`
	Mean  jsonFloat `json:"mean"`
	data  []float32
}

// Run executes the model and writes its outputs.
func (c *RunCmd) Run(ctx context.Context, g *Globals) error {
	m, err := onnx.DecodeFile(c.Model)
	if err != nil {
		return fileErr(c.Model, err)
	}
	graph, err := m.Graph()
	if err != nil {
		return fileErr(c.Model, err)
	}
	ex, err := c.executor(g, m)
	if err != nil {
		return err
	}
	defer ex.close()
	inputs, err := c.readInputs(graph)
	if err != nil {
		return err
	}
	enc, err := bsnn.InputEncodingOf(m)
	if err != nil {
		return fileErr(c.Model, err)
	}
	for _, in := range inputs {
		if in.info == graph.Inputs[0] {
			in.axis = enc.BatchAxis()
		}
	}

	// Chunks along the batch axis: [lo, hi) sample ranges, all of one size
	// except possibly the last.
	total := 0
	chunks := [][2]int{{0, 0}}
	if c.Batch > 0 {
		if total, err = commonBatch(inputs); err != nil {
			return err
		}
		chunks = chunks[:0]
		for lo := 0; lo < total; lo += c.Batch {
			chunks = append(chunks, [2]int{lo, min(lo+c.Batch, total)})
		}
		if len(chunks) == 0 {
			return fmt.Errorf("--batch %d: the inputs hold no samples", c.Batch)
		}
	}

	outs := make([]*runOutput, len(graph.Outputs))
	for i, o := range graph.Outputs {
		outs[i] = &runOutput{Name: o.Name}
	}
	for _, ch := range chunks {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		n := ch[1] - ch[0]
		start := time.Now()
		res, err := ex.run(inputs, ch)
		if err != nil {
			return err
		}
		if c.Batch > 0 {
			g.Log.Debug("ran", "model", c.Model, "engine", ex.name(), "samples", fmt.Sprintf("%d-%d", ch[0], ch[1]-1), "took", time.Since(start))
		} else {
			g.Log.Debug("ran", "model", c.Model, "engine", ex.name(), "took", time.Since(start))
		}
		for i, o := range outs {
			t := res[i]
			shape := t.Shape()
			if c.Batch > 0 {
				if len(shape) == 0 || shape[0] != n {
					return fmt.Errorf("%s: output %q has shape %s, whose axis 0 is not the batch (%d samples): run without --batch",
						c.Model, o.Name, shapeString(shape), n)
				}
				if o.Shape == nil {
					o.Shape = append([]int{0}, shape[1:]...)
				}
				o.Shape[0] += n
			} else {
				o.Shape = shape
			}
			o.data = append(o.data, t.Floats()...)
		}
	}

	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.Name
	}
	files := outputFileNames(names)
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return fileErr(c.Out, err)
	}
	for i, o := range outs {
		o.File = filepath.Join(c.Out, files[i])
		dims := make([]int64, len(o.Shape))
		for j, d := range o.Shape {
			dims[j] = int64(d)
		}
		t := &onnx.Tensor{Name: o.Name, Type: onnx.Float, Dims: dims, Float32: o.data}
		if err := npy.WriteFile(o.File, t); err != nil {
			return fileErr(o.File, err)
		}
		o.Min, o.Max, o.Mean = stats(o.data)
		g.Log.Debug("wrote", "output", o.Name, "file", o.File)
	}

	plan := ex.plan()
	if c.JSON {
		res := map[string]any{"outputs": outs, "engine": ex.name()}
		if plan != nil {
			res["plan"] = plan
		}
		return g.PrintJSON(res)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "output\tshape\tmin\tmax\tmean\tfirst values\tfile")
	for _, o := range outs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Name, shapeString(o.Shape),
			o.Min, o.Max, o.Mean, firstValues(o.data, 5), o.File)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c.Explain {
		fmt.Fprintln(g.Stdout)
		if plan == nil {
			_, err := fmt.Fprintln(g.Stdout, "float engine: every node runs on float32 kernels (no packed plan)")
			return err
		}
		return writePlan(g.Stdout, plan)
	}
	return nil
}

// readInputs matches the --input flags to the graph inputs and reads the
// tensors.
func (c *RunCmd) readInputs(graph *onnx.Graph) ([]*runInput, error) {
	byName := map[string]*onnx.ValueInfo{}
	var names []string
	for _, in := range graph.Inputs {
		byName[in.Name] = in
		names = append(names, in.Name)
	}
	given := map[string]*runInput{}
	for _, spec := range c.Inputs {
		var info *onnx.ValueInfo
		file := spec
		if name, f, ok := strings.Cut(spec, "="); ok && byName[name] != nil {
			info, file = byName[name], f
		} else if ok && !fileExists(spec) {
			return nil, fmt.Errorf("--input %s: the model has no graph input %q (its inputs: %s)", spec, name, strings.Join(quoteAll(names), ", "))
		}
		t, err := readTensorFile(file)
		if err != nil {
			return nil, err
		}
		if info == nil {
			// FILE alone: the only graph input, or the one a .pb names.
			switch {
			case t.Name != "" && byName[t.Name] != nil:
				info = byName[t.Name]
			case len(graph.Inputs) == 1:
				info = graph.Inputs[0]
			default:
				return nil, fmt.Errorf("--input %s: the model has %d graph inputs (%s): write NAME=FILE", spec, len(names), strings.Join(quoteAll(names), ", "))
			}
		}
		if prev := given[info.Name]; prev != nil {
			return nil, fmt.Errorf("graph input %q is given twice (%s and %s)", info.Name, prev.file, file)
		}
		what := fmt.Sprintf("input %q", info.Name)
		if info.Type != onnx.Float {
			return nil, fmt.Errorf("%s is %s in the model; the engine runs float inputs only", what, info.Type)
		}
		data, err := floatData(t, what, file)
		if err != nil {
			return nil, err
		}
		given[info.Name] = &runInput{info: info, file: file, data: data, shape: t.Shape()}
	}
	var out []*runInput
	var missing []string
	for _, in := range graph.Inputs {
		if ri := given[in.Name]; ri != nil {
			out = append(out, ri)
		} else {
			missing = append(missing, in.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: graph inputs not given: %s (use --input NAME=FILE)", c.Model, strings.Join(quoteAll(missing), ", "))
	}
	return out, nil
}

// compile checks the shapes of one chunk against the model's declared input
// shapes and builds an inference program for them.
func (c *RunCmd) compile(g *Globals, m *onnx.Model, inputs []*runInput, ch [2]int) (*ops.Program, error) {
	shapes := map[string][]int{}
	for _, in := range inputs {
		_, shape := slice(in, ch, c.Batch > 0)
		if err := checkShape(in, shape, c.Batch > 0); err != nil {
			return nil, err
		}
		shapes[in.info.Name] = shape
	}
	start := time.Now()
	b, err := ops.NewBuilder(m, ops.Options{InputShapes: shapes})
	if err != nil {
		return nil, fileErr(c.Model, err)
	}
	p, err := b.Compile(nil)
	if err != nil {
		return nil, fileErr(c.Model, err)
	}
	g.Log.Debug("compiled", "model", c.Model, "inputs", shapes, "params", len(b.Params), "took", time.Since(start))
	return p, nil
}

// checkShape compares the shape fed to an input with the model's declared
// shape (symbolic dims match anything).
func checkShape(in *runInput, shape []int, chunked bool) error {
	if !in.info.HasShape {
		return nil
	}
	decl := in.info.Shape
	bad := len(decl) != len(shape)
	for i := 0; !bad && i < len(decl); i++ {
		bad = decl[i].Known() && int(decl[i].Value) != shape[i]
	}
	if !bad {
		return nil
	}
	what := "shape " + shapeString(shape) + " from " + in.file
	if chunked {
		what = "shape " + shapeString(shape) + " (a --batch chunk of " + in.file + ")"
	}
	msg := fmt.Sprintf("input %q: %s does not match the model's %s", in.info.Name, what, decl)
	// Only the batch differs from a fixed one: --batch can split it.
	if a := in.axis; !chunked && len(decl) == len(shape) && len(shape) > a && decl[a].Known() && decl[a].Value > 0 &&
		shape[a]%int(decl[a].Value) == 0 {
		same := true
		for i := range decl {
			same = same && (i == a || !decl[i].Known() || int(decl[i].Value) == shape[i])
		}
		if same {
			msg += fmt.Sprintf(" (--batch %d runs it in chunks)", decl[a].Value)
		}
	}
	return errors.New(msg)
}

// commonBatch returns the number of samples all inputs share (for
// --batch).
func commonBatch(inputs []*runInput) (int, error) {
	n := -1
	for _, in := range inputs {
		if len(in.shape) <= in.axis {
			return 0, fmt.Errorf("--batch: input %q (%s) has shape %v, it has no axis %d to split", in.info.Name, in.file, in.shape, in.axis)
		}
		if b := in.shape[in.axis]; n >= 0 && b != n {
			return 0, fmt.Errorf("--batch: inputs hold different numbers of samples (%q has %d, others %d)", in.info.Name, b, n)
		}
		n = in.shape[in.axis]
	}
	if n < 0 {
		return 0, fmt.Errorf("--batch: the model has no graph inputs to split")
	}
	return n, nil
}

// slice returns the data and shape of samples [ch[0], ch[1]) of an input
// (along its batch axis), or all of it when not chunked.
func slice(in *runInput, ch [2]int, chunked bool) ([]float32, []int) {
	if !chunked {
		return in.data, in.shape
	}
	a := in.axis
	outer, per := 1, 1
	for _, d := range in.shape[:a] {
		outer *= d
	}
	for _, d := range in.shape[a+1:] {
		per *= d
	}
	n := ch[1] - ch[0]
	shape := append([]int{}, in.shape...)
	shape[a] = n
	if outer == 1 {
		return in.data[ch[0]*per : ch[1]*per], shape
	}
	// [T, N, ...]: the chunk's rows of every time step.
	out := make([]float32, 0, outer*n*per)
	for o := range outer {
		row := in.data[o*in.shape[a]*per:]
		out = append(out, row[ch[0]*per:ch[1]*per]...)
	}
	return out, shape
}

// outputFileNames turns graph output names into file names OUTDIR/<name>.npy
// that stay inside OUTDIR: every byte other than ASCII letters, digits, '.',
// '-' and '_' becomes '_' (so "/fc3/Gemm_output_0" is
// "_fc3_Gemm_output_0.npy"), a leading '.' becomes '_' (no hidden files, no
// "."/".."), an empty name is "output", names are cut to 200 bytes, and
// names that then collide (also when they differ only in case) get "_2",
// "_3", ... in output order.
func outputFileNames(names []string) []string {
	out := make([]string, len(names))
	used := map[string]bool{}
	for i, name := range names {
		b := []byte(name)
		for j, ch := range b {
			ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '-' || ch == '_'
			if !ok || (j == 0 && ch == '.') {
				b[j] = '_'
			}
		}
		if len(b) > 200 {
			b = b[:200]
		}
		base := string(b)
		if base == "" {
			base = "output"
		}
		f := base
		for k := 2; used[strings.ToLower(f)]; k++ {
			f = base + "_" + strconv.Itoa(k)
		}
		used[strings.ToLower(f)] = true
		out[i] = f + ".npy"
	}
	return out
}

// jsonFloat is a statistic in JSON: null when not finite (NaN, ±Inf, or no
// values), since JSON has no such numbers.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func (f jsonFloat) String() string { return strconv.FormatFloat(float64(f), 'g', 6, 64) }

// stats returns min, max and mean (NaN for no values; NaN values make all
// three NaN).
func stats(d []float32) (lo, hi, mean jsonFloat) {
	if len(d) == 0 {
		nan := jsonFloat(math.NaN())
		return nan, nan, nan
	}
	l, h, s := math.Inf(1), math.Inf(-1), 0.0
	for _, v := range d {
		x := float64(v)
		if math.IsNaN(x) {
			nan := jsonFloat(math.NaN())
			return nan, nan, nan
		}
		l, h, s = math.Min(l, x), math.Max(h, x), s+x
	}
	return jsonFloat(l), jsonFloat(h), jsonFloat(s / float64(len(d)))
}

// firstValues prints up to n leading values.
func firstValues(d []float32, n int) string {
	parts := make([]string, 0, n+1)
	for i, v := range d {
		if i == n {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, strconv.FormatFloat(float64(v), 'g', 5, 32))
	}
	return strings.Join(parts, " ")
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

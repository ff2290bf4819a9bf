package models

import (
	"fmt"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"mmsearch/encoders"
)

// tensorInfo is one graph input or output as the importer sees it.
type tensorInfo struct {
	Name  string
	DType string  // "float32", "int64", "int32" or another type's name
	Dims  []int64 // -1 (or 0) for a dynamic axis; nil when unknown
}

// graphInfo lists a graph's inputs and outputs.
type graphInfo struct {
	Inputs, Outputs []tensorInfo
}

// readGraph reads an ONNX file's inputs and outputs. ONNX Runtime must be started.
func readGraph(path string) (graphInfo, error) {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return graphInfo{}, fmt.Errorf("read graph %s: %w", path, err)
	}
	conv := func(list []ort.InputOutputInfo) []tensorInfo {
		out := make([]tensorInfo, len(list))
		for i, x := range list {
			out[i] = tensorInfo{Name: x.Name, DType: dtypeName(x.DataType), Dims: append([]int64(nil), x.Dimensions...)}
		}
		return out
	}
	return graphInfo{Inputs: conv(ins), Outputs: conv(outs)}, nil
}

func dtypeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	}
	return t.String()
}

func (t tensorInfo) String() string {
	dims := make([]string, len(t.Dims))
	for i, d := range t.Dims {
		if d <= 0 {
			dims[i] = "?"
		} else {
			dims[i] = fmt.Sprint(d)
		}
	}
	return fmt.Sprintf("%s %s[%s]", t.Name, t.DType, strings.Join(dims, ","))
}

func describe(list []tensorInfo) string {
	s := make([]string, len(list))
	for i, t := range list {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

// static returns a fixed axis length, or 0 when the axis is dynamic or unknown.
func (t tensorInfo) static(axis int) int64 {
	if axis < len(t.Dims) && t.Dims[axis] > 0 {
		return t.Dims[axis]
	}
	return 0
}

// Output names the importer accepts, in order of preference.
var (
	imageOutputNames = []string{"image_embeds", "image_features", "image_embedding", "embedding", "embeddings"}
	textOutputNames  = []string{"text_embeds", "text_features", "text_embedding", "embedding", "embeddings"}
	textIDNames      = []string{"input_ids", "text", "tokens", "ids", "input"}
	hiddenStateName  = "last_hidden_state"
)

func byName(list []tensorInfo, name string) *tensorInfo {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// pickOutput chooses an [N, D] float output: the first preferred name, else
// the only float output of rank 2.
func pickOutput(outs []tensorInfo, preferred []string) *tensorInfo {
	for _, n := range preferred {
		if t := byName(outs, n); t != nil && t.DType == "float32" && (t.Dims == nil || len(t.Dims) == 2) {
			return t
		}
	}
	var only *tensorInfo
	for i := range outs {
		if outs[i].DType == "float32" && len(outs[i].Dims) == 2 {
			if only != nil {
				return nil
			}
			only = &outs[i]
		}
	}
	return only
}

// imageTowerIO is what the importer learned from an image graph.
type imageTowerIO struct {
	input, output tensorInfo
	size          int // static input side, 0 when dynamic
	dim           int // static output width, 0 when dynamic
}

// inspectImageGraph checks that a graph takes one float32 [N,3,S,S] input and
// gives an [N,D] float32 embedding.
func inspectImageGraph(g graphInfo, warn func(string, ...any)) (imageTowerIO, error) {
	var io imageTowerIO
	if len(g.Inputs) != 1 {
		return io, fmt.Errorf("image graph has inputs %s; want one pixel tensor [N,3,S,S]", describe(g.Inputs))
	}
	in := g.Inputs[0]
	if in.DType != "float32" {
		return io, fmt.Errorf("image graph input %s: want float32 pixels", in)
	}
	if in.Dims != nil && (len(in.Dims) != 4 || (in.static(1) != 0 && in.static(1) != 3)) {
		return io, fmt.Errorf("image graph input %s: want [N,3,S,S]", in)
	}
	if h, w := in.static(2), in.static(3); h != 0 || w != 0 {
		if h != w {
			return io, fmt.Errorf("image graph input %s is not square", in)
		}
		io.size = int(h)
	}
	if in.static(0) == 1 {
		warn("the image graph takes one image per inference (static batch 1); run the encoders with a batch size of 1")
	}
	out := pickOutput(g.Outputs, imageOutputNames)
	if out == nil {
		return io, fmt.Errorf("image graph outputs %s: none is an [N,D] embedding named %s", describe(g.Outputs), strings.Join(imageOutputNames, ", "))
	}
	io.input, io.output, io.dim = in, *out, int(out.static(1))
	return io, nil
}

// textTowerIO is what the importer learned from a text graph.
type textTowerIO struct {
	ids     tensorInfo
	mask    *tensorInfo
	output  tensorInfo
	pooling string
	context int // static sequence length, 0 when dynamic
	dim     int // static output width, 0 when dynamic
}

// inspectTextGraph finds the token-id input, the optional attention mask and
// the embedding output: a projected [N,D] output, else last_hidden_state
// [N,L,D] pooled at the end token.
func inspectTextGraph(g graphInfo, warn func(string, ...any)) (textTowerIO, error) {
	var io textTowerIO
	for i := range g.Inputs {
		in := g.Inputs[i]
		switch {
		case in.Name == "attention_mask":
			io.mask = &g.Inputs[i]
		case contains(textIDNames, in.Name) && io.ids.Name == "":
			io.ids = in
		default:
			return io, fmt.Errorf("text graph input %s is not supported: mmsearch feeds token ids (%s) and optionally attention_mask (graph inputs: %s)", in, strings.Join(textIDNames, ", "), describe(g.Inputs))
		}
	}
	if io.ids.Name == "" {
		return io, fmt.Errorf("text graph has no token-id input named %s (inputs: %s)", strings.Join(textIDNames, ", "), describe(g.Inputs))
	}
	if io.ids.DType != "int64" && io.ids.DType != "int32" {
		return io, fmt.Errorf("text graph input %s: want int64 or int32 ids", io.ids)
	}
	if io.ids.Dims != nil && len(io.ids.Dims) != 2 {
		return io, fmt.Errorf("text graph input %s: want [N,L]", io.ids)
	}
	if io.mask != nil && io.mask.DType != io.ids.DType {
		return io, fmt.Errorf("text graph attention_mask is %s but the ids are %s; mmsearch gives both the same type", io.mask.DType, io.ids.DType)
	}
	io.context = int(io.ids.static(1))
	if io.ids.static(0) == 1 {
		warn("the text graph takes one text per inference (static batch 1); run the encoders with a batch size of 1")
	}
	if out := pickOutput(g.Outputs, textOutputNames); out != nil {
		io.output, io.pooling, io.dim = *out, encoders.PoolingProjected, int(out.static(1))
		return io, nil
	}
	if hs := byName(g.Outputs, hiddenStateName); hs != nil && hs.DType == "float32" && (hs.Dims == nil || len(hs.Dims) == 3) {
		warn("the text graph has no projected output; using %s pooled at the end token (argmax_eot). This is right only when the graph projects every position into the joint embedding space", hiddenStateName)
		io.output, io.pooling, io.dim = *hs, encoders.PoolingArgmaxEOT, int(hs.static(2))
		return io, nil
	}
	return io, fmt.Errorf("text graph outputs %s: none is an [N,D] embedding named %s, nor %s [N,L,D]", describe(g.Outputs), strings.Join(textOutputNames, ", "), hiddenStateName)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
